def r = 1..5
[r.toList(), (1..<5).toList(), (5..1).toList(), ('a'..'e').toList(), r.from, r.to, r.size(), r.contains(3), 3 in r, 6 in r, r.step(2), (1..10).step(3), r.reverse(), r.isReverse(), (5..1).isReverse(), r[0], r[-1], r.sum(), r.min(), r.max()]
