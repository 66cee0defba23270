['Abc'.equalsIgnoreCase('aBC'), 'a'.compareTo('b'), 'B'.compareToIgnoreCase('a'), 'abc' <=> 'abd', 'a' < 'b', 'Z' < 'a', '10' < '9', 'abc'.matches(/a.c/), 'abc'.matches(/b/), 'abc' ==~ /a.*/]
