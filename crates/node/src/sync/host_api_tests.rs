//! The Exalate host API as the rules see it (issue 15, "The Exalate host API that real scripts
//! use"): each test reproduces what a real script does and checks Exalate's documented result.

use serde_json::{Value, json};

use super::helpers::testing::Fixture;
use super::rules::{self, IncomingInput, IncomingOutcome, RuleError};

fn out(script: &str, item: Value) -> Result<Value, RuleError> {
    let fixture = Fixture::new();
    rules::outgoing(script, &item, &fixture.env()).map(|o| o.replica)
}

fn input(replica: Value, first_sync: bool, item: Value) -> IncomingInput {
    IncomingInput {
        replica,
        previous: None,
        first_sync,
        item,
        comment_twins: vec![],
        attachment_twins: vec![],
        journals: false,
    }
}

fn inc(script: &str, input: IncomingInput) -> Result<IncomingOutcome, RuleError> {
    let fixture = Fixture::new();
    rules::incoming(script, input, &fixture.env())
}

fn item() -> Value {
    json!({"id": "SUP-1", "key": "SUP-1", "projectKey": "SUP", "summary": "Checkout fails",
           "status": {"name": "To Do"}, "labels": ["urgent", "printer"],
           "type": {"name": "Bug"}, "issueType": {"name": "Bug"}, "typeName": "Bug",
           "parentId": null, "customFields": {}, "comments": [], "attachments": []})
}

#[test]
fn set_status_names_a_built_in_status_in_any_case_on_all_three_names() {
    for script in [
        "issue.setStatus('In Progress')",
        "workItem.setStatus('in progress')",
        "entity.setStatus(nodeHelper.getStatus('IN PROGRESS'))",
        "def m = ['Open': 'In Progress']\nissue.setStatus(m[replica.status.name] ?: replica.status.name)",
    ] {
        let applied = inc(
            script,
            input(json!({"status": {"name": "Open"}}), false, item()),
        )
        .unwrap_or_else(|e| panic!("{script}: {e:?}"));
        assert_eq!(
            applied.item["status"],
            json!({"name": "In Progress"}),
            "{script}"
        );
    }
}

#[test]
fn set_status_to_a_status_the_tracker_lacks_fails_naming_it_and_the_line() {
    let e = inc(
        "issue.summary = 'x'\nissue.setStatus('Resolved')",
        input(json!({}), false, item()),
    )
    .unwrap_err();
    assert!(
        e.message.contains(
            "'Resolved' is not a status of the built-in tracker (To Do, In Progress, Done)"
        ),
        "{}",
        e.message
    );
    assert!(e.trace.unwrap().contains(":2:"));
}

#[test]
fn custom_keys_is_a_map_on_every_replica_and_travels_only_when_filled() {
    let replica = out(
        "replica.summary = issue.summary\nreplica.customKeys.origin = issue.key\nreplica.customKeys.'n' = 2",
        item(),
    )
    .unwrap();
    assert_eq!(replica["customKeys"], json!({"origin": "SUP-1", "n": 2}));
    // Unfilled, it is not sent (the replica stays what it was).
    let replica = out("replica.summary = issue.summary", item()).unwrap();
    assert_eq!(replica, json!({"summary": "Checkout fails"}));
    // Received: a map even when the remote sent none, never a did-you-mean to customFields.
    let applied = inc(
        "issue.summary = (replica.customKeys.origin ?: 'none') + '/' + replica.customKeys.size()",
        input(json!({"summary": "s"}), false, item()),
    )
    .unwrap();
    assert_eq!(applied.item["summary"], "none/0");
    let applied = inc(
        "issue.summary = replica.customKeys.origin",
        input(json!({"customKeys": {"origin": "ENG-7"}}), false, item()),
    )
    .unwrap();
    assert_eq!(applied.item["summary"], "ENG-7");
}

