// Idiom: the ServiceNow outgoing rules send an incident's columns under Exalate's replica
// names (short_description as the summary, urgency as a priority name), and the other side
// creates an item from them.
// Source: Exalate docs, "ServiceNow supported entities" and the default ServiceNow outgoing sync (replica.summary = entity.short_description; replica.description = entity.description).
// Tracker: servicenow
// Given incident: {"short_description": "Disk full on db01", "description": "95% and rising", "urgency": "1"}
// Expect ENG-1: {"summary": "Disk full on db01", "description": "95% and rising", "priority": "High"}
// ---- outgoing on A
replica.key = entity.key
replica.summary = entity.short_description
replica.description = entity.description
def priorities = ["1": "High", "2": "Medium", "3": "Low"]
replica.priority = [name: priorities[entity.urgency] ?: "Medium"]
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.description = replica.description
issue.priority = nodeHelper.getPriority(replica.priority?.name)
