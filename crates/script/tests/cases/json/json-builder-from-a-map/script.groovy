import groovy.json.JsonBuilder
def b = new JsonBuilder([summary: 'Printer jam', labels: ['hw', 'urgent'], votes: 2])
def c = new JsonBuilder()
c([id: 5, tags: []])
def d = new JsonBuilder()
d.issue([key: "A-1", votes: [1, 2]])
[b.toString(), b.toPrettyString(), c.toString(), d.toString(), b.content.summary, "$c".toString()]
