['banana'.count('a'), 'banana'.count('an'), 'aaaa'.count('aa'), 'abc'.drop(1), 'abc'.drop(5), 'abc'.take(0), 'abc'.takeRight(2), 'abc'.dropRight(1)]
