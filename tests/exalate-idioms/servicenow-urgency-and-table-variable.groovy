// Idiom: the incoming rules branch on entityType and write through the variable named after
// the table (incident.…); urgency and impact are set from their names with
// nodeHelper.getUrgency / getImpact.
// Source: Exalate docs, "getUrgency" (entity.urgency = nodeHelper.getUrgency("Low")) and "How to sync any entity in ServiceNow".
// Tracker: servicenow
// Given on B: {"project": "ENG", "summary": "Slow wiki", "priority": "Low"}
// Expect incident: {"short_description": "Slow wiki", "urgency": "3", "impact": "2"}
// ---- incoming on A
if (firstSync) {
    entity.tableName = "incident"
}
if (entityType == "incident") {
    incident.short_description = replica.summary
    def urgencies = ["Highest": "High", "High": "High", "Medium": "Medium", "Low": "Low", "Lowest": "Low"]
    incident.urgency = nodeHelper.getUrgency(urgencies[replica.priority.name])
    incident.impact = nodeHelper.getImpact("Medium")
}
