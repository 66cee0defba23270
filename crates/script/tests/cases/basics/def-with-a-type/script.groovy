def String s = 'x'
def int n = 3
def List l = [1]
def Map<String, Integer> m = [a: 1]
def BigDecimal price = 3
def String fromNumber = 42
[s * n, l, m, price.class.simpleName, fromNumber, fromNumber.class.simpleName]
