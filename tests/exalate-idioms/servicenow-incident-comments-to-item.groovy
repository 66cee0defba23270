// Idiom: an incident's Additional comments travel as replica.comments and are merged on the
// other side with the ServiceNow author's name in front — the name the journal records for
// the entry (sys_created_by, the agent's user name).
// Source: Exalate docs, "How to Sync Comments in ServiceNow" (outgoing replica.comments = entity.comments; incoming mergeComments).
// Tracker: servicenow
// Given incident: {"short_description": "Wifi drops", "comments": "Happens every afternoon"}
// Expect ENG-1: {"summary": "Wifi drops", "comments": ["beth.anglin commented: Happens every afternoon"]}
// ---- outgoing on A
replica.key = entity.key
replica.summary = entity.short_description
replica.comments = entity.comments
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica)
