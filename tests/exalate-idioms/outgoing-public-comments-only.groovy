// Idiom: the sending side shares public comments only — internal ones never leave.
// Source: Exalate docs, "How to Sync Comments" ("Service Desk: Synchronize only public comments": replica.comments = issue.comments.findAll{!it.internal}).
// Given on A: {"project": "SUP", "summary": "Refund", "comments": [{"body": "We will refund you", "internal": false}, {"body": "Customer is difficult", "internal": true}]}
// Expect ENG-1: {"comment_count": 1}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.comments = issue.comments.findAll { !it.internal }
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica, {it})
