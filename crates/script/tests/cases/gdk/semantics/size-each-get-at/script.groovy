def l = null
def t = l?.size()
def e = []
for (x in null) { e << x }
null.each { e << it }
[t, e, null?.getAt(0), ([] as List)?.getAt(0), [:].get('x')?.y, ([1, 2]?.first()), null.collect { it }, null.findAll { it }, null?.find { it }]
