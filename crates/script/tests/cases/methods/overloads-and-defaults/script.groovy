def fmt(x) { "one:$x".toString() }
def fmt(x, y) { "two:$x,$y".toString() }
def greet(String name, String greeting = "Hello") { "$greeting, $name".toString() }
return [fmt(1), fmt(1, 2), greet("Ada"), greet("Ada", "Hi")]
