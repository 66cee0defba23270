Math.toIntExact(9999999999L)
