['abc'.capitalize(), 'Abc'.uncapitalize(), 'ab'.center(6), 'ab'.center(7, '*'), 'abc'.center(2), 'x'.padLeft(4, '0'), 'x'.padRight(3), 'abc'.padLeft(2)]
