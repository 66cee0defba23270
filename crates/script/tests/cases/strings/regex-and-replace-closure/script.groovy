def s = "Ticket INC0001 and INC0042 were merged into PRB7"
def ids = (s =~ /([A-Z]{3})(\d+)/).collect { all, prefix, num -> prefix + ":" + num.toInteger() }
def masked = s.replaceAll(/\d+/) { m -> "#" * m.size() }
def m = s =~ /PRB(\d+)/
return [ids, masked, m.find() ? m.group(1) : null, s.tokenize(" ").size(), s.split(/\s+/).take(2), "a1b22c333".findAll(/\d+/)]
