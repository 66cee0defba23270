def m = 'a1b22' =~ /(\w)(\d+)/
[m.size(), m.count, m[0], m[1][2], m[0][0], m.collect { it[1] }, m.matches(), (m as boolean), m.hasGroup(), m.getCount()]
