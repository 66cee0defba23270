// Idiom: merged comments keep following — a comment added on the other side after the first
// sync is added here on the next one, and the first is not duplicated.
// Source: Exalate docs, "mergeComments" (adds the replica's new comments, edits changed ones, removes removed ones).
// Given on A: {"project": "SUP", "summary": "Long thread", "comments": [{"body": "first", "author": {"name": "Ana Diaz"}}]}
// Then on A: SUP-1 {"comments": [{"body": "second", "author": {"name": "Bo Chen"}}]}
// Expect ENG-1: {"comments": ["Ana Diaz commented: first", "Bo Chen commented: second"]}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica)
