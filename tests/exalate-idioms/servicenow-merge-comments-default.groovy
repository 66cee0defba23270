// Idiom: on ServiceNow the default comment merge — comments received become Additional
// comments of the record, each with its author's name in front.
// Source: Exalate docs, "How to Sync Comments in ServiceNow" (entity.comments = commentHelper.mergeComments(entity, replica)).
// Tracker: servicenow
// Given on B: {"project": "ENG", "summary": "Badge reader dead", "comments": [{"body": "Still dead on floor 3", "author": {"name": "Ana Diaz"}}]}
// Expect incident: {"short_description": "Badge reader dead", "comments": ["Ana Diaz commented: Still dead on floor 3"], "work_notes": []}
// ---- incoming on A
if (firstSync) {
    entity.tableName = "incident"
}
entity.short_description = replica.summary
entity.comments = commentHelper.mergeComments(entity, replica)
