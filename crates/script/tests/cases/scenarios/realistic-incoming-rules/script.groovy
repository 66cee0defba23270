import groovy.json.JsonOutput

// typical incoming rules, written the way admins write them
final Map<String, String> PRIORITIES = [Highest: "1", High: "2", Medium: "3", Low: "4"]
def statusMap = ["To Do": "new", "In Progress": "active", "Done": "resolved"]

if (firstSync) {
    issue.projectKey = "OPS"
    issue.typeName   = "Incident"
}
issue.summary = replica.summary?.trim() ?: "(no summary)"
issue.description = replica.description
    .replaceAll(/<br\s*\/?>/, "\n")
    .replaceAll(/<[^>]+>/, "")
    .trim()
issue.priority = PRIORITIES[replica.priority?.name] ?: "3"
issue.state = statusMap.get(replica.status?.name, "new")
issue.labels = replica.labels*.toLowerCase().unique().sort()
def points = replica.customFields?."Story Points"?.value as Integer
issue.estimate = points ? points * 2 : 0
issue.team = replica.customFields?."Team"?.value ?: "unassigned"
issue.reporterEmail = replica.reporter?.email?.toLowerCase()

def publicComments = replica.comments.findAll { !it.internal }
issue.comments = publicComments.collect { c ->
    [body: "${c.author?.displayName ?: 'someone'} wrote: ${c.body}".toString(), remoteId: c.id]
}
issue.attachments = replica.attachments.findAll { a -> !(a.filename ==~ /.*\.(exe|bat)$/) }*.filename

def changed = previous == null ? ["all"] : replica.keySet().findAll { replica[it] != previous[it] }
StringBuilder sb = new StringBuilder()
sb.append(issue.summary).append(" / ").append(issue.state)
println "synced ${replica.key}: ${sb.toString()}"
println JsonOutput.toJson([labels: issue.labels, estimate: issue.estimate])
return [changed, issue.comments.size(), String.format("%s-%03d", issue.projectKey, points)]
