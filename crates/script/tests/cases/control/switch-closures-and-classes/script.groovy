def classify = { v ->
  switch (v) {
    case { it instanceof Integer && it > 100 }: return "big"
    case Integer: return "int"
    case ~/^[a-z]+$/: return "word"
    case [1.5, 2.5]: return "listed"
    case Map: return "map"
    default: return "other"
  }
}
return [classify(500), classify(5), classify("abc"), classify("ABC"), classify(1.5), classify([a: 1])]
