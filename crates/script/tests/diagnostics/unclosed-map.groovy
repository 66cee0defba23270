def m = [a: 1, b: 2
return m
