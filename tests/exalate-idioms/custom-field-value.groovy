// Idiom: a custom field travels as the field object and is written through its value.
// Source: Exalate docs, "How to sync custom fields" (replica.customFields."X" = issue.customFields."X"; issue.customFields."X".value = replica.customFields."X"?.value).
// Given on A: {"project": "SUP", "summary": "Big customer", "custom_fields": {"Customer Tier": "Gold"}}
// Expect ENG-1: {"custom_fields": {"Customer Tier": "Gold"}}
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.customFields."Customer Tier" = issue.customFields."Customer Tier"
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.customFields."Customer Tier".value = replica.customFields."Customer Tier"?.value
