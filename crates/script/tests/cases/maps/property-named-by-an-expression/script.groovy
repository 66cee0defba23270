def m = [:]
def k = 'dyn'
m.(k + '2') = 7
m."${k}3" = 8
def field = 'summary'
def issue = [summary: 'Printer jam', 'custom field': 'x']
[m, issue.(field), issue.('custom ' + 'field'), m.(k + '2') + 1]
