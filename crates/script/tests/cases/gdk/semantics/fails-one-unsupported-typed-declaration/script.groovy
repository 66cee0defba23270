List l = [1] as Set
Map m = [:]
Collection c = [1]
Number n = 5
Object o = 'x'
CharSequence cs = 'y'
char ch = 'z'
Character c2 = 'q'
short sh = 5
byte by = 1
[l.class.simpleName, m.class.simpleName, c, n, o, cs, ch, c2, sh, by, ch.class.simpleName, sh.class.simpleName]
