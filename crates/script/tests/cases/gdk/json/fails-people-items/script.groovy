import groovy.json.*
def b = new JsonBuilder()
b.people([[n: 1], [n: 2]])
def c = new JsonBuilder()
c.items([1, 2]) { v it }
[b.toString(), c.toString()]
