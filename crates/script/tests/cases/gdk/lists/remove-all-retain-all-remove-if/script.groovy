def l = [1, 2, 3, 4, 5]
def b = l.removeAll { it % 2 == 0 }
def c = l.retainAll { it > 1 }
[b, c, l, [1, 2, 3].removeIf { it == 2 }]
