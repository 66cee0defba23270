def sb = new StringBuilder('hello')
sb.setLength(2)
sb.deleteCharAt(0)
[sb.toString(), new StringBuilder('abc').delete(0, 1).toString(), new StringBuilder('abc').replace(0, 1, 'X').toString(), new StringBuffer('q').append('r').toString()]
