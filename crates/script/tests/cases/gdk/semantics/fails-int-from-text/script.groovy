int i = 'abc'
