def m = [a: 1, b: 2, c: 3]
def e = []
m.each { k, v -> e << k + v }
m.each { e << it.key }
m.eachWithIndex { en, i -> e << i }
m.eachWithIndex { k, v, i -> e << "$k$i".toString() }
e
