// Idiom: the assignee found by the remote assignee's email, with the two-argument form that
// names the project.
// Source: Exalate docs, "getUserByEmail" (nodeHelper.getUserByEmail(replica.assignee?.email, issue.projectKey)).
// Given on A: {"project": "SUP", "summary": "Assign me", "assignee": {"name": "Ana Diaz", "email": "ana@example.com"}}
// Expect ENG-1: {"assignee": {"name": "ana@example.com", "email": "ana@example.com"}}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.assignee = issue.assignee
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.assignee = nodeHelper.getUserByEmail(replica.assignee?.email, issue.projectKey)
