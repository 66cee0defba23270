def m = 'a1b22c333' =~ /(\w)(\d+)/
[m.find(), m.group(), m.group(1), m.group(2), m.groupCount(), m.start(), m.end(), m.find(), m.group(), m.find(), m.group(2), m.find()]
