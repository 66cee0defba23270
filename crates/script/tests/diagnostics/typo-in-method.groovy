def s = "abc"
return s.toUpperCas()
