// Idiom: firstSync in the outgoing rules — send something only with the first replica of an
// item (a note that it was just brought under sync).
// Source: Exalate docs, "firstSync" (a variable of both the outgoing and the incoming rules).
// Given on A: {"project": "SUP", "summary": "Brand new"}
// Expect ENG-1: {"description": "first replica of SUP-1"}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
if (firstSync) {
    replica.description = "first replica of " + issue.key
}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
if (replica.description) {
    issue.description = replica.description
}