#[test]
fn first_sync_is_bound_in_the_outgoing_rules_true_until_the_item_was_sent() {
    let fixture = Fixture::new();
    let script = "replica.first = firstSync";
    // SUP-2 has no twin on this connection.
    let env = fixture.env().with_item_key("SUP-2".parse().unwrap());
    let r = rules::outgoing(script, &item(), &env).unwrap();
    assert_eq!(r.replica["first"], true);
    fixture.mark_sent("SUP-2");
    let env = fixture.env().with_item_key("SUP-2".parse().unwrap());
    let r = rules::outgoing(script, &item(), &env).unwrap();
    assert_eq!(r.replica["first"], false);
}

#[test]
fn the_item_has_its_id_project_type_and_parent() {
    let replica = out(
        "replica.r = [issue.id, issue.project.key, issue.project.name, issue.type.name, issue.issueType.name, issue.typeName, issue.parentId, issue.resolution]",
        item(),
    )
    .unwrap();
    assert_eq!(
        replica["r"],
        json!(["SUP-1", "SUP", "Support", "Bug", "Bug", "Bug", null, null])
    );
    // The type is written under any of its names; the parent by its id (the key here).
    let applied = inc(
        "issue.typeName = 'Sub-task'\nissue.parentId = 'SUP-2'",
        input(json!({}), false, item()),
    )
    .unwrap();
    assert_eq!(applied.item["typeName"], "Sub-task");
    assert_eq!(applied.item["parentId"], "SUP-2");
    assert!(
        applied.item.get("project").is_none(),
        "a view, not written back"
    );
}

#[test]
fn labels_are_label_objects_that_still_equal_their_text() {
    let replica = out(
        "replica.labels = issue.labels\n\
         replica.r = [issue.labels*.label, issue.labels.contains('urgent'), issue.labels[0] == 'urgent', 'urgent' == issue.labels[0], issue.labels.collect { it.toUpperCase() }, issue.labels.join(','), issue.labels.sort()*.label]",
        item(),
    )
    .unwrap();
    // Travel as text (sorted: Groovy's `sort()` sorts the list itself, which the replica holds).
    assert_eq!(replica["labels"], json!(["printer", "urgent"]));
    assert_eq!(
        replica["r"],
        json!([
            ["urgent", "printer"],
            true,
            true,
            true,
            ["URGENT", "PRINTER"],
            "urgent,printer",
            ["printer", "urgent"]
        ])
    );
    // Received labels are Labels too, and a list of them is written back as text.
    let applied = inc(
        "issue.labels = replica.labels.findAll { it.label != 'internal' } + nodeHelper.getLabel('seen')",
        input(json!({"labels": ["a", "internal"]}), false, item()),
    )
    .unwrap();
    assert_eq!(applied.item["labels"], json!(["a", "seen"]));
}

#[test]
fn get_user_by_email_takes_the_project_as_a_second_argument() {
    let replica = out(
        "replica.r = nodeHelper.getUserByEmail('ana@example.com', issue.projectKey)",
        item(),
    )
    .unwrap();
    assert_eq!(
        replica["r"],
        json!({"displayName": "ana@example.com", "email": "ana@example.com"})
    );
}

#[test]
fn get_local_issue_from_remote_id_finds_the_twin_on_this_connection() {
    // SUP-1 is twinned with ENG-7 on `desk`; SUP-2's twin is on another connection.
    let replica = out(
        "replica.r = [nodeHelper.getLocalIssueFromRemoteId('ENG-7')?.key, nodeHelper.getLocalIssueFromRemoteId('OPS-1'), nodeHelper.getLocalIssueFromRemoteId(null)]",
        item(),
    )
    .unwrap();
    assert_eq!(replica["r"], json!(["SUP-1", null, null]));
}

