[1, 2].remove(5)
