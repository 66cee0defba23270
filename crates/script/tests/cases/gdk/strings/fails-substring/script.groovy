'abc'.substring(5)
