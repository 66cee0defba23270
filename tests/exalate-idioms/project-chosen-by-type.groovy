// Idiom: the project of a new item is chosen from what the remote sends (bugs to one project,
// the rest to another), and nodeHelper.getProject confirms the project exists here.
// Source: Exalate docs, "getProject" and the incoming rules' project choice on the first sync (issue.projectKey = …).
// Given on A: {"project": "SUP", "summary": "Crash", "type": "Bug"}
// Expect ENG-1: {"summary": "Crash", "description": "filed in ENG"}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.type = issue.type
// ---- incoming on B
if (firstSync) {
    def wanted = replica.type?.name == "Bug" ? "ENG" : "OPS"
    issue.projectKey = nodeHelper.getProject(wanted)?.key ?: "ENG"
}
issue.summary = replica.summary
issue.description = "filed in " + nodeHelper.getProject(issue.projectKey).key
