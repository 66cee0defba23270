// Idiom: the reporter set to the local user found by the remote reporter's email.
// Source: Exalate docs, "getUserByEmail" (issue.reporter = nodeHelper.getUserByEmail(replica.reporter?.email)).
// Given on A: {"project": "SUP", "summary": "Reported by Ana", "reporter": {"name": "Ana Diaz", "email": "ana@example.com"}}
// Expect ENG-1: {"reporter": {"name": "ana@example.com", "email": "ana@example.com"}}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.reporter = issue.reporter
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.reporter = nodeHelper.getUserByEmail(replica.reporter?.email)
