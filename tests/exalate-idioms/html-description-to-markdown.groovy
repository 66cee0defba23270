// Idiom: an HTML description converted to markdown with nodeHelper.toMarkDownFromHtml, so that
// emphasis and lists survive as markup.
// Source: Exalate docs, "toMarkDownFromHtml" (issue.description = nodeHelper.toMarkDownFromHtml(replica.description)).
// Given on A: {"project": "SUP", "summary": "Steps", "description": "<p>Run <strong>safe mode</strong></p>"}
// Expect ENG-1: {"description": "Run **safe mode**"}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
issue.description = nodeHelper.toMarkDownFromHtml(replica.description)
