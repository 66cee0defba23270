new groovy.json.JsonSlurper().parseText('')
