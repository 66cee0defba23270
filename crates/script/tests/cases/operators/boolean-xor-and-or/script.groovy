def a = true, b = false
def r = [a ^ b, a ^ a, b ^ b, a & b, a | b, b | b, true & true, false | true]
def flag = false
flag |= true
def g = true
g &= false
def x = true
x ^= true
def calls = 0
def touch = { calls++; true }
def eager = false & touch()
r + [flag, g, x, 1 ^ 3, 6 & 3, 6 | 3, eager, calls, (a ^ b).getClass().simpleName]
