def s = null
s.size()
