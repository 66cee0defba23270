['a1b22c333'.find(/\d+/), 'a1b22c333'.findAll(/\d+/), 'x-1 y-2'.find(/(\w)-(\d)/) { all, a, b -> b + a }, 'x-1 y-2'.findAll(/(\w)-(\d)/) { all, a, b -> a }, 'abc'.find(/z/)]
