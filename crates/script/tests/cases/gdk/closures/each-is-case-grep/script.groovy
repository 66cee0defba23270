def isEven = { it % 2 == 0 }
def r = []
[2, 3].each { switch (it) { case isEven: r << 'even'; break; default: r << 'odd' } }
[r, isEven.isCase(4), [1, 2, 3, 4].grep(isEven), [1, 2, 3].findAll(isEven)]
