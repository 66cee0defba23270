def a = 1
def b = 2
(a, b) = [b, a]
def (x, y) = "k=v".split("=")
return [a, b, x, y]
