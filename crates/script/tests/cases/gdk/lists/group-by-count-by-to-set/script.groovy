def l = [1, 2, 3]
[l.groupBy { it % 2 }, l.groupBy({ it % 2 }, { it < 2 }), l.countBy { it > 1 }, l.toSet(), l.asImmutable(), l.toList() == l, l.toList().is(l), l as Set, l.join(), l.join(', '), [].join(','), [null, 1].join('-')]
