int i = 3.7
String s = 5
long l = 5
double d = 1
BigDecimal b = 1
boolean t = 'x'
boolean f = ''
Set st = [1, 1, 2]
String ls = [1, 2]
float fl = 1.1
Integer n = null
def x = (int) 3.9
[i, s, l, d, b, t, f, st, ls, fl, n, x, i.class.simpleName, d.class.simpleName, b.class.simpleName, st.class.simpleName, l.class.simpleName]
