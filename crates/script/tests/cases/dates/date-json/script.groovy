import groovy.json.JsonOutput
def d = new Date(1717243200000L)
[JsonOutput.toJson([when: d]), JsonOutput.toJson(d), "${d.format('yyyy')}".toString()]
