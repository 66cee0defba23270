['abc'.execute()]
