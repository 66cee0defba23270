def sb = new StringBuilder()
sb << 'a' << 1
sb.append('b').append(2.5)
sb.insert(0, '>')
[sb.toString(), sb.length(), sb.reverse().toString(), sb.indexOf('a'), sb.charAt(0).toString()]
