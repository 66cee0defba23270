def counts = [:].withDefault { 0 }
["a", "b", "a", "c", "a"].each { counts[it] += 1 }
def byLen = ["aa", "b", "cc", "ddd"].groupBy { it.size() }
def sorted = counts.sort { a, b -> b.value <=> a.value }
return [counts, byLen, sorted.keySet().toList(), counts.collect { k, v -> "$k$v".toString() }.join(","), counts.findAll { it.value > 1 }]
