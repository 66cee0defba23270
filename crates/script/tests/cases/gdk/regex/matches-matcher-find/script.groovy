def (all, a, b) = ('x=1' =~ /(\w)=(\d)/)[0]
def r = []
switch ('ABC') { case ~/^A.*/: r << 'starts A' }
['abc' ==~ ~/a.c/, 'xyz'.matches('x.*'), ~/ab/ instanceof java.util.regex.Pattern, (~/a+/).matcher('caab').find(), all, a, b, r, 'a.b.c'.split(/\./).toList(), 'tab\there'.replaceAll('\\t', ' ')]
