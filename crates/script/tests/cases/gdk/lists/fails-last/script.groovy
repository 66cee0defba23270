[].last()
