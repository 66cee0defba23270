['a,b,c,d'.split(',', 2), 'a,b,,'.split(','), 'a,b,,'.split(',', -1), 'a1b22c'.split(/\d+/, 0), 'x'.split(',', 5),
 ' a  b '.split(/\s+/), ''.split(','), 'a.b.c'.split('\\.', 2), 'k=v=w'.split('=', 2), 'abc'.split(''), ',a'.split(','),
 'a|b|c'.split('\\|', 10), 'one two'.split()].collect { it as List }
