int i = null
