['abc123def'.takeWhile { Character.isLetter(it as char) }, 'abc123'.dropWhile { it < 'c' }, 'hello'.find { it > 'h' }, 'hello'.findAll { it > 'h' }]
