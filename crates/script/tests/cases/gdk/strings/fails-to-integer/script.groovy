'x'.toInteger()
