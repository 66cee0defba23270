// Idiom: commentHelper.addComment adds a comment the rules make (here a note naming the remote
// item) to the local comments on the first sync.
// Source: Exalate docs, "addComment" (issue.comments = commentHelper.addComment("…", issue.comments)).
// Given on A: {"project": "SUP", "summary": "Linked work"}
// Expect ENG-1: {"comments": ["Created from SUP-1"]}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
    issue.comments = commentHelper.addComment("Created from " + replica.key, issue.comments)
}
issue.summary = replica.summary
