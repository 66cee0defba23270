// Idiom: setStatus with a status name written in another case, as the built-in tracker names
// statuses case-insensitively; on an Azure DevOps-style script the item is `workItem`.
// Source: Exalate docs, "Status synchronization" for Azure DevOps (workItem.setStatus(…)).
// Given on A: {"project": "SUP", "summary": "Closed upstream", "status": "Done"}
// Expect ENG-1: {"status": "Done"}
// ---- incoming on B
if (firstSync) {
    workItem.projectKey = "ENG"
}
workItem.summary = replica.summary
def states = ["Done": "done", "In Progress": "in progress"]
workItem.setStatus(states[replica.status.name] ?: "to do")
