def lengths = ["ccc", "a", "bb"].collect(String::length)
def sorted = ["ccc", "a", "bb"].sort(false, (p, q) -> p.size() <=> q.size())
def kind = { n -> switch (n) { case 0 -> "zero"; case 1, 2 -> "small"; default -> { def big = "big"; big.toUpperCase() } } }
var total = 0
for (int i = 0, j = 3; i < j; i++, j--) { total += i * j }
return [lengths, sorted, kind(0), kind(2), kind(9), total, [1, 2] !== [1, 2], null?.size()]