#[test]
fn a_first_sync_returning_a_key_and_traces_connects_to_that_item() {
    let blank = json!({"key": null, "id": null, "summary": "", "customFields": {}, "comments": [], "labels": []});
    for script in [
        "def key = new com.exalate.basic.domain.BasicIssueKey('SUP-2', 'SUP-2')\nreturn new scala.Tuple2(key, scala.collection.JavaConverters.asScalaBuffer(traces).toSeq())",
        "import com.exalate.basic.domain.BasicIssueKey\nreturn new scala.Tuple2(new BasicIssueKey(null, 'SUP-2', 'issue'), traces)",
        "if (firstSync) { issue.key = 'SUP-2'; return }",
    ] {
        let applied = inc(script, input(json!({"key": "ENG-9"}), true, blank.clone()))
            .unwrap_or_else(|e| panic!("{script}: {e:?}"));
        let to = applied
            .connect
            .unwrap_or_else(|| panic!("{script}: no connect"));
        assert_eq!(to.key.as_deref(), Some("SUP-2"), "{script}");
        assert!(!to.stored);
    }
    // Not on a later sync: the script's result means nothing then.
    let applied = inc(
        "return new scala.Tuple2(new com.exalate.basic.domain.BasicIssueKey('SUP-2', 'SUP-2'), traces)",
        input(json!({}), false, item()),
    )
    .unwrap();
    assert!(applied.connect.is_none());
}

#[test]
fn comment_traces_the_rules_add_are_read_back() {
    let applied = inc(
        "import com.exalate.api.domain.twintrace.TraceType\n\
         def trace = new com.exalate.basic.domain.BasicNonPersistentTrace()\n\
             .setType(TraceType.COMMENT)\n\
             .setToSynchronize(true)\n\
             .setLocalId('12')\n\
             .setRemoteId('r-7')\n\
             .setAction(com.exalate.api.domain.twintrace.TraceAction.NONE)\n\
         traces.add(trace)\n\
         issue.summary = [traces.size(), traces[0].localId, traces.find { it.remoteId == 'r-7' }?.localId, trace.type].join('/')",
        input(json!({}), false, item()),
    )
    .unwrap();
    assert_eq!(applied.item["summary"], "1/12/12/COMMENT");
    assert_eq!(
        applied.comment_traces,
        vec![("12".to_owned(), "r-7".to_owned())]
    );
    let e = inc(
        "def t = com.exalate.api.domain.twintrace.TraceType.COMENT",
        input(json!({}), false, item()),
    )
    .unwrap_err();
    assert!(
        e.message.contains("TraceType has no constant COMENT"),
        "{}",
        e.message
    );
}

#[test]
fn another_platforms_api_says_whose_it_is_and_what_this_node_serves() {
    for (script, said) in [
        (
            "nodeHelper.getOption(issue, 'Colour', 'Red')",
            "nodeHelper.getOption is a Jira API; this node serves the built-in tracker — see docs/exalate-api.md",
        ),
        (
            "nodeHelper.getCascadingSelect('a', 'b')",
            "nodeHelper.getCascadingSelect is a Jira API; this node serves the built-in tracker",
        ),
        (
            "nodeHelper.getUrgency('Low')",
            "nodeHelper.getUrgency is a ServiceNow API; this node serves the built-in tracker",
        ),
        (
            "def m = com.atlassian.jira.component.ComponentAccessor.getIssueManager()",
            "ComponentAccessor.getIssueManager is a Jira Data Center API; this node serves the built-in tracker",
        ),
        (
            "httpClient.get('/rest/api/3/issue/' + issue.key)",
            "httpClient GET /rest/api/3/issue/SUP-1: that is the Jira REST API; this node serves the built-in tracker",
        ),
        (
            "httpClient.post('/services/data/v54.0/sobjects/CaseComment', '{}')",
            "that is the Salesforce REST API; this node serves the built-in tracker",
        ),
        (
            "httpClient.get('/DefaultCollection/_apis/wit/workitems/1')",
            "that is the Azure DevOps REST API",
        ),
        (
            "workflowHelper.transition(issue, 'Done')",
            "workflowHelper is a Jira API (workflow transitions); this node serves the built-in tracker: set the status with issue.setStatus(\"Done\")",
        ),
        (
            "replica.summary = left.issue.summary",
            "`left` is a name of Visual mode's rules, and Visual mode's rules are not scripts",
        ),
        (
            "right.issue.summary = 'x'",
            "`right` is a name of Visual mode's rules",
        ),
    ] {
        let e = out(script, item()).unwrap_err();
        assert!(e.message.contains(said), "{script}: {}", e.message);
        assert!(
            !e.message.contains("did you mean"),
            "{script}: {}",
            e.message
        );
    }
}

