def a
def x = a ?: 'd'
def y = a?.foo?.bar
def z = null
z ?= 5
def w = 3
w ?= 7
def l = [[a: 1], [a: 2]]
[x, y, z, w, l*.a, l?.getAt(0)?.a, null?.size(), [1, null]*.toString(), 'a' + null, null + 'a', [1] + null]
