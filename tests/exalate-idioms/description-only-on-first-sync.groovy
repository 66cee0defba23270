// Idiom: a field set only when the item is created (firstSync), so later changes on the other
// side leave it as this side edited it, while the summary keeps following.
// Source: Exalate docs, "firstSync" (if (firstSync) { … } for what is set on creation only).
// Given on A: {"project": "SUP", "summary": "Draft title", "description": "original text"}
// Then on A: SUP-1 {"summary": "Final title", "description": "changed text"}
// Expect ENG-1: {"summary": "Final title", "description": "original text"}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
    issue.description = replica.description
}
issue.summary = replica.summary
