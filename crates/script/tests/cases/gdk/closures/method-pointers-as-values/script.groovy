def up = String.&toUpperCase
def inc = { it + 1 }
def twice = { f, x -> f(f(x)) }
def m = [1, 2].&contains
[up('a'), twice(inc, 1), ['a', 'b'].collect(up), m(2), m(5), [3, 1].collect(Math.&abs)]
