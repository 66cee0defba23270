['x'.concat('y'), 'a' + null, 'a' + 1 + 2, 1 + 2 + 'a', 'ab' * 0, 'abc'.length(), 'abc'.size(), 'ßa'.toUpperCase(), 'ÉCOLE'.toLowerCase(), 'día'.length(), 'día'.reverse()]
