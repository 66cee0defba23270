// Idiom: the default incoming rules' type line — a type this tracker lacks falls back to Task.
// Source: Exalate docs, default incoming sync for Jira (issue.typeName = nodeHelper.getIssueType(replica.type?.name, issue.projectKey)?.name ?: "Task").
// Given on A: {"project": "SUP", "summary": "An improvement", "type": "Story"}
// Expect ENG-1: {"type": "Task"}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.type = [name: "Improvement"]
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
    issue.typeName = nodeHelper.getIssueType(replica.type?.name, issue.projectKey)?.name ?: "Task"
}
issue.summary = replica.summary
