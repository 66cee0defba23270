// Idiom: the default attachment merge — files the remote has are added here (and ones it
// removes are removed).
// Source: Exalate docs, "How to Sync Attachments" (issue.attachments = attachmentHelper.mergeAttachments(issue, replica)).
// Given on A: {"project": "SUP", "summary": "Screens", "attachments": [{"filename": "screen.png", "content": "png bytes"}, {"filename": "log.txt", "content": "boot ok"}]}
// Expect ENG-1: {"attachments": ["screen.png", "log.txt"]}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.attachments = issue.attachments
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.attachments = attachmentHelper.mergeAttachments(issue, replica)
