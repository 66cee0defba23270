class Rules {
    static final List<String> SKIP = ["no-sync", "private"]

    static boolean shouldSync(issue) {
        !issue.labels.any { it in SKIP }
    }

    static String tier(issue) {
        switch (issue.customFields?."Tier"?.value) {
            case ["Gold", "Platinum"]: return "premium"
            case null: return "none"
            default: return "standard"
        }
    }
}

def urgency(String priority, int boost = 0) {
    def base = ["Highest": 1, "High": 2, "Medium": 3, "Low": 4][priority] ?: 3
    return Math.max(1, base - boost)
}

if (!Rules.shouldSync(issue)) {
    return
}
replica.key = issue.key
replica.summary = issue.summary
replica.description = issue.description ?: ""
replica.tier = Rules.tier(issue)
replica.urgency = urgency(issue.priority.name, replica.tier == "premium" ? 2 : 0)
replica.assignee = issue.assignee?.displayName ?: "unassigned"
replica.comments = []
for (c in issue.comments) {
    if (c.internal) continue
    replica.comments << [id: c.id, body: c.body, day: c.created.tokenize("-")[-1] as int]
}
def summary
try {
    summary = issue.summary.substring(0, 40)
} catch (StringIndexOutOfBoundsException e) {
    summary = issue.summary
} finally {
    replica.checked = true
}
replica.short = summary
replica.labels = issue.labels.collect { it.toUpperCase() }.join(";")
replica.status = [name: issue.status.name == "Done" ? "Resolved" : issue.status.name]
replica.size = replica.findAll { k, v -> v != null }.size()
return replica.size
