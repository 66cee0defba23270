def a = 2 ** 3 ** 2
def b = -2 ** 2
def c = (-2) ** 2
def d = 2 ** 3 * 2
def e = -3 ** 3
def x = 3
def f = -x ** 2
def g = 2 ** -1
def h = 10 ** 2 ** 0
return [a, b, c, d, e, f, g, h, 2 ** 10 ** 1]
