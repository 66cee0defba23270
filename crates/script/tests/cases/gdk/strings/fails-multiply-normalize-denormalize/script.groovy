['a'.multiply(3), 'é'.normalize(), 'a\r\nb'.normalize(), 'a\nb'.denormalize().size(), 'abc'.getAt([0, 2]), 'xyz'.indexed(), 'ab'.collectReplacements { it == 'a' ? 'A' : null }]
