// Idiom: work notes sent with the Additional comments (entity.comments + entity.work_notes)
// arrive as internal comments; public ones stay public.
// Source: Exalate docs, "How to Sync Comments in ServiceNow" (work notes are internal comments; replica.comments = entity.comments + entity.work_notes).
// Tracker: servicenow
// Given incident: {"short_description": "Router swap", "comments": "We will swap it tonight", "work_notes": "Spare is in rack 4"}
// Expect ENG-1: {"comment_count": 2, "internal_comments": ["Spare is in rack 4"]}
// ---- outgoing on A
replica.key = entity.key
replica.summary = entity.short_description
replica.comments = entity.comments + entity.work_notes
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.comments = commentHelper.mergeComments(issue, replica, {it})
