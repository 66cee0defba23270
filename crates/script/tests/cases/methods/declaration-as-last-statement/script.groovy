def make() { def x = 5 }
def typed() { String s = "typed" }
def c = { int y = 7 }
def d = { a -> def r = a * 2 }
def e = { def (p, q) = [1, 2] }
def items = [1, 2].collect { def z = it + 10 }
return [make(), typed(), c(), d(4), items]
