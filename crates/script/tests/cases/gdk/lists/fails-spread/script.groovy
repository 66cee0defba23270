def add(a, b, c) { a + b + c }
def l = [1, 2, 3]
[add(*l), [0, *l, 4], [*l, *[5]], l.spread()]
