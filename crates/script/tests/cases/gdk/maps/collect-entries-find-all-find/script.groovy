def m = [a: 1, b: 2, c: 3]
[m.collect { k, v -> v * 2 }, m.collect { it.value }, m.collectEntries { k, v -> [(v): k] }, m.findAll { k, v -> v > 1 }, m.find { it.value > 1 }.key, m.findResult { k, v -> v > 1 ? k : null }, m.any { k, v -> v > 2 }, m.every { it.value > 0 }, m.count { k, v -> v > 1 }]
