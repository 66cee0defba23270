class Counter {
  int count
  String label
  Counter(String label) { this.label = label; count = 0 }
  def bump(int by = 1) { count += by; return this }
  String toString() { "${label}=${count}" }
}
def c = new Counter("hits")
c.bump().bump(5)
return [c.count, c.label, c.toString()]
