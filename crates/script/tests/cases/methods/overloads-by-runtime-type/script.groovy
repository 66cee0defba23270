def f(int x) { "int:" + x }
def f(String s) { "string:" + s }
def f(List l) { "list:" + l.size() }
def f(Object o) { "object" }
def g(String s) { "g-string" }
def g(Integer i) { "g-integer" }
def g(Map m) { "g-map" }
Object v = "7"
def values = [1, "a", [1, 2], 2.5, v, [a: 1]]
return [values.collect { f(it) }, g("x"), g(3), g([k: 1]), f(v), g(v)]
