// Idiom: send the type, and create the local item with the type of the same name when the
// tracker has it, else a Task.
// Source: Exalate docs, "getIssueType" (nodeHelper.getIssueType(replica.type?.name, issue.projectKey)?.name ?: "Task").
// Given on A: {"project": "SUP", "summary": "Crash on save", "type": "Bug"}
// Expect ENG-1: {"type": "Bug", "summary": "Crash on save"}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.type = issue.type
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
    issue.typeName = nodeHelper.getIssueType(replica.type?.name, issue.projectKey)?.name ?: "Task"
}
issue.summary = replica.summary
