// Idiom: the default comment merge — every comment the remote adds is added here with its
// author's name put in front of the text.
// Source: Exalate docs, "How to Sync Comments" (issue.comments = commentHelper.mergeComments(issue, replica): prepends the author of the original comment).
// Given on A: {"project": "SUP", "summary": "Noisy fan", "comments": [{"body": "It rattles at startup", "author": {"name": "Ana Diaz", "email": "ana@example.com"}}]}
// Expect ENG-1: {"comments": ["Ana Diaz commented: It rattles at startup"]}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica)
