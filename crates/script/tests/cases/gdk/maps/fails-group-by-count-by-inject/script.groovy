def m = [a: 1, b: 2, c: 3]
[m.groupBy { it.value % 2 }, m.countBy { it.value % 2 }, m.inject(0) { s, k, v -> s + v }, m.inject(0) { s, en -> s + en.value }, m.sort { -it.value }, m.sort { a, b -> b.key <=> a.key }, m.max { it.value }.key, m.min { it.value }.value, m.sum { it.value }]
