def l = [3, 1, 2]
def s = l.sort()
[s, l, s.is(l), [3, 1, 2].sort(false), ['b', 'A', 'a'].sort(), ['bb', 'a'].sort { it.size() }, [3, 1, 2].sort { a, b -> b <=> a }, [3, 1, 2].toSorted(), [3, 1, 2].toSorted { -it }, [null, 2, 1].sort()]
