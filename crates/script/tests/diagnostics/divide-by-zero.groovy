def total = 10
return total / 0
