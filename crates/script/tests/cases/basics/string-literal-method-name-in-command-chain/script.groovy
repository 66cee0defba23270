def box(x) { [get: { k -> "got $k from $x".toString() }, 'fetch': { k -> k * 2 }] }
def m = [a: { x -> x * 2 }]
def k = m."a" 4
def r = box 1 "fetch" 2
def d = "println"("hi")
[k, r, d]
