// Idiom: on ServiceNow the incoming rules make a rich-text description plain with
// nodeHelper.stripHtml before writing the description column.
// Source: Exalate docs, "stripHtml" (entity.description = nodeHelper.stripHtml(replica.description)).
// Tracker: servicenow
// Given on B: {"project": "ENG", "summary": "Formatted", "description": "<p>Reset the <em>token</em></p>"}
// Expect incident: {"short_description": "Formatted", "description": "Reset the token"}
// ---- incoming on A
if (firstSync) {
    entity.tableName = "incident"
}
entity.short_description = replica.summary
entity.description = nodeHelper.stripHtml(replica.description)
