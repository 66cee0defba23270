def l = [1, 2, 3]
def p = l.pop()
l.push(9)
def q = [1, 2, 3].removeLast()
def f = [1, 2].removeFirst()
[p, l, q, f]
