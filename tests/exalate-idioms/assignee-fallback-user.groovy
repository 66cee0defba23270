// Idiom: an assignee the remote does not name (or one not found here) falls back to a
// default user with the Elvis operator.
// Source: Exalate community, "default assignee" (issue.assignee = nodeHelper.getUserByEmail(replica.assignee?.email) ?: nodeHelper.getUserByEmail("…")).
// Given on A: {"project": "SUP", "summary": "Nobody's"}
// Expect ENG-1: {"assignee": {"name": "triage@example.com", "email": "triage@example.com"}}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.assignee = issue.assignee
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.assignee = nodeHelper.getUserByEmail(replica.assignee?.email) ?: nodeHelper.getUserByEmail("triage@example.com")
