// Idiom: the outgoing rules read the item's id and its project ({key, name}) and send them.
// Source: Exalate docs, "Jira Cloud supported entities" (issue.id, issue.project.key, issue.project.name).
// Given on A: {"project": "SUP", "summary": "Where from?"}
// Expect ENG-1: {"description": "SUP-1 in Project SUP (SUP)"}
// ---- outgoing on A
replica.key = issue.key
replica.id = issue.id
replica.summary = issue.summary
replica.project = issue.project
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.description = replica.id + " in " + replica.project.name + " (" + replica.project.key + ")"
