[1, 'a'].sort()
