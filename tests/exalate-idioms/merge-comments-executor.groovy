// Idiom: impersonate the comment's author — it.executor is set to the local user found by the
// remote author's email (or a default user when there is no author), and the comment is
// written as that user.
// Source: Exalate docs, "mergeComments — with custom formatting" ("Use the script to impersonate the comment": it.executor = it.author … else nodeHelper.getUserByEmail(default); it).
// Given on A: {"project": "SUP", "summary": "Who said that", "comments": [{"body": "Seen on my laptop too", "author": {"name": "Ana Diaz", "email": "ana@example.com"}}]}
// Expect ENG-1: {"comments": ["Seen on my laptop too"], "comment_authors": ["ana@example.com"]}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica) {
    if (it.author) it.executor = nodeHelper.getUserByEmail(it.author.email)
    else it.executor = nodeHelper.getUserByEmail("sync@example.com"); it
}
