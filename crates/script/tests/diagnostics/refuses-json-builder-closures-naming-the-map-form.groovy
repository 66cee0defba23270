import groovy.json.JsonBuilder
def b = new JsonBuilder()
b.issue {
    summary 'Printer jam'
}
