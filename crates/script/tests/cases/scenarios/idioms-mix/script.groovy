def users = [
    [name: "ada", roles: ["admin", "dev"], active: true, score: 9.5],
    [name: "bob", roles: ["dev"], active: false, score: 7],
    [name: "cy", roles: [], active: true, score: 8.25],
]
def byRole = users.inject([:]) { acc, u ->
    u.roles.each { r -> acc[r] = (acc[r] ?: []) + u.name }
    acc
}
def active = users.findAll { it.active }.collect { u -> u.name.capitalize() + (u.roles ? "(${u.roles.size()})" : "") }
def avg = users*.score.sum() / users.size()
def grade = { s ->
    switch (s) {
        case { it >= 9 }: return "A"
        case 8..<9: return "B"
        default: return "C"
    }
}
def lookup = users.collectEntries { [(it.name): grade(it.score)] }
def firstInactive = users.find { !it.active }?.name
def names = users.name
def nested = users.collect { u -> u.roles.collect { r -> "${u.name}:${r}" } }.flatten()
def counts = users.countBy { it.active ? "on" : "off" }
def text = """Report
  active: ${active.join(', ')}
  avg: ${avg}"""
def words = "The quick brown fox".split(" ").collect { it.toLowerCase() }.sort { -it.size() }
println text
return [byRole, active, avg, lookup, firstInactive, names, nested, counts, words, users.every { it.score > 5 }, users.sum { it.score }]
