def l = ['bb', 'a', 'ccc']
[l.max(), l.min(), l.max { it.size() }, l.min { it.size() }, [].max(), l.max { a, b -> a.size() <=> b.size() }, [3, 1].max(), [1, 2.5, 2L].max()]
