// Idiom: map the remote priority through a table and set it with nodeHelper.getPriority,
// falling back to a default when the name is not one of this tracker's.
// Source: Exalate docs, "getPriority" (issue.priority = nodeHelper.getPriority(priorityMapping[…] ?: "Medium")).
// Given on A: {"project": "SUP", "summary": "Outage", "priority": "Highest"}
// Expect ENG-1: {"priority": "High"}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
def priorityMapping = ["Highest": "High", "High": "High", "Medium": "Medium", "Low": "Low", "Lowest": "Low"]
issue.priority = nodeHelper.getPriority(priorityMapping[replica.priority?.name] ?: "Medium")
