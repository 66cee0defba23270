def x = 7
def res = []
[1, 5, 15, 30].each { v -> switch (v) { case 0..<5: res << 'low'; break; case 5..10: res << 'mid'; break; case { it > 20 }: res << 'big'; break; default: res << 'other' } }
res
