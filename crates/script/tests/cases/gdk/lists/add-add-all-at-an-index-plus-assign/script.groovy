def l = [1, 2]
l << 3
l.add(4)
l.add(0, 0)
l.addAll([5, 6])
l.addAll(0, [-1])
l += 7
[l, l.size(), l.contains(3), l.containsAll([1, 2]), l.isEmpty(), l.indexOf(3), l.lastIndexOf(9)]
