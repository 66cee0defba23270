def l = ['a', 'b', 'c', 'd']
def r1 = l.remove(0)
def r2 = l.remove('c')
def r3 = l.removeAt(0)
[r1, r2, r3, l]
