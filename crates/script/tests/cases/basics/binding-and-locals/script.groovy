counter = 1
def local = 2
def bump() { counter += 10 }
bump()
undeclared = "set"
return [counter, local, undeclared]
