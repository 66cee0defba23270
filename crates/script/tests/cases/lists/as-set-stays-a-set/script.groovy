def s = [3, 1, 3, 2, 1] as Set
def plus = s + [4, 1]
def minus = s - [1]
def both = s.intersect([2, 3, 9])
def added = s << 2
def unique = ["b", "a", "b"] as Set
def t = s.collect { it * 2 }
return [s, s.size(), s instanceof Set, s.getClass().simpleName, plus, plus instanceof Set, plus.size(), minus, minus instanceof Set, both, both instanceof Set, added.size(), unique, unique.contains("a"), s == ([1, 2, 3] as Set), s == [3, 1, 2], t instanceof List, (s as List) instanceof List, s.findAll { it > 1 } instanceof Set, (s + 5) instanceof Set]
