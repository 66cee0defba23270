// Idiom: set the status from a hub status the node helper finds by name, only when it exists.
// Source: Exalate docs, "getStatus" (def desired = nodeHelper.getStatus(name); if (desired) { issue.status = desired }).
// Given on A: {"project": "SUP", "summary": "Fixed upstream", "status": "Done"}
// Expect ENG-1: {"status": "Done"}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
def desiredStatusName = replica.status?.name == "Done" ? "Done" : "In Progress"
def desiredStatus = nodeHelper.getStatus(desiredStatusName)
if (desiredStatus) {
    issue.status = desiredStatus
}
