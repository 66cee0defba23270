def r = 1
"a"Foo"b"
