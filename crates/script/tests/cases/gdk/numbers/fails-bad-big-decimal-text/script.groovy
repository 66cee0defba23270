new BigDecimal('x')
