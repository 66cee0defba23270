// Idiom: replica.customKeys carries extra data the outgoing rules compute (here the sender's
// key and priority), and the incoming rules read it from the same place.
// Source: Exalate docs, "customKeys" (replica.customKeys."name" = …).
// Given on A: {"project": "SUP", "summary": "Needs context", "priority": "High"}
// Expect ENG-1: {"description": "Sent from SUP-1 at priority High"}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.customKeys."Origin" = issue.key
replica.customKeys.priorityName = issue.priority.name
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.description = "Sent from " + replica.customKeys."Origin" + " at priority " + replica.customKeys.priorityName
