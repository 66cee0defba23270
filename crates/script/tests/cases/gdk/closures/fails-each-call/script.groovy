def r = []
[1, 2, 3].each { if (it == 2) return; r << it }
def f = { x -> if (x > 1) { return 'big' } ; 'small' }
[r, f(1), f(2), { 5 }(), { it * 2 }(4), { -> it }.call()]
