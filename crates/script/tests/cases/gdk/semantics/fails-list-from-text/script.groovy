List l = 'abc'
