// Idiom: sub-tasks keep their parent — the outgoing rules send parentId, the incoming rules find
// the local twin of the remote parent with nodeHelper.getLocalIssueFromRemoteId and set the
// new item's parentId and type.
// Source: Exalate docs, "How to sync sub-tasks" (replica.parentId, nodeHelper.getLocalIssueFromRemoteId(replica.parentId)).
// Given on A: {"project": "SUP", "summary": "Parent task"}
// Given on A: {"project": "SUP", "summary": "Child", "type": "Sub-task", "parent": "SUP-1"}
// Expect ENG-2: {"summary": "Child", "type": "Sub-task", "parent": "ENG-1"}
// Expect ENG-1: {"type": "Task", "parent": null}
// ---- outgoing on A
replica.key = issue.key
replica.id = issue.id
replica.summary = issue.summary
replica.type = issue.type
replica.parentId = issue.parentId
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
    issue.typeName = nodeHelper.getIssueType(replica.type?.name, issue.projectKey)?.name ?: "Task"
}
if (replica.parentId) {
    def localParent = nodeHelper.getLocalIssueFromRemoteId(replica.parentId)
    if (localParent) {
        issue.parentId = localParent.id
    }
}
issue.summary = replica.summary
