// Idiom: replica.customKeys carries structured data — a map with a list inside — that the
// incoming rules read back field by field (the labels in the order the tracker keeps them,
// alphabetical).
// Source: Exalate docs, "customKeys" (any value the outgoing rules put under replica.customKeys."name").
// Given on A: {"project": "SUP", "summary": "With context", "labels": ["vip", "emea"]}
// Expect ENG-1: {"description": "origin SUP-1; tags emea, vip; 2 tags"}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.customKeys."context" = [origin: issue.key, tags: issue.labels.collect { it.label }]
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
def context = replica.customKeys."context"
issue.description = "origin " + context.origin + "; tags " + context.tags.join(", ") + "; " + context.tags.size() + " tags"
