null as int
