def r = []
[['x', 1], ['y', 2]].each { a, b -> r << a * b }
[[1, 2], [3, 4]].collect { a, b -> a + b } + r
