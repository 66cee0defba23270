def m = 'abc' =~ /z/
m.group()
