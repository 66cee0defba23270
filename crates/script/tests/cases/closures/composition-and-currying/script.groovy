def plus2 = { it + 2 }
def times3 = { it * 3 }
def f = plus2 >> times3
def g = plus2 << times3
def add3 = { a, b, c -> "$a$b$c".toString() }
def chained = plus2 >> times3 >> { "<$it>".toString() }
def prefixed = add3.curry('x')
[f(1), g(1), chained(0), prefixed('y', 'z'), add3.rcurry('z')('x', 'y'), add3.ncurry(1, 'M')('a', 'c'),
 add3.curry('p', 'q').call('r'), add3.ncurry(0, 'first')('m', 'n'), add3.rcurry('b', 'c')('a'),
 prefixed.curry('y')('w'), [1, 2, 3].collect(plus2 >> times3)]
