def calls = 0
def slow = { n -> calls++; n * 2 }
def fast = slow.memoize()
[fast(2), fast(2), fast(3), calls]
