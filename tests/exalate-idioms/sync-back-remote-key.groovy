// Idiom: tell the source which item was made — the incoming rules ask
// syncHelper.syncBackAfterProcessing(), so this side's replica (with the new key) goes back
// at once, and the source's incoming rules store that key in a custom field.
// Source: Exalate docs, "syncBackAfterProcessing" (send the local changes back to the remote side after the incoming sync is processed).
// Given on A: {"project": "SUP", "summary": "Where did it go"}
// Expect SUP-1: {"custom_fields": {"Remote key": "ENG-1"}}
// ---- incoming on A
issue.customFields."Remote key".value = replica.key
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
    syncHelper.syncBackAfterProcessing()
}
issue.summary = replica.summary
