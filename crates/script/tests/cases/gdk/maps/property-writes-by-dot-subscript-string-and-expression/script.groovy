def m = [:]
m.x = 1
m['y'] = 2
m."z w" = 3
m << [q: 4]
m += [r: 5]
def k = 'dyn'
m[k] = 6
m.(k + '2') = 7
[m, m.'z w', m.x, m.nope, m?.nope?.deeper, m.get('y')]
