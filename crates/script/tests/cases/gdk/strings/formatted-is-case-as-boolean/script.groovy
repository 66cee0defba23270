['%d items'.formatted(3), 'a'.isCase('a'), 'abc'.isCase('b'), 'b' in 'abc', 'ab'.asBoolean(), ''.asBoolean(), 'x'.inspect(), 'a\'b'.inspect(), 'abc'.toString(), 'abc'.equals('abc')]
