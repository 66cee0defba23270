// Idiom: send only some attachments, chosen by file name (here PDFs).
// Source: Exalate docs, "How to Sync Attachments" (replica.attachments = issue.attachments.findAll { it.filename.endsWith(…) }).
// Given on A: {"project": "SUP", "summary": "Contract", "attachments": [{"filename": "contract.pdf", "content": "%PDF-1.4"}, {"filename": "notes.txt", "content": "private"}]}
// Expect ENG-1: {"attachments": ["contract.pdf"]}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.attachments = issue.attachments.findAll { it.filename.endsWith(".pdf") }
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.attachments = attachmentHelper.mergeAttachments(issue, replica)
