class Ticket {
  String key
  int points
  String toString() { "${key}(${points})" }
}
def t = new Ticket(key: "OPS-1", points: 3)
println t
println "ticket: $t"
return ["is " + t, t.toString(), "${t}".size()]
