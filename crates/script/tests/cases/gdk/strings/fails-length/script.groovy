null.length()
