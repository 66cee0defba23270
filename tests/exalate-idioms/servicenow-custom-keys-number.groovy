// Idiom: the ServiceNow side sends the incident number under replica.customKeys and the other
// side writes it into the description.
// Source: Exalate docs, "customKeys" (replica.customKeys."name" = …; read in the incoming rules).
// Tracker: servicenow
// Given incident: {"short_description": "Monitor flicker"}
// Expect ENG-1: {"summary": "Monitor flicker", "description": "ServiceNow INC0010001"}
// ---- outgoing on A
replica.key = entity.key
replica.summary = entity.short_description
replica.customKeys."incidentNumber" = entity.number
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.description = "ServiceNow " + replica.customKeys."incidentNumber"
