// Idiom: connect to a ServiceNow record that exists — the incoming rules look the incident up
// by the number the remote item carries (httpClient on the Table API) and return its key, made
// of sys_id, number and table, with the traces; no second incident is made.
// Source: Exalate community, "connect an existing ServiceNow incident from the incoming script" (return new scala.Tuple2(new BasicIssueKey(sys_id, number, "incident"), traces)).
// Tracker: servicenow
// Existing incident: {"short_description": "Mail down (ours)", "urgency": "2"}
// Given on B: {"project": "ENG", "summary": "Mail down", "custom_fields": {"Incident": "INC0010001"}}
// Expect incident: {"short_description": "Mail down (ours)", "urgency": "2"}
// Missing incident: Mail down
// ---- outgoing on B
replica.key = issue.key
replica.summary = issue.summary
replica.customFields."Incident" = issue.customFields."Incident"
// ---- incoming on A
def number = replica.customFields."Incident"?.value
if (firstSync && number) {
    def found = httpClient.get("/api/now/table/incident?sysparm_query=number=" + number + "&sysparm_limit=1")?.result
    if (found) {
        def key = new com.exalate.basic.domain.BasicIssueKey(found[0].sys_id, found[0].number, "incident")
        return new scala.Tuple2(key, scala.collection.JavaConverters.asScalaBuffer(traces).toSeq())
    }
}
if (firstSync) {
    entity.tableName = "incident"
}
entity.short_description = replica.summary
