def m = [a: 1, b: 2]
[m.findAll { it.key == 'a' }.getClass().simpleName, m.collectEntries { [it.key.toUpperCase(), it.value] }, m.groupBy { k, v -> v > 1 }, m.every { k, v -> v }, m.reverse(), m.asBoolean(), m.max { a, b -> a.value <=> b.value }.key, m.merge('a', 10) { x, y -> x + y }, m]
