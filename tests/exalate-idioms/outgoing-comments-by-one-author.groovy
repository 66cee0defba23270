// Idiom: send only the comments one person wrote, chosen by the author's display name.
// Source: Exalate docs, "How to Sync Comments" ("Send only comments created by a certain user": issue.comments.findAll { comment -> comment.author.displayName == "…" }).
// Given on A: {"project": "SUP", "summary": "Triage", "comments": [{"body": "First look done", "author": {"name": "Luke Skywalker"}}, {"body": "Me too", "author": {"name": "Han Solo"}}]}
// Expect ENG-1: {"comments": ["First look done"]}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.comments = issue.comments.findAll { comment -> comment.author.displayName == "Luke Skywalker" }
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica, {it})
