'abc' as int
