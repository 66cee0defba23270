def twice(int x) { x * 2 }
def n = twice(4)
def m = twice("4")
return [n, m]
