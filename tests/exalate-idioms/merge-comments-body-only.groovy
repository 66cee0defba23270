// Idiom: merge comments without the author prefix — a closure that hands each comment back
// unchanged ({it}) applies the remote body as it is.
// Source: Exalate docs, "How to Sync Comments" ("Apply received comments without custom formatting": mergeComments(issue, replica, {it})).
// Given on A: {"project": "SUP", "summary": "Quiet fan", "comments": [{"body": "Replaced the bearing", "author": {"name": "Ana Diaz"}}]}
// Expect ENG-1: {"comments": ["Replaced the bearing"]}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica, {it})
