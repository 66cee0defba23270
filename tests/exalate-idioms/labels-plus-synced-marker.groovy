// Idiom: keep the remote labels and add one that marks the item as synced.
// Source: Exalate docs, "getLabel" (issue.labels = replica.labels; issue.labels += nodeHelper.getLabel("…")).
// Given on A: {"project": "SUP", "summary": "Marked", "labels": ["customer"]}
// Expect ENG-1: {"labels": ["customer", "synced"]}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.labels = replica.labels
issue.labels += nodeHelper.getLabel("synced")
