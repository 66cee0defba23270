new groovy.json.JsonSlurper().parseText('{bad')
