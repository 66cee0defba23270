// Idiom: store(issue) on a first sync persists the new item at once, so that its key is known
// to what the rules do next (Exalate's way before creating sub-items or comments that need it).
// Source: Exalate docs, "How to sync sub-tasks" / "store(issue)" in the incoming script.
// Given on A: {"project": "SUP", "summary": "Parent first"}
// Expect ENG-1: {"summary": "Parent first", "description": "stored as ENG-1"}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
    issue.summary = replica.summary
    store(issue)
}
issue.summary = replica.summary
issue.description = "stored as " + issue.key
