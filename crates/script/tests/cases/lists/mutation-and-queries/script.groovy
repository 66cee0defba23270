def l = [5, 3, 8, 1]
l.sort()
l.add(0, 9)
l.removeAll { it > 7 }
def copy = l.collect()
copy << 42
def nested = [[1, 2], [3], []]
return [l, copy, nested.sum(), nested*.size(), l.withIndex().collect { v, i -> v * i }, l.indexed(), (1..10).step(3), l.collate(2), l.inject { a, b -> a * b }, [3, 1, 2].max { it }, [[1, 'b'], [0, 'a']].sort { it[0] }]
