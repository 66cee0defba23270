def l = [3, 1, 2]
[l.collectMany { [it, it] }, l.collectNested { it * 2 }, [[1, [2]], 3].collectNested { it * 10 }, l.findIndexOf { it == 1 }, [1, 2, 1].findLastIndexOf { it == 1 }, [5, 6, 5].findIndexValues { it == 5 }, l.findResult { it > 1 ? it * 10 : null }, l.findResults { it > 1 ? it : null }]
