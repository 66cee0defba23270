// Idiom: connect to an item that exists already — on a first sync the incoming rules look up
// the local item the remote one names and return its key with the traces (a Tuple2 of a
// BasicIssueKey and the traces), so that no new item is made and later changes flow between
// the two.
// Source: Exalate docs and community, "connect an existing issue from the incoming script" (return new scala.Tuple2(issueKey, traces)).
// Existing on B: {"project": "ENG", "summary": "Printer on fire (ours)"}
// Given on A: {"project": "SUP", "summary": "Printer on fire", "custom_fields": {"Their key": "ENG-1"}}
// Expect ENG-1: {"summary": "Printer on fire (ours)"}
// Missing: ENG-2
// ---- outgoing on A
replica.key = issue.key
replica.summary = issue.summary
replica.customFields."Their key" = issue.customFields."Their key"
// ---- incoming on B
def target = replica.customFields."Their key"?.value
if (firstSync && target) {
    def local = nodeHelper.getIssue(target)
    if (local) {
        def issueKey = new com.exalate.basic.domain.BasicIssueKey(local.id, local.key)
        return new scala.Tuple2(issueKey, scala.collection.JavaConverters.asScalaBuffer(traces).toSeq())
    }
}
if (firstSync) {
    issue.projectKey = "ENG"
}
issue.summary = replica.summary
