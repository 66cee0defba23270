// Idiom: the local summary names the remote item — its key in brackets before the remote
// summary.
// Source: Exalate community, incoming rules that prefix the summary with the remote key (issue.summary = "[" + replica.key + "] " + replica.summary).
// Given on A: {"project": "SUP", "summary": "Laptop will not boot"}
// Expect ENG-1: {"summary": "[SUP-1] Laptop will not boot"}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = "[" + replica.key + "] " + replica.summary
