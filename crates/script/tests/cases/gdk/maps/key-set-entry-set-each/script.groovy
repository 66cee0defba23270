def m = [a: 1, b: 2]
def s = []
for (e in m) { s << e.key + '=' + e.value }
for (k in m.keySet()) { s << k }
m.entrySet().each { s << it.value }
[s, m.keySet().contains('a'), 'a' in m, 'z' in m, m.containsKey(null), [(null): 1].get(null)]
