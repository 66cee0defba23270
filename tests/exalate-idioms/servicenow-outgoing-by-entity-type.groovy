// Idiom: the ServiceNow outgoing rules branch on entityType and read the record through the
// variable named after its table (incident.short_description).
// Source: Exalate docs, "How to sync any entity in ServiceNow" (if (entityType == "incident") { replica.summary = incident.short_description … }).
// Tracker: servicenow
// Given incident: {"short_description": "Toner low", "description": "Floor 2 printer"}
// Expect ENG-1: {"summary": "Toner low", "description": "incident: Floor 2 printer"}
// ---- outgoing on A
if (entityType == "incident") {
    replica.key = incident.key
    replica.summary = incident.short_description
    replica.description = entityType + ": " + incident.description
}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.description = replica.description
