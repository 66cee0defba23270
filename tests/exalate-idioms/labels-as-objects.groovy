// Idiom: labels are Label objects (it.label) that still compare equal to their text; new ones
// are made with nodeHelper.getLabel.
// Source: Exalate docs, "Label" structure (label) and "getLabel".
// Given on A: {"project": "SUP", "summary": "Tagged", "labels": ["urgent", "internal", "printer"]}
// Expect ENG-1: {"labels": ["PRINTER", "URGENT", "from-sup"]}
// ---- incoming on B
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
def kept = replica.labels.findAll { it.label != "internal" }
issue.labels = kept.collect { nodeHelper.getLabel(it.label.toUpperCase()) }
if (replica.labels.contains("urgent")) {
    issue.labels += nodeHelper.getLabel("from-sup")
}
