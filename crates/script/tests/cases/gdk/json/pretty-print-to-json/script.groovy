import groovy.json.*
[JsonOutput.prettyPrint('{"a":1,"b":[1,2],"c":{}}'), JsonOutput.prettyPrint(JsonOutput.toJson([x: [y: 'z'], e: []])), JsonOutput.prettyPrint('[]')]
