def a = b = 3
def (p, q) = [1, 2]
def (r, t) = 'x y'.split()
def (u, v, w) = [1, 2]
[a, b, p, q, r, t, u, v, w]
