import java.util.regex.Pattern
def p = Pattern.compile('hello', Pattern.CASE_INSENSITIVE)
[p.matcher('HeLLo world').find(), ('HELLO' =~ /(?i)hello/).find(), Pattern.compile('^a', Pattern.MULTILINE).matcher('x\na').find(), Pattern.compile('a.b', Pattern.DOTALL).matcher('a\nb').matches(), Pattern.compile('x').flags()]
