[' x '.trim().isEmpty(), 'A'.isUpperCase(), 'abc'.first(), 'abc'.last(), 'abc'.asList(), 'a b'.split(/\s/, -1).toList()]
