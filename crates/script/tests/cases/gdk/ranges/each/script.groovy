def e = []
for (i in 1..3) { e << i }
for (i in 3..1) { e << i }
for (c in 'x'..'z') { e << c }
(1..3).each { e << it * 10 }
e
