['abc'[0], 'abc'[-1], 'abc'[0..1], 'abc'[1..-1], 'abc'.getAt(1), 'abcdef'[0, 2, 4], 'abc'[2..0], 'abcdef'[1..<3]]
