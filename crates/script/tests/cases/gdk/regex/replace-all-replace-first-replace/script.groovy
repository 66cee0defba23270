def m = 'abc' =~ /b/
[m.replaceAll('X'), m.replaceFirst('Y'), ('aXbXc' =~ /X/).replaceAll { '-' }, 'price: $5'.replaceAll(/\$(\d)/, 'USD$1'), 'a$b'.replace('$', 'S'), java.util.regex.Matcher.quoteReplacement('$1'), 'x'.replaceAll('x', java.util.regex.Matcher.quoteReplacement('$1'))]
