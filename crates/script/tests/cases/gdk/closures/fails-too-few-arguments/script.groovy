def c = { a, b -> a + b }
c(1)
