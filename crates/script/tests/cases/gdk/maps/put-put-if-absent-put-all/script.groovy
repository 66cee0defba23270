def m = [a: 1]
def p = m.put('a', 5)
def q = m.put('b', 6)
def r = m.putIfAbsent('a', 9)
m.putAll([c: 7])
def x = m.remove('c')
def y = m.remove('zz')
[p, q, r, x, y, m]
