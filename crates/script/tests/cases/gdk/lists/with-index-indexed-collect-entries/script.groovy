def l = ['a', 'b']
[l.withIndex(), l.indexed(), l.collectEntries { [it, it.toUpperCase()] }, [[1, 'x'], [2, 'y']].collectEntries(), l.withIndex().collect { v, i -> "$i$v".toString() }, l.withIndex(1).collect { v, i -> i }]
