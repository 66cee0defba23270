def m = [a: 1, b: 2, c: 3]
[m.subMap(['a', 'c']), m + [d: 4], m - [a: 1], m.minus([b: 2]), m.take(2), m.drop(2), m.takeWhile { it.value < 2 }, m.dropWhile { k, v -> v < 2 }, m.collectMany { k, v -> [k] * v }, m*.value, m*.key]
