def l = [1, 2, 3]
def e = []
l.eachWithIndex { v, i -> e << v * i }
l.reverseEach { e << it }
[e, l.each { it * 2 }, l.reverse(), l, l.collect { it }.is(l), l.asBoolean(), [].asBoolean(), [null].asBoolean()]
