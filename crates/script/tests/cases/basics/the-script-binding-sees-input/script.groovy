def seen = binding.hasVariable('firstSync') ? firstSync : 'absent'
def other = binding.hasVariable('replica') ? replica : 'no replica'
binding.variables.issue.summary = 'Paper jam'
[seen, other, binding.variables.issue.labels, issue.summary]
