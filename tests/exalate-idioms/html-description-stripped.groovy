// Idiom: a rich-text description from the other side (HTML, as ServiceNow, Azure DevOps and
// Zendesk send it) is made plain text with nodeHelper.stripHtml.
// Source: Exalate docs, "stripHtml" (issue.description = nodeHelper.stripHtml(replica.description)).
// Given on A: {"project": "SUP", "summary": "Rich text", "description": "<p>The printer is <b>jammed</b> again</p>"}
// Expect ENG-1: {"description": "The printer is jammed again"}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.description = nodeHelper.stripHtml(replica.description)
