def s = "abc
return s
