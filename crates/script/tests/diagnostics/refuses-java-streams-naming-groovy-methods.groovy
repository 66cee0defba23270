def ids = [3, 1, 2]
def doubled = ids.stream().map { it * 2 }.toList()
