['abc'.toURL()]