#[test]
fn an_unknown_node_helper_method_lists_the_methods_there_are() {
    let e = out("nodeHelper.getStuff('x')", item()).unwrap_err();
    assert!(
        e.message.contains("no method 'getStuff' on NodeHelper")
            && e.message.contains("its methods: getStatus, getPriority, ")
            && e.message.contains("getLocalIssueFromRemoteId"),
        "{}",
        e.message
    );
}

#[test]
fn messages_name_exalates_objects_never_an_internal_type() {
    let e = out("issue.setStatuss('Done')", item()).unwrap_err();
    assert!(
        e.message
            .contains("no method 'setStatuss' on Issue; did you mean 'setStatus'?"),
        "{}",
        e.message
    );
    let e = out("replica.frobnicate()", item()).unwrap_err();
    assert!(e.message.contains("on Replica"), "{}", e.message);
    assert!(!e.message.contains("LinkedHashMap"), "{}", e.message);
    let e = inc("replica.frobnicate()", input(json!({}), false, item())).unwrap_err();
    assert!(e.message.contains("on Replica"), "{}", e.message);
    let e = out("[a: 1].frobnicate()", item()).unwrap_err();
    assert!(
        e.message.contains("on a map") && !e.message.contains("LinkedHashMap"),
        "{}",
        e.message
    );
}

#[test]
fn host_objects_have_a_class_as_exalates_do_for_log_lines() {
    let replica = out(
        "replica.a = issue.class.simpleName\nreplica.b = replica.class.simpleName\nreplica.c = nodeHelper.class.simpleName\nreplica.d = \"${issue.class.simpleName} ${issue.key}\"",
        item(),
    )
    .unwrap();
    assert_eq!(replica["a"], "Issue");
    assert_eq!(replica["b"], "Replica");
    assert_eq!(replica["c"], "NodeHelper");
    assert_eq!(replica["d"], "Issue SUP-1");
    // A plain map's `class` stays its key, as in Groovy.
    let replica = out(
        "replica.e = [class: 'x'].class\nreplica.f = [a: 1].class",
        item(),
    )
    .unwrap();
    assert_eq!(replica["e"], "x");
    assert_eq!(replica["f"], Value::Null);
}

#[test]
fn names_exalate_has_are_never_suggested_as_other_names() {
    // `customKeys` is a property of every replica: never "did you mean customFields".
    let replica = out(
        "replica.customKeys.x = 1\nreplica.y = replica.customKeys.x",
        item(),
    )
    .unwrap();
    assert_eq!(replica["y"], 1);
    let applied = inc(
        "issue.summary = replica.customKeys.origin ?: 'none'",
        input(json!({"summary": "s"}), false, item()),
    )
    .unwrap();
    assert_eq!(applied.item["summary"], "none");
    // `workflowHelper` is Jira's, said so, never "did you mean workLogHelper".
    let e = inc(
        "workflowHelper.transition(issue, 'Done')",
        input(json!({}), false, item()),
    )
    .unwrap_err();
    assert!(
        e.message.contains("workflowHelper is a Jira API") && !e.message.contains("workLogHelper"),
        "{}",
        e.message
    );
}

#[test]
fn no_message_names_an_internal_java_type() {
    for script in [
        "replica.x = issue.frobnicate()",
        "replica.x = issue.customFields.frobnicate()",
        "replica.x = [a: 1].frobnicate()",
        "replica.x = [1, 2].frobnicate()",
        "replica.x = ([1] as Set).frobnicate()",
        "replica.x = issue.labels.frobnicate()",
        "replica.x = nodeHelper.frobnicate()",
    ] {
        let e = out(script, item()).unwrap_err();
        for internal in [
            "LinkedHashMap",
            "ArrayList",
            "HashMap",
            "Rc<",
            "RefCell",
            "Value::",
        ] {
            assert!(!e.message.contains(internal), "{script}: {}", e.message);
        }
    }
}
