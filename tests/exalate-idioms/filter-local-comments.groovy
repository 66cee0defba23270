// Idiom: commentHelper.filterLocal keeps the comments whose visibility is not restricted (on
// the built-in tracker: not internal) for the replica.
// Source: Exalate docs, "How to Sync Comments" ("Synchronize comments that have no group or role level assign": replica.comments = commentHelper.filterLocal(issue.comments)).
// Given on A: {"project": "SUP", "summary": "Visibility", "comments": [{"body": "Everyone may read this"}, {"body": "Team only", "internal": true}]}
// Expect ENG-1: {"comments": ["Everyone may read this"]}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.comments = commentHelper.filterLocal(issue.comments)
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica, {it})
