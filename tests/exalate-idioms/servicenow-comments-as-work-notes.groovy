// Idiom: on ServiceNow, comments received as internal ones ({it.internal = true}) become work
// notes, not Additional comments the caller sees.
// Source: Exalate docs, "How to Sync Comments in ServiceNow" ("update work notes as internal comments": mergeComments(entity, replica, {it.internal = true})).
// Tracker: servicenow
// Given on B: {"project": "ENG", "summary": "Patch pending", "comments": [{"body": "Vendor fix due Friday", "author": {"name": "Bo Chen"}}]}
// Expect incident: {"short_description": "Patch pending", "work_notes": ["Vendor fix due Friday"], "comments": []}
// ---- incoming on A
if (firstSync) {
    entity.tableName = "incident"
}
entity.short_description = replica.summary
entity.comments = commentHelper.mergeComments(entity, replica, {it.internal = true})
