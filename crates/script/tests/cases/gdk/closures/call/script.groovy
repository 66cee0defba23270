def counter = { def n = 0; return { -> ++n } }()
counter()
counter()
def adders = (1..3).collect { i -> { x -> x + i } }
[counter(), adders*.call(10), adders[0].call(1)]
