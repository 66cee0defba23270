[a: 1].nope()
