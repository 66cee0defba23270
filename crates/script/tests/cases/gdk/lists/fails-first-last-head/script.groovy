def l = [1, 2, 3, 4, 5]
[l.first(), l.last(), l.head(), l.tail(), l.init(), l.take(2), l.drop(2), l.takeRight(2), l.dropRight(2), l.takeWhile { it < 3 }, l.dropWhile { it < 3 }, [].take(3), l.first(2), l.last(2)]
