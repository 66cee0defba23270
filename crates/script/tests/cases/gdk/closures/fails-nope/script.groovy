def c = { it }
c.nope()
