def pick(list) {
  list.collect { it.name.toUpperCase() }
}
replica.names = pick([[name: "a"], [title: "b"]])
