// Idiom: every comment received is created as an internal one — the closure only sets
// it.internal (its value, true, is not a comment and is not what is applied).
// Source: Exalate docs, "How to Sync Comments" ("Create received comments as internal": mergeComments(issue, replica, {it.internal = true})).
// Given on A: {"project": "SUP", "summary": "Customer data", "comments": [{"body": "Logs attached privately", "author": {"name": "Bo Chen"}}]}
// Expect ENG-1: {"internal_comments": ["Logs attached privately"], "comment_count": 1}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica, {it.internal = true})
