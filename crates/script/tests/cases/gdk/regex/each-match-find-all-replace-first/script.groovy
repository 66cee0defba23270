def s = 'Ticket #123 and #456'
def r = []
s.eachMatch(/#(\d+)/) { all, n -> r << n }
[r, s =~ /#\d+/ ? 'yes' : 'no', s.findAll(/#(\d+)/) { all, n -> n as int }, (s =~ /#(\d+)/).collect { it[1] }, s.replaceFirst(/#\d+/, 'X'), s.replaceAll(/#(\d+)/) { all, n -> "<$n>" }, (s =~ /zz/).find(), s.split(/\s+and\s+/).toList()]
