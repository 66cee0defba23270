def token = 'admin:s3cr3t'
def encoded = token.bytes.encodeBase64().toString()
def decoded = new String(encoded.decodeBase64())
def accented = 'café'.getBytes('UTF-8')
[encoded, decoded, 'ab'.bytes, accented.size(), accented[3], new String(accented, 'UTF-8'), 'YQ=='.decodeBase64().size()]
