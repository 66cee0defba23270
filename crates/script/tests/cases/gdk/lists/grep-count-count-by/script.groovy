def l = [3, 1, 2, 'a', null]
[l.grep(Integer), l.grep { it }, [1, 15, 30].grep(10..20), ['ab', 'cd', 'x'].grep(~/../), l.count(null), [1, 2, 1].count(1), l.countBy { it?.getClass()?.simpleName ?: "none" }]
