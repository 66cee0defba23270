def l = [1, 2, 1, 3, 2]
def u = l.unique()
[u, l, [1, 2, 1].unique(false), ['a', 'A', 'b'].unique { it.toLowerCase() }, [1, 2, 1].toUnique(), [3, 1, 3].toUnique { it }, [1, 1.0, 1L].unique()]
