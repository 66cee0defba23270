// Idiom: on ServiceNow the incoming rules name the state by its label through a status map and
// set it with entity.setStatus; resolving also fills the close fields the state model asks for.
// Source: Exalate docs, "Status synchronization" for ServiceNow (statusMap, entity.setStatus(…)).
// Tracker: servicenow
// Given on B: {"project": "ENG", "summary": "VPN flaps", "status": "Done"}
// Expect incident: {"short_description": "VPN flaps", "state": "6", "close_code": "Solved (Permanently)"}
// ---- incoming on A
if (firstSync) {
    entity.tableName = "incident"
}
entity.short_description = replica.summary
def statusMap = ["To Do": "New", "In Progress": "In Progress", "Done": "Resolved"]
def remote = replica.status.name
entity.setStatus(statusMap[remote] ?: remote)
if (remote == "Done") {
    entity.close_code = "Solved (Permanently)"
    entity.close_notes = "Resolved in " + replica.key
}
