def m = [a: 1, b: 2, c: 3]
m.removeAll { it.value == 2 }
def n = [a: 1, b: 2]
n.retainAll { k, v -> k == 'a' }
[m, n, [b: 1, a: 2].sort(), [b: 1, a: 2].toSorted { it.key }, [a: 1] == [a: 1L], [a: 1, b: 2] == [b: 2, a: 1], [a: [1]] == [a: [1]]]
