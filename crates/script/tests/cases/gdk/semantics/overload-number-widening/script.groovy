def g(Number n) { 'num' }
def g(Integer i) { 'int' }
def h(long l) { 'long' }
def h(double d) { 'double' }
[g(1), g(1L), g(1.5), h(1), h(1L), h(1.5)]
