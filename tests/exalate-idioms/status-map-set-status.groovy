// Idiom: the standard status line — map the remote status name through a table, fall back to
// the remote name itself, and set it with issue.setStatus; the local status becomes the one
// named.
// Source: Exalate docs, "Status synchronization" (statusMap[remoteStatusName] ?: remoteStatusName, then issue.setStatus).
// Given on A: {"project": "SUP", "summary": "Printer jam", "status": "In Progress"}
// Expect ENG-1: {"summary": "Printer jam", "status": "In Progress"}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
    issue.typeName = "Task"
}
issue.summary = replica.summary
def statusMap = [
    "To Do"      : "To Do",
    "In Progress": "In Progress",
    "Done"       : "Done",
]
def remoteStatusName = replica.status.name
issue.setStatus(statusMap[remoteStatusName] ?: remoteStatusName)
