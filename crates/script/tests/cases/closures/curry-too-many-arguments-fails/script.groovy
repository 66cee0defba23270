def add = { a, b -> a + b }
add.curry(1, 2, 3)()
