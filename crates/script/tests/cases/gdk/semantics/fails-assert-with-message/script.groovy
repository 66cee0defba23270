assert 1 == 2 : 'custom message'
