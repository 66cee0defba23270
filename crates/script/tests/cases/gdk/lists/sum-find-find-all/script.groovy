def l = [[name: 'a', n: 1], [name: 'b', n: 2]]
[l*.name, l.name, l*.n.sum(), l.collect { it.name }, l.find { it.n == 2 }?.name, l.findAll { it.n > 5 }*.name, l.sort { -it.n }*.name, l.groupBy { it.n > 1 }.keySet(), l.max { it.n }.name, l.sum { it.n }]
