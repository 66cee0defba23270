def log = []
def risky = { n ->
  if (n == 0) throw new IllegalArgumentException("zero")
  if (n == 1) return 10 / n
  null.foo()
}
[0, 1, 2].each { n ->
  try {
    log << risky(n)
  } catch (IllegalArgumentException e) {
    log << "iae:" + e.message
  } catch (NullPointerException e) {
    log << "npe"
  } finally {
    log << "f$n".toString()
  }
}
try {
  throw new RuntimeException("outer")
} catch (Exception e) {
  log << e.getMessage()
}
return log
