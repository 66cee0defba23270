def l = [1, 2, 3]
[l.any { it > 2 }, l.every { it > 0 }, [].any(), [].every(), [0, null].any(), [1, null].every(), l.any(), l.find { it > 1 }, l.find { it > 5 }, l.findAll { it > 1 }, [].find(), [0, '', 3].find(), [0, '', 3].findAll()]
