import groovy.json.*
def j = new JsonSlurper().parseText('{"a":1,"b":[true,null,"x"],"c":{"d":1.5,"e":-2e3},"f":12345678901,"g":"\\u00e9\\n"}')
[j.a, j.b, j.c.d, j.c.e, j.f, j.g, j.a.getClass().simpleName, j.c.d.getClass().simpleName, j.f.getClass().simpleName, j.c.e.getClass().simpleName, j.keySet().toList(), j.b[2]]
