// Idiom: a story keeps its epic — the epic is synced first, the story's incoming rules find
// the epic's local twin and make it the parent, keeping the story's type.
// Source: Exalate docs, "Epic sync" / external Epic.groovy (link stories to the local epic found from the remote one).
// Given on A: {"project": "SUP", "summary": "Checkout revamp", "type": "Epic"}
// Given on A: {"project": "SUP", "summary": "Pay by card", "type": "Story", "parent": "SUP-1"}
// Expect ENG-1: {"type": "Epic", "parent": null}
// Expect ENG-2: {"type": "Story", "parent": "ENG-1"}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.type = issue.type
replica.parentId = issue.parentId
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
    issue.typeName = nodeHelper.getIssueType(replica.type?.name, issue.projectKey)?.name ?: "Task"
}
issue.summary = replica.summary
def epic = replica.parentId ? nodeHelper.getLocalIssueFromRemoteId(replica.parentId) : null
issue.parentId = epic?.id
