def l = [1, 2, 3, 4]
[l.sum(), l.sum { it * 2 }, [].sum(), ['a', 'b'].sum(), [1.5, 2].sum(), l.sum(10), l.inject { a, b -> a * b }, l.inject(100) { a, b -> a - b }, l.average(), [1, 2].average()]
