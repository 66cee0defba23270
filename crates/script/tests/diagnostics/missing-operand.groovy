def x = = 1
