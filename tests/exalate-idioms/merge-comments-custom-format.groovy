// Idiom: a custom comment format — the closure (a named parameter) rewrites comment.body with
// the author's name and email in front and ends in that assignment; the rewritten body is
// what is added.
// Source: Exalate docs, "mergeComments — with custom formatting" (comment -> comment.body = "[" + comment.author.displayName + … + comment.body).
// Given on A: {"project": "SUP", "summary": "Email bounce", "comments": [{"body": "Bounced twice", "author": {"name": "Ana Diaz", "email": "ana@example.com"}}]}
// Expect ENG-1: {"comments": ["[Ana Diaz | ana@example.com] commented:\nBounced twice"]}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica, { comment ->
    comment.body = "[" + comment.author.displayName + " | " + comment.author.email + "] commented:\n" + comment.body
})
