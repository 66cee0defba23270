def payload = [id: 7, tags: ["a", "b"], ok: true, ratio: 0.5, none: null]
def text = groovy.json.JsonOutput.toJson(payload)
def back = new groovy.json.JsonSlurper().parseText(text)
return [String.format("%05d|%-4s|%.2f|%s", 42, "ab", 3.14159, [1, 2]), text, back.tags, back.ratio]
