//! Runs a connection's sync rules. Scripts are compiled and run on a blocking thread (script
//! values are not `Send`); what goes in and comes out is JSON, so the async engine never holds
//! a script value.
//!
//! - Outgoing: the local item (see [`super::item_json`]) as `issue`, `entity` and `workItem`
//!   (one object, three names) and an empty `replica`; the replica the rules fill is the
//!   result.
//! - Incoming: `replica` (with `addedComments`, `changedComments`, `removedComments`,
//!   `addedAttachments`, `removedAttachments` added), `previous` (the last replica received, or
//!   null), `firstSync`, and the local item as `issue`/`entity`/`workItem`; the item the rules
//!   leave is the result.
//!
//! Both runs also bind `firstSync` (outgoing: true until a replica of the item was sent on the
//! connection), the item's methods (`issue.setStatus`, see [`super::entity`]), Exalate's
//! classes ([`super::exalate`]), `replica.customKeys` (a map on every replica), and on
//! ServiceNow `entityType` and the record under its table's name; the incoming run binds
//! `traces` and `store` too. The names Exalate has elsewhere (`workflowHelper`, Visual mode's
//! `left` and `right`) say so ([`super::platforms`]).
//!
//! Both runs bind `connection` (its name, short names, mode, role and remote node), `debug`,
//! `nodeHelper`, `syncHelper`, `workLogHelper` and `httpClient` (see [`super::helpers`]) and
//! `commentHelper` (here: `mergeComments`, `addComment`, `filterLocal`); the incoming run also
//! binds `attachmentHelper` (here). Each outcome carries the lines `debug.info` and
//! `debug.warn` logged; when a run fails, those lines end its trace, so that the errors page
//! shows what the script logged first.
//!
//! As Exalate's: a `mergeComments` closure gets each comment to add and changes it in place
//! (`it.body`, `it.internal`, `it.executor` — who writes it); what it returns counts only when
//! that is a comment. A custom field the remote did not send reads null in `replica` and
//! `previous`, and a field's wrapper is never written as text. On the built-in tracker the
//! local item reads as an object of fixed properties: a property it lacks that Exalate's
//! `issue` does not have either (`issue.statusd`) is a MissingPropertyException naming it.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{Value, json};
use tandem_model::{
    AttachmentDelta, AttachmentOp, AttachmentTwin, CommentDelta, CommentOp, CommentSpec,
    CommentTwin, LocalAttachment, LocalComment, Replica, ReplicaAttachment, ReplicaComment,
    attachment_delta, comment_delta, default_comment_format, merge_attachments, merge_comments,
};
use tandem_script::{
    HostObject, Invoker, Limits, Script, ScriptError, binding, from_json, to_json,
};

use super::helpers::{self, Env, Run};
use super::item_json::{unwrap_custom_fields, wrap_custom_fields, wrap_received_custom_fields};

/// A rule that failed: which script, the message, and the rendered trace (line, caret, stack).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {which} rules failed: {message}")]
pub struct RuleError {
    pub which: &'static str,
    pub message: String,
    /// The failing line with a caret and the script stack; `None` when no script ran.
    pub trace: Option<String>,
    /// `true` when the script does not compile: the whole connection waits, not one item.
    pub compile: bool,
}

fn failed(which: &'static str, source: &str, e: &ScriptError, compile: bool) -> RuleError {
    RuleError {
        which,
        message: e.message.clone(),
        trace: Some(e.render(source, which)),
        compile,
    }
}

/// A run that failed, with what `debug` logged before it did at the end of the trace.
fn run_failed(which: &'static str, source: &str, e: &ScriptError, log: &[String]) -> RuleError {
    let mut error = failed(which, source, e, false);
    if !log.is_empty()
        && let Some(trace) = &mut error.trace
    {
        trace.push_str("\nLogged before the failure:\n");
        trace.push_str(&log.join("\n"));
    }
    error
}

/// The properties of Exalate's `issue` (on any of its trackers) that the built-in tracker's
/// item may lack: they read null. Any other property the item lacks (`issue.statusd`) is a
/// MissingPropertyException naming it, as in Exalate, not a silent null.
const ISSUE_PROPERTIES: &[&str] = &[
    "id",
    "key",
    "projectKey",
    "project",
    "summary",
    "description",
    "status",
    "priority",
    "assignee",
    "reporter",
    "creator",
    "labels",
    "components",
    "fixVersions",
    "affectedVersions",
    "versions",
    "due",
    "dueDate",
    "created",
    "updated",
    "resolution",
    "resolutionDate",
    "environment",
    "originalEstimate",
    "remainingEstimate",
    "timeSpent",
    "estimate",
    "spent",
    "type",
    "typeName",
    "issueType",
    "parentId",
    "parent",
    "customFields",
    "customKeys",
    "comments",
    "attachments",
    "workLogs",
    "watchers",
    "votes",
    "securityLevel",
    "issueLinks",
    "url",
    "areaPath",
    "iterationPath",
    "state",
    "tags",
    "remoteId",
];

/// The local item as an object of fixed properties, on the built-in tracker. A ServiceNow
/// record (it names its table) has whatever columns its table has: there a column the record
/// lacks reads null.
fn strict_issue(
    issue: &tandem_script::Value,
    item: &Value,
    env: &Env,
) -> Vec<tandem_script::Strict> {
    if env.serves_servicenow() || item.get("tableName").is_some() {
        return Vec::new();
    }
    vec![tandem_script::Strict {
        map: issue.clone(),
        class: "Issue".into(),
        known: ISSUE_PROPERTIES.iter().map(|p| (*p).to_owned()).collect(),
    }]
}

/// The budgets one rule run gets, and its clock: the node's, or the time a Test run fixed
/// ([`Env::with_clock`]), which `new Date()` and `Instant.now()` in the rules read.
pub fn limits(env: &Env) -> Limits {
    Limits {
        clock: Some(env.clock()),
        ..Limits::default()
    }
}

/// Scripts compiled on this thread, newest last: a connection's rules run for every item, and
/// compiling them each time would cost as much as running them. Kept per thread (rules run on
/// the blocking pool's threads), keyed by the whole source, so an edited rule is a new entry.
const COMPILED_PER_THREAD: usize = 16;

/// A compiled rule, the custom field names its source mentions ([`custom_field_names`]) and
/// whether it reads `firstSync` (the outgoing run then asks the store whether the item was
/// ever sent; rules that do not read it cost no lookup).
#[derive(Clone)]
struct Compiled {
    script: Rc<Script>,
    names: Rc<[String]>,
    first_sync: bool,
    /// Whether it reads `….project` (the project's name is then looked up).
    project: bool,
}

/// Whether `source` reads a `project` property (`issue.project.name`, not `projectKey`).
fn mentions_project(source: &str) -> bool {
    source.match_indices(".project").any(|(at, m)| {
        !source[at + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

thread_local! {
    static COMPILED: RefCell<Vec<(String, Compiled)>> = const { RefCell::new(Vec::new()) };
}

/// `source` compiled, from this thread's cache when it holds it.
fn compiled(source: &str) -> Result<Compiled, tandem_script::ScriptError> {
    let cached = COMPILED.with_borrow(|cache| {
        cache
            .iter()
            .find(|(s, _)| s == source)
            .map(|(_, compiled)| compiled.clone())
    });
    if let Some(compiled) = cached {
        return Ok(compiled);
    }
    let compiled = Compiled {
        script: Rc::new(Script::compile(source)?),
        names: custom_field_names(source).into(),
        first_sync: source.contains("firstSync"),
        project: mentions_project(source),
    };
    COMPILED.with_borrow_mut(|cache| {
        if cache.len() >= COMPILED_PER_THREAD {
            cache.remove(0);
        }
        cache.push((source.to_owned(), compiled.clone()));
    });
    Ok(compiled)
}

/// Compiles `source`; the error names the line and column.
pub fn check(which: &'static str, source: &str) -> Result<(), RuleError> {
    Script::compile(source)
        .map(|_| ())
        .map_err(|e| failed(which, source, &e, true))
}

/// What the outgoing rules produced.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingOutcome {
    pub replica: Value,
    /// What `debug.info` and `debug.warn` logged, each line prefixed with its level.
    pub log: Vec<String>,
}

/// Runs the outgoing rules on `item`; returns the replica.
pub fn outgoing(source: &str, item: &Value, env: &Env) -> Result<OutgoingOutcome, RuleError> {
    const WHICH: &str = "outgoing";
    let Compiled {
        script,
        names,
        first_sync,
        project,
    } = compiled(source).map_err(|e| failed(WHICH, source, &e, true))?;
    // Every replica has `customKeys`, a map the rules may fill with anything (sent only when
    // they do).
    let mut replica = json!({"customKeys": {}});
    wrap_custom_fields(&mut replica, &names, true);
    let replica = from_json(&replica);
    let first_sync = first_sync
        && env.never_sent().map_err(|message| RuleError {
            which: WHICH,
            message,
            trace: None,
            compile: false,
        })?;
    let bound = helpers::bind(env, Run::Outgoing);
    // One object under three names: a change through one shows through the others.
    let mut item = item.clone();
    wrap_custom_fields(&mut item, &names, false);
    if project {
        add_project(&mut item, env).map_err(|message| RuleError {
            which: WHICH,
            message,
            trace: None,
            compile: false,
        })?;
    }
    let issue = local_item(&item, env);
    let setup = setup(&issue, &item, env);
    let comment_helper = Rc::new(CommentHelper::default());
    let vars = binding(
        [
            ("issue", issue.clone()),
            ("entity", issue.clone()),
            ("workItem", issue.clone()),
            ("replica", replica.clone()),
            ("firstSync", tandem_script::Value::Bool(first_sync)),
            ("commentHelper", tandem_script::Value::Host(comment_helper)),
        ]
        .into_iter()
        .chain(bound.variables),
    );
    let mut vars = vars;
    add_table_variables(&mut vars, &issue, &item, env, false);
    let mut setup = setup;
    setup
        .methods
        .push((replica.clone(), Rc::new(super::entity::Named("Replica"))));
    let outcome = script.run_with(vars, &limits(env), setup);
    let log = bound.debug.take_log();
    outcome
        .result
        .map_err(|e| run_failed(WHICH, source, &e, &log))?;
    // The rules may have assigned a new map to `replica`; read it back from the binding.
    let mut replica = outcome
        .variables
        .get("replica")
        .map(to_json)
        .unwrap_or(Value::Null);
    // Custom fields travel as their raw values; one without a value is not sent.
    unwrap_custom_fields(&mut replica, None);
    if let Some(map) = replica.as_object_mut()
        && map
            .get("customKeys")
            .and_then(Value::as_object)
            .is_some_and(|k| k.is_empty())
    {
        map.remove("customKeys");
    }
    if let Some(map) = replica.as_object_mut()
        && map
            .get("customFields")
            .and_then(Value::as_object)
            .is_some_and(|f| f.is_empty())
        && !names.is_empty()
    {
        map.remove("customFields");
    }
    if !replica.is_object() {
        return Err(RuleError {
            which: WHICH,
            message: "the rules left `replica` as something that is not a map".into(),
            trace: None,
            compile: false,
        });
    }
    Ok(OutgoingOutcome { replica, log })
}

/// What the incoming rules get.
pub struct IncomingInput {
    pub replica: Value,
    pub previous: Option<Value>,
    pub first_sync: bool,
    pub item: Value,
    /// The item's comment and attachment links on this connection.
    pub comment_twins: Vec<CommentTwin>,
    pub attachment_twins: Vec<AttachmentTwin>,
    /// The item is a ServiceNow record: `comments` holds public comments and `work_notes`
    /// internal ones, whatever the appended remote comments say.
    pub journals: bool,
}

/// What the incoming rules decided.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingOutcome {
    /// The `issue` the rules left.
    pub item: Value,
    /// What `commentHelper.mergeComments` decided, when the rules called it.
    pub comment_ops: Vec<CommentOp>,
    /// What `attachmentHelper.mergeAttachments` decided, when the rules called it.
    pub attachment_ops: Vec<AttachmentOp>,
    /// Comments the rules added with `commentHelper.addComment`: new local comments, copies
    /// of nothing on the remote.
    pub new_comments: Vec<NewLocalComment>,
    /// `syncHelper.syncBackAfterProcessing()` was called: once applied, send this side's
    /// replica back even if it did not change.
    pub sync_back: bool,
    /// `syncHelper.unExalateAfterProcessing()` was called: once applied, stop syncing.
    pub unexalate: bool,
    /// What `debug.info` and `debug.warn` logged, each line prefixed with its level.
    pub log: Vec<String>,
    /// On a first sync: the local item the rules connected the remote one to (they returned
    /// Exalate's `Tuple2(BasicIssueKey, traces)`), instead of making a new one.
    pub connect: Option<super::exalate::ConnectTo>,
    /// Comment links the rules made (`traces`): (local comment id, remote comment id).
    pub comment_traces: Vec<(String, String)>,
}

/// A comment the incoming rules added with `commentHelper.addComment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLocalComment {
    pub body: String,
    pub internal: bool,
}

fn bad_replica(e: impl std::fmt::Display) -> RuleError {
    RuleError {
        which: "incoming",
        message: format!("the replica received is malformed: {e}"),
        trace: None,
        compile: false,
    }
}

/// Runs the incoming rules; returns the `issue` they leave and the comment and attachment
/// changes the helpers decided.
pub fn incoming(
    source: &str,
    input: IncomingInput,
    env: &Env,
) -> Result<IncomingOutcome, RuleError> {
    const WHICH: &str = "incoming";
    let Compiled {
        script,
        names,
        project,
        ..
    } = compiled(source).map_err(|e| failed(WHICH, source, &e, true))?;
    let current = Replica::from_json(input.replica.clone()).map_err(bad_replica)?;
    let previous = input
        .previous
        .clone()
        .map(Replica::from_json)
        .transpose()
        .map_err(bad_replica)?;
    let comments = comment_delta(previous.as_ref(), &current).map_err(bad_replica)?;
    let attachments = attachment_delta(previous.as_ref(), &current).map_err(bad_replica)?;

    let mut replica = input.replica.clone();
    if let Some(map) = replica.as_object_mut() {
        let comment_list =
            |items: &[ReplicaComment]| Value::Array(items.iter().map(comment_json).collect());
        map.insert("addedComments".into(), comment_list(&comments.added));
        map.insert("changedComments".into(), comment_list(&comments.changed));
        map.insert("removedComments".into(), comment_list(&comments.removed));
        let attachment_list =
            |items: &[ReplicaAttachment]| Value::Array(items.iter().map(attachment_json).collect());
        map.insert(
            "addedAttachments".into(),
            attachment_list(&attachments.added),
        );
        map.insert(
            "removedAttachments".into(),
            attachment_list(&attachments.removed),
        );
    }

    let comment_helper = Rc::new(CommentHelper {
        twins: input.comment_twins,
        delta: comments,
        ops: RefCell::new(Vec::new()),
    });
    let attachment_helper = Rc::new(AttachmentHelper {
        twins: input.attachment_twins,
        delta: attachments,
        ops: RefCell::new(Vec::new()),
    });
    // A field the remote did not send reads as null, as in Exalate; the local item has every
    // field the rules name, as Jira's issue has every field of its project.
    wrap_received_custom_fields(&mut replica);
    with_custom_keys(&mut replica);
    let mut item = input.item.clone();
    wrap_custom_fields(&mut item, &names, false);
    if project {
        add_project(&mut item, env).map_err(|message| RuleError {
            which: WHICH,
            message,
            trace: None,
            compile: false,
        })?;
    }
    let issue = local_item(&item, env);
    let issue_bound = issue.clone();
    let mut setup = setup(&issue, &item, env);
    let previous = input.previous.clone().map(|mut p| {
        wrap_received_custom_fields(&mut p);
        with_custom_keys(&mut p);
        p
    });
    let bound = helpers::bind(env, Run::Incoming);
    let replica_value = received(&replica);
    let previous_value = previous
        .as_ref()
        .map_or(tandem_script::Value::Null, received);
    for v in [&replica_value, &previous_value] {
        setup
            .methods
            .push((v.clone(), Rc::new(super::entity::Named("Replica"))));
    }
    // The comment links the rules make themselves (`traces.add(new BasicNonPersistentTrace()…)`).
    let traces = tandem_script::Value::list(Vec::new());
    let store = super::entity::StoreNow::new(
        env.clone(),
        env.remote_key()
            .filter(|_| input.first_sync)
            .map(str::to_owned),
        bound.debug.clone(),
    );
    let vars = binding(
        [
            ("replica", replica_value.clone()),
            ("previous", previous_value.clone()),
            ("firstSync", tandem_script::Value::Bool(input.first_sync)),
            ("issue", issue.clone()),
            ("entity", issue.clone()),
            ("workItem", issue.clone()),
            (
                "commentHelper",
                tandem_script::Value::Host(comment_helper.clone()),
            ),
            (
                "attachmentHelper",
                tandem_script::Value::Host(attachment_helper.clone()),
            ),
            ("traces", traces.clone()),
            ("scala", super::exalate::scala()),
            ("store", store.function()),
        ]
        .into_iter()
        .chain(bound.variables),
    );
    let mut vars = vars;
    add_table_variables(&mut vars, &issue, &item, env, input.first_sync);
    let outcome = script.run_with(vars, &limits(env), setup);
    let log = bound.debug.take_log();
    let result = outcome
        .result
        .map_err(|e| run_failed(WHICH, source, &e, &log))?;
    let mut connect = if input.first_sync {
        super::exalate::connect_of(&result)
    } else {
        None
    };
    let comment_traces = super::exalate::comment_traces(&traces);
    let mut item = local_item_after(&outcome.variables, &issue_bound);
    unwrap_custom_fields(&mut item, Some(&input.item));
    if let Some(map) = item.as_object_mut() {
        map.remove("project");
    }
    // Exalate's other way to connect on a first sync: the rules set the local item's key
    // (or id) to one that exists.
    if let Some(key) = store.created.take() {
        connect = Some(super::exalate::ConnectTo {
            key: Some(key.to_string()),
            id: None,
            stored: true,
        });
    } else if input.first_sync && connect.is_none() {
        let text = |k: &str| match &item[k] {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        };
        if text("key").is_some() || text("id").is_some() {
            connect = Some(super::exalate::ConnectTo {
                key: text("key"),
                id: text("id"),
                stored: false,
            });
        }
    }
    let mut comment_ops = comment_helper.ops.take();
    let mut attachment_ops = attachment_helper.ops.take();
    appended_comments(
        &item,
        &comment_helper.twins,
        input.journals,
        &mut comment_ops,
    );
    appended_attachments(&item, &attachment_helper.twins, &mut attachment_ops);
    let new_comments = added_comments(&item, input.journals);
    Ok(IncomingOutcome {
        item,
        comment_ops,
        attachment_ops,
        new_comments,
        sync_back: bound.after.sync_back.get(),
        unexalate: bound.after.unexalate.get(),
        log,
        connect,
        comment_traces,
    })
}

/// The local item as the rules see it: on ServiceNow, reference columns read their display
/// value and link ([`super::reference`]).
fn local_item(item: &Value, env: &Env) -> tandem_script::Value {
    let issue = from_json(item);
    super::label::wrap_labels(&issue);
    if env.serves_servicenow() && item.get("tableName").is_some() {
        super::reference::wrap_references(&issue, env);
    }
    issue
}

/// A replica received, as the rules see it: its labels are Labels.
fn received(replica: &Value) -> tandem_script::Value {
    let v = from_json(replica);
    super::label::wrap_labels(&v);
    v
}

/// `issue.project` (`{key, name}`) on the built-in tracker, for rules that read it.
fn add_project(item: &mut Value, env: &Env) -> Result<(), String> {
    if item.get("tableName").is_some() {
        return Ok(());
    }
    let Some(key) = item
        .get("projectKey")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Ok(());
    };
    let project = env.project_json(&key)?;
    if let Some(map) = item.as_object_mut() {
        map.insert("project".into(), project);
    }
    Ok(())
}

/// `replica.customKeys` is a map on every replica received, empty when the remote sent none.
fn with_custom_keys(v: &mut Value) {
    if let Some(obj) = v.as_object_mut()
        && !obj.get("customKeys").is_some_and(Value::is_object)
    {
        obj.insert("customKeys".into(), json!({}));
    }
}

/// What the run adds for the local item: its methods (`issue.setStatus`), Exalate's classes
/// and, on the built-in tracker, its fixed properties.
fn setup(issue: &tandem_script::Value, item: &Value, env: &Env) -> tandem_script::Setup {
    tandem_script::Setup {
        strict: strict_issue(issue, item, env),
        methods: vec![(
            issue.clone(),
            super::entity::EntityMethods::new(issue.clone(), env.clone()),
        )],
        classes: Some(Rc::new(super::exalate::ExalateClasses {
            tracker: env.tracker(),
        })),
    }
}

/// On ServiceNow, `entityType` (the record's table) and the record under its table's name
/// (`incident.short_description`); on a first sync, under the name of every table the node
/// syncs, as the rules choose the table. Nothing on the built-in tracker. A name the rules'
/// helpers already take keeps its meaning.
fn add_table_variables(
    vars: &mut tandem_script::Binding,
    issue: &tandem_script::Value,
    item: &Value,
    env: &Env,
    first_sync: bool,
) {
    let Some(table) = item.get("tableName").and_then(Value::as_str) else {
        return;
    };
    vars.entry(Rc::from("entityType"))
        .or_insert_with(|| tandem_script::Value::str(table));
    for name in env.synced_tables() {
        if first_sync || name.as_str() == table {
            vars.entry(Rc::from(name.as_str()))
                .or_insert_with(|| issue.clone());
        }
    }
}

/// The custom field names `source` mentions (`customFields."Tier"`, `customFields.Tier`,
/// `customFields['Tier']`, with `?.` too), so that the rules find each as a field object even
/// where the item or the replica has no value for it, as Jira has every field its project
/// defines. A method called on the map (`customFields.each { … }`) is no name; neither is a
/// name built at run time (`"${x}"`).
fn custom_field_names(source: &str) -> Vec<String> {
    const MARK: &str = "customFields";
    let mut names: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(at) = source[from..].find(MARK) {
        let mut rest = source[from + at + MARK.len()..].trim_start();
        from += at + MARK.len();
        let bracket = rest.starts_with('[');
        if let Some(r) = rest.strip_prefix("?.").or_else(|| rest.strip_prefix('.')) {
            rest = r.trim_start();
        } else if let Some(r) = rest.strip_prefix('[') {
            rest = r.trim_start();
        } else {
            continue;
        }
        let (name, after) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &rest[1..];
                match body.find([q, '\n']) {
                    Some(end) if body[end..].starts_with(q) => (&body[..end], &body[end + 1..]),
                    _ => continue,
                }
            }
            Some(c) if !bracket && (c.is_alphabetic() || c == '_') => {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
            _ => continue,
        };
        let called = !bracket && after.trim_start().starts_with(['(', '{']);
        if name.is_empty() || name.contains('$') || called {
            continue;
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// The local item the incoming rules leave: the one object `issue`, `entity` and `workItem`
/// name, unless the rules replaced it under one of those names (`entity = [...]`).
fn local_item_after(variables: &tandem_script::Binding, bound: &tandem_script::Value) -> Value {
    let pointer = |v: &tandem_script::Value| match v {
        tandem_script::Value::Map(m) => Some(Rc::as_ptr(m)),
        _ => None,
    };
    let original = pointer(bound);
    to_json(
        ["issue", "entity", "workItem"]
            .iter()
            .filter_map(|name| variables.get(*name))
            .find(|v| original.is_none() || pointer(v) != original)
            .unwrap_or(bound),
    )
}

/// Comments the rules added with `commentHelper.addComment` (their id starts with
/// [`ADDED_ID`]); on a ServiceNow record, those in `work_notes` are internal.
fn added_comments(item: &Value, journals: bool) -> Vec<NewLocalComment> {
    let lists: &[(&str, Option<bool>)] = if journals {
        &[("comments", Some(false)), ("work_notes", Some(true))]
    } else {
        &[("comments", None)]
    };
    let mut out = Vec::new();
    for (list, internal) in lists {
        for c in item[*list].as_array().into_iter().flatten() {
            let added = c["id"].as_str().is_some_and(|id| id.starts_with(ADDED_ID))
                && c.get("remoteId").is_none_or(Value::is_null);
            let body = c["body"].as_str().unwrap_or_default();
            if !added || body.trim().is_empty() {
                continue;
            }
            out.push(NewLocalComment {
                body: body.to_owned(),
                internal: internal.unwrap_or_else(|| c["internal"].as_bool().unwrap_or(false)),
            });
        }
    }
    out
}

/// Remote comments the rules appended to the item's comment lists themselves
/// (`entity.comments += replica.addedComments`, `entity.work_notes += …`): each is added once,
/// unless a helper already did or it is twinned already.
fn appended_comments(
    item: &Value,
    twins: &[CommentTwin],
    journals: bool,
    ops: &mut Vec<CommentOp>,
) {
    let mut known: std::collections::HashSet<String> =
        twins.iter().map(|t| t.remote_id.clone()).collect();
    for op in ops.iter() {
        if let CommentOp::Add { remote_id, .. } = op {
            known.insert(remote_id.clone());
        }
    }
    let lists: &[(&str, Option<bool>)] = if journals {
        &[("comments", Some(false)), ("work_notes", Some(true))]
    } else {
        &[("comments", None)]
    };
    for (list, internal) in lists {
        for c in item[*list].as_array().into_iter().flatten() {
            let Some(remote_id) = c["remoteId"].as_str() else {
                continue;
            };
            if !known.insert(remote_id.to_owned()) {
                continue;
            }
            let body = c["body"].as_str().unwrap_or_default().to_owned();
            if body.trim().is_empty() {
                continue;
            }
            ops.push(CommentOp::Add {
                remote_id: remote_id.to_owned(),
                body,
                internal: internal.unwrap_or_else(|| c["internal"].as_bool().unwrap_or(false)),
                author: c["author"]["displayName"]
                    .as_str()
                    .or_else(|| c["author"]["email"].as_str())
                    .map(str::to_owned),
                written_by: tandem_model::ReplicaUser {
                    display_name: c["author"]["displayName"].as_str().map(str::to_owned),
                    email: c["author"]["email"].as_str().map(str::to_owned),
                }
                .person(),
            });
        }
    }
}

/// Remote attachments the rules appended themselves (`entity.attachments +=
/// replica.addedAttachments`).
fn appended_attachments(item: &Value, twins: &[AttachmentTwin], ops: &mut Vec<AttachmentOp>) {
    let mut known: std::collections::HashSet<String> =
        twins.iter().map(|t| t.remote_id.clone()).collect();
    for op in ops.iter() {
        if let AttachmentOp::Add { remote_id, .. } | AttachmentOp::Link { remote_id, .. } = op {
            known.insert(remote_id.clone());
        }
    }
    for a in item["attachments"].as_array().into_iter().flatten() {
        let Some(remote_id) = a["remoteId"].as_str() else {
            continue;
        };
        if !known.insert(remote_id.to_owned()) {
            continue;
        }
        ops.push(AttachmentOp::Add {
            remote_id: remote_id.to_owned(),
            filename: a["filename"].as_str().unwrap_or("attachment").to_owned(),
            mimetype: a["mimetype"]
                .as_str()
                .unwrap_or("application/octet-stream")
                .to_owned(),
            hash: a["hash"].as_str().unwrap_or_default().to_owned(),
        });
    }
}

/// A remote comment as the scripts see it (in `replica.addedComments` and in the
/// `mergeComments` closure).
fn comment_json(c: &ReplicaComment) -> Value {
    json!({
        "id": c.id,
        "remoteId": c.id,
        "body": c.body,
        "author": c.author.as_ref().map(|a| json!({"displayName": a.display_name, "email": a.email})),
        "created": c.created.map(|t| t.to_string()),
        "internal": c.internal,
    })
}

fn attachment_json(a: &ReplicaAttachment) -> Value {
    json!({
        "id": a.id,
        "remoteId": a.id,
        "filename": a.filename,
        "mimetype": a.mimetype,
        "filesize": a.filesize,
        "hash": a.hash,
    })
}

/// The local item's comments, from the `issue` map a script passed.
fn local_comments(issue: &Value) -> Vec<LocalComment> {
    issue["comments"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    Some(LocalComment {
                        id: c["id"].as_str()?.parse().ok()?,
                        body: c["body"].as_str().unwrap_or_default().to_owned(),
                        internal: c["internal"].as_bool().unwrap_or(false),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn local_attachments(issue: &Value) -> Vec<LocalAttachment> {
    issue["attachments"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|a| {
                    Some(LocalAttachment {
                        id: a["id"].as_str()?.parse().ok()?,
                        filename: a["filename"].as_str().unwrap_or_default().to_owned(),
                        hash: a["hash"].as_str().unwrap_or_default().to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// How the id of a comment `commentHelper.addComment` made starts: it is no comment of the
/// tracker yet (the incoming run creates it; in a replica it is the comment's stable id).
const ADDED_ID: &str = "rules-";

/// `commentHelper`: `mergeComments(issue, replica[, closure])`, `addComment(body[, internal],
/// comments)` and `filterLocal(comments)`.
#[derive(Default)]
struct CommentHelper {
    twins: Vec<CommentTwin>,
    delta: CommentDelta,
    ops: RefCell<Vec<CommentOp>>,
}

impl HostObject for CommentHelper {
    fn type_name(&self) -> &str {
        "CommentHelper"
    }

    fn get_property(&self, _name: &str) -> Result<Option<tandem_script::Value>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        args: &[tandem_script::Value],
        invoker: &mut dyn Invoker,
    ) -> Option<Result<tandem_script::Value, String>> {
        match name {
            "mergeComments" => Some(self.merge(args, invoker)),
            "addComment" => Some(add_comment(args)),
            "filterLocal" => Some(filter_local(args)),
            _ => None,
        }
    }

    fn method_names(&self) -> Vec<String> {
        vec![
            "mergeComments".into(),
            "addComment".into(),
            "filterLocal".into(),
        ]
    }
}

/// `addComment(body, comments)` or `addComment(body, internal, comments)`: the list with a new
/// comment at its end. Its id is stable for its body (the same rules on the same item make the
/// same replica), so a replica carrying it is not sent again and again.
fn add_comment(args: &[tandem_script::Value]) -> Result<tandem_script::Value, String> {
    use sha2::Digest as _;
    let (body, internal, list) = match args {
        [body, list] => (body, false, list),
        [body, internal, list] => (body, internal.truthy(), list),
        _ => {
            return Err(format!(
                "addComment takes (body, comments) or (body, internal, comments), not {} arguments",
                args.len()
            ));
        }
    };
    let body = match body {
        tandem_script::Value::Null => String::new(),
        b => b.to_string(),
    };
    if body.trim().is_empty() {
        return Err("addComment needs a body that is not empty".into());
    }
    let mut comments = match to_json(list) {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => {
            return Err(format!(
                "addComment takes the list of comments to add to as its last argument, not {other}"
            ));
        }
    };
    let digest = sha2::Sha256::digest(body.as_bytes());
    let stem = format!(
        "{ADDED_ID}{}",
        digest[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let taken = |id: &str| comments.iter().any(|c| c["id"].as_str() == Some(id));
    let mut id = stem.clone();
    let mut n = 1;
    while taken(&id) {
        n += 1;
        id = format!("{stem}-{n}");
    }
    comments.push(json!({"id": id, "body": body, "internal": internal, "author": null}));
    Ok(from_json(&Value::Array(comments)))
}

/// `filterLocal(comments)`: the comments everyone may see (not internal), as Jira on-premise
/// keeps those without group or role visibility.
fn filter_local(args: &[tandem_script::Value]) -> Result<tandem_script::Value, String> {
    let [list] = args else {
        return Err(format!(
            "filterLocal takes (comments), not {} arguments",
            args.len()
        ));
    };
    match to_json(list) {
        Value::Array(items) => Ok(from_json(&Value::Array(
            items
                .into_iter()
                .filter(|c| !c["internal"].as_bool().unwrap_or(false))
                .collect(),
        ))),
        Value::Null => Ok(from_json(&json!([]))),
        other => Err(format!("filterLocal takes a list of comments, not {other}")),
    }
}

impl CommentHelper {
    fn merge(
        &self,
        args: &[tandem_script::Value],
        invoker: &mut dyn Invoker,
    ) -> Result<tandem_script::Value, String> {
        if !(2..=3).contains(&args.len()) {
            return Err(format!(
                "mergeComments takes (issue, replica) or (issue, replica, closure), not {} arguments",
                args.len()
            ));
        }
        let issue = to_json(&args[0]);
        let local = local_comments(&issue);
        let mut failure = None;
        // Who writes each comment the closure shaped (`it.executor = …`), by remote id.
        let mut executors: Vec<(String, String)> = Vec::new();
        let mut ops = match args.get(2) {
            None => merge_comments(&local, &self.twins, &self.delta, |c| {
                Some(default_comment_format(c))
            }),
            Some(closure) => merge_comments(&local, &self.twins, &self.delta, |c| {
                if failure.is_some() {
                    return None;
                }
                // The closure gets the comment to add and changes it in place, as Exalate's
                // does; what it returns counts only when that is a comment itself.
                let comment = from_json(&comment_json(c));
                match invoker.call(closure, vec![comment.clone()]) {
                    Ok(value) => {
                        let returned = to_json(&value);
                        let shaped = if is_comment(&returned) {
                            returned
                        } else {
                            to_json(&comment)
                        };
                        if let Some(who) = executor_name(&shaped["executor"]) {
                            executors.push((c.id.clone(), who));
                        }
                        Some(spec_from(&shaped, c))
                    }
                    Err(e) => {
                        failure = Some(e.message);
                        None
                    }
                }
            }),
        };
        if let Some(message) = failure {
            return Err(format!("the mergeComments closure failed: {message}"));
        }
        for op in &mut ops {
            if let CommentOp::Add {
                remote_id, author, ..
            } = op
                && let Some((_, who)) = executors.iter().find(|(id, _)| id == remote_id)
            {
                *author = Some(who.clone());
            }
        }
        *self.ops.borrow_mut() = ops;
        // What the script assigns back to issue.comments: the comments as they stand; the
        // engine applies the merge itself.
        Ok(from_json(&issue["comments"]))
    }
}

/// Whether a `mergeComments` closure returned a comment (the one it was given, or one it
/// made): a map with a body. Anything else it returns (the value of a last assignment, an
/// Elvis, a flag) is not the comment.
fn is_comment(value: &Value) -> bool {
    value.as_object().is_some_and(|m| m.contains_key("body"))
}

/// The local user a comment is written as (`it.executor = nodeHelper.getUserByEmail(…)`):
/// their name, else their email; a bare name or email too. None: the default author.
fn executor_name(executor: &Value) -> Option<String> {
    let name = match executor {
        Value::String(s) => Some(s.as_str()),
        Value::Object(user) => user
            .get("displayName")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty())
            .or_else(|| user.get("email").and_then(Value::as_str)),
        _ => None,
    }?;
    (!name.trim().is_empty()).then(|| name.to_owned())
}

/// The comment a `mergeComments` closure shaped: its body and internal flag, each the
/// original's where the closure left it out or made it something else.
fn spec_from(comment: &Value, original: &ReplicaComment) -> CommentSpec {
    let body = match &comment["body"] {
        Value::String(body) => body.clone(),
        Value::Null => original.body.clone(),
        other => other.to_string(),
    };
    CommentSpec {
        body,
        internal: match &comment["internal"] {
            Value::Bool(b) => *b,
            _ => original.internal,
        },
    }
}

/// `attachmentHelper`: `mergeAttachments(issue, replica)`.
struct AttachmentHelper {
    twins: Vec<AttachmentTwin>,
    delta: AttachmentDelta,
    ops: RefCell<Vec<AttachmentOp>>,
}

impl HostObject for AttachmentHelper {
    fn type_name(&self) -> &str {
        "AttachmentHelper"
    }

    fn get_property(&self, _name: &str) -> Result<Option<tandem_script::Value>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        args: &[tandem_script::Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<tandem_script::Value, String>> {
        if name != "mergeAttachments" {
            return None;
        }
        if args.len() != 2 {
            return Some(Err(format!(
                "mergeAttachments takes (issue, replica), not {} arguments",
                args.len()
            )));
        }
        let issue = to_json(&args[0]);
        let ops = merge_attachments(&local_attachments(&issue), &self.twins, &self.delta);
        *self.ops.borrow_mut() = ops;
        Some(Ok(from_json(&issue["attachments"])))
    }

    fn method_names(&self) -> Vec<String> {
        vec!["mergeAttachments".into()]
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::helpers::testing::Fixture;
    use serde_json::json;

    #[test]
    fn outgoing_rules_fill_the_replica() {
        let fixture = Fixture::new();
        let replica = outgoing(
            "replica.summary = issue.summary\nreplica.status = issue.status",
            &json!({"summary": "Broken", "status": {"name": "Done"}}),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            replica.replica,
            json!({"summary": "Broken", "status": {"name": "Done"}})
        );
    }

    #[test]
    fn incoming_rules_change_the_issue() {
        let fixture = Fixture::new();
        let outcome = incoming(
            "if (firstSync) { issue.projectKey = 'ENG' }\nissue.summary = replica.summary + '!'",
            input(json!({"summary": "Broken"}), None),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            outcome.item,
            json!({"summary": "Broken!", "projectKey": "ENG", "comments": []})
        );
    }

    fn input(replica: Value, previous: Option<Value>) -> IncomingInput {
        IncomingInput {
            replica,
            previous,
            first_sync: true,
            item: json!({"summary": "", "comments": []}),
            comment_twins: vec![],
            attachment_twins: vec![],
            journals: false,
        }
    }

    fn comment(id: &str, body: &str) -> Value {
        json!({"id": id, "body": body, "author": {"displayName": "Ana"}, "internal": false})
    }

    #[test]
    fn merge_comments_adds_new_remote_comments_with_the_author() {
        let fixture = Fixture::new();
        let outcome = incoming(
            "issue.comments = commentHelper.mergeComments(issue, replica)",
            input(json!({"comments": [comment("1", "hello")]}), None),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            outcome.comment_ops,
            vec![CommentOp::Add {
                remote_id: "1".into(),
                body: "Ana commented: hello".into(),
                internal: false,
                author: Some("Ana".into()),
                written_by: Some(ana()),
            }]
        );
    }

    #[test]
    fn a_merge_closure_shapes_each_comment() {
        let fixture = Fixture::new();
        let outcome = incoming(
            "issue.comments = commentHelper.mergeComments(issue, replica, { it.body = '[' + it.author.displayName + '] ' + it.body; it })",
            input(json!({"comments": [comment("1", "hello")]}), None),
            &fixture.env(),
        )
        .unwrap();
        assert!(matches!(
            &outcome.comment_ops[..],
            [CommentOp::Add { body, .. }] if body == "[Ana] hello"
        ));
    }

    /// The one comment op a merge with `rules` makes for a new remote comment "hello" by Ana.
    fn merged(rules: &str) -> CommentOp {
        let fixture = Fixture::new();
        let outcome = incoming(
            rules,
            input(json!({"comments": [comment("1", "hello")]}), None),
            &fixture.env(),
        )
        .unwrap();
        match &outcome.comment_ops[..] {
            [op] => op.clone(),
            ops => panic!("expected one op for {rules}, got {ops:?}"),
        }
    }

    /// Ana, who wrote the remote comment: kept with its copy whoever it is written as.
    fn ana() -> tandem_model::Person {
        tandem_model::Person {
            name: "Ana".into(),
            email: None,
        }
    }

    fn added(body: &str, internal: bool, author: &str) -> CommentOp {
        CommentOp::Add {
            remote_id: "1".into(),
            body: body.into(),
            internal,
            author: Some(author.into()),
            written_by: Some(ana()),
        }
    }

    #[test]
    fn a_merge_closure_returning_the_comment_keeps_its_body_as_it_is() {
        // Exalate: `{it}` adds the body without the author's name before it.
        assert_eq!(
            merged("issue.comments = commentHelper.mergeComments(issue, replica, {it})"),
            added("hello", false, "Ana")
        );
        // A comment the closure makes itself counts too.
        assert_eq!(
            merged(
                "issue.comments = commentHelper.mergeComments(issue, replica) { c -> [body: c.body.toUpperCase(), internal: true] }"
            ),
            added("HELLO", true, "Ana")
        );
    }

    #[test]
    fn a_merge_closure_changes_the_comment_in_place() {
        // The closure's value is `true`, not the comment: the comment it changed counts.
        assert_eq!(
            merged(
                "issue.comments = commentHelper.mergeComments(issue, replica, {it.internal = true})"
            ),
            added("hello", true, "Ana")
        );
        assert_eq!(
            merged(
                "issue.comments = commentHelper.mergeComments(issue, replica) { it.body = it.author.displayName + ': ' + it.body }"
            ),
            added("Ana: hello", false, "Ana")
        );
        // A closure ending in an `if` without else (null when it does not apply).
        assert_eq!(
            merged(
                "issue.comments = commentHelper.mergeComments(issue, replica) { if (it.body.contains('secret')) { it.internal = true } }"
            ),
            added("hello", false, "Ana")
        );
    }

    #[test]
    fn a_merge_closure_ending_in_an_elvis_or_an_assignment_keeps_every_comment() {
        // Ended in an Elvis: its text is not the body.
        assert_eq!(
            merged(
                "issue.comments = commentHelper.mergeComments(issue, replica) { it.body = '[' + it.body + ']'; it.author?.email ?: 'nobody@example.com' }"
            ),
            added("[hello]", false, "Ana")
        );
        // Ended in an assignment whose value is null: the comment is not dropped.
        assert_eq!(
            merged(
                "issue.comments = commentHelper.mergeComments(issue, replica) { it.executor = nodeHelper.getUserByEmail(it.author?.email) }"
            ),
            added("hello", false, "Ana")
        );
    }

    #[test]
    fn a_merge_closure_sets_who_writes_the_comment_with_executor() {
        assert_eq!(
            merged(
                "issue.comments = commentHelper.mergeComments(issue, replica, { it.executor = nodeHelper.getUserByEmail('bo@example.com') })"
            ),
            added("hello", false, "bo@example.com")
        );
        assert_eq!(
            merged(
                "issue.comments = commentHelper.mergeComments(issue, replica) { it.executor = [displayName: 'Bo', email: 'bo@example.com']; it }"
            ),
            added("hello", false, "Bo")
        );
    }

    #[test]
    fn the_three_argument_and_trailing_closure_forms_agree() {
        let rules = [
            "issue.comments = commentHelper.mergeComments(issue, replica, { it.internal = true; it.body = 'x' + it.body })",
            "issue.comments = commentHelper.mergeComments(issue, replica) { it.internal = true; it.body = 'x' + it.body }",
            "def shape = { c -> c.internal = true; c.body = 'x' + c.body }\nissue.comments = commentHelper.mergeComments(issue, replica, shape)",
        ];
        for r in rules {
            assert_eq!(merged(r), added("xhello", true, "Ana"), "{r}");
        }
    }

    #[test]
    fn the_replica_shows_what_was_added_changed_and_removed() {
        let fixture = Fixture::new();
        let outcome = incoming(
            "issue.summary = replica.addedComments.size() + '/' + replica.changedComments.size() + '/' + replica.removedComments.size()",
            input(
                json!({"comments": [comment("2", "new"), comment("3", "edited")]}),
                Some(json!({"comments": [comment("1", "gone"), comment("3", "before")]})),
            ),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(outcome.item["summary"], "1/1/1");
    }

    #[test]
    fn the_local_item_has_three_names_in_both_runs() {
        let fixture = Fixture::new();
        let out = outgoing(
            "workItem.summary = workItem.summary + '!'\nreplica.summary = issue.summary\nreplica.same = entity.summary",
            &json!({"summary": "Broken"}),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            out.replica,
            json!({"summary": "Broken!", "same": "Broken!"})
        );
        let changed = incoming(
            "if (firstSync) { workItem.projectKey = 'ENG' }\nworkItem.summary = replica.summary",
            input(json!({"summary": "Via workItem"}), None),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(changed.item["summary"], "Via workItem");
        assert_eq!(changed.item["projectKey"], "ENG");
        // A rule that replaces the item under one name: that one counts.
        let replaced = incoming(
            "entity = [summary: replica.summary, projectKey: 'ENG']",
            input(json!({"summary": "New map"}), None),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            replaced.item,
            json!({"summary": "New map", "projectKey": "ENG"})
        );
    }

    #[test]
    fn add_comment_and_filter_local_work_in_both_runs() {
        let fixture = Fixture::new();
        let out = outgoing(
            "replica.comments = commentHelper.addComment('Synced by Tandem', commentHelper.filterLocal(issue.comments))",
            &json!({"comments": [
                {"id": "1", "body": "public", "internal": false},
                {"id": "2", "body": "secret", "internal": true},
            ]}),
            &fixture.env(),
        )
        .unwrap();
        let comments = out.replica["comments"].as_array().unwrap();
        assert_eq!(comments.len(), 2, "{comments:?}");
        assert_eq!(comments[0]["body"], "public");
        assert_eq!(comments[1]["body"], "Synced by Tandem");
        let id = comments[1]["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with(ADDED_ID), "{id}");
        // The same rules make the same replica: the added comment keeps its id.
        let again = outgoing(
            "replica.comments = commentHelper.addComment('Synced by Tandem', commentHelper.filterLocal(issue.comments))",
            &json!({"comments": [{"id": "1", "body": "public"}]}),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(again.replica["comments"][1]["id"], id.as_str());
        // Two equal bodies get two ids: the replica stays valid.
        let twice = outgoing(
            "replica.comments = commentHelper.addComment('x', commentHelper.addComment('x', []))",
            &json!({}),
            &fixture.env(),
        )
        .unwrap();
        assert_ne!(
            twice.replica["comments"][0]["id"],
            twice.replica["comments"][1]["id"]
        );
        assert!(
            Replica::from_json(twice.replica)
                .unwrap()
                .comments()
                .is_ok()
        );

        let applied = incoming(
            "if (firstSync) { issue.projectKey = 'ENG' }\nissue.comments = commentHelper.addComment('Created from ' + replica.key, true, issue.comments)",
            input(json!({"key": "SUP-4"}), None),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            applied.new_comments,
            vec![NewLocalComment {
                body: "Created from SUP-4".into(),
                internal: true
            }]
        );
        assert!(applied.comment_ops.is_empty());
        let e = outgoing(
            "commentHelper.addComment('', [])",
            &json!({}),
            &fixture.env(),
        )
        .unwrap_err();
        assert!(e.message.contains("not empty"), "{}", e.message);
        let e = outgoing("commentHelper.filterLocal('x')", &json!({}), &fixture.env()).unwrap_err();
        assert!(e.message.contains("list of comments"), "{}", e.message);
    }

    #[test]
    fn custom_field_names_are_read_from_the_rules() {
        assert_eq!(
            custom_field_names(
                "issue.customFields.\"Tier\".value = replica.customFields.'Support Level'?.value\n\
                 issue.customFields.Team = replica?.customFields?.Team\n\
                 def x = issue.customFields['Region']\n\
                 issue.customFields.each { k, v -> }\n\
                 replica.customFields.size()\n\
                 issue.customFields.\"${name}\".value = 1\n\
                 issue.customFields.Tier.value = 2 // customFields"
            ),
            ["Tier", "Support Level", "Team", "Region"]
        );
        assert!(custom_field_names("customFields.\"never closed").is_empty());
    }

    #[test]
    fn custom_fields_read_and_write_through_value_and_travel_raw() {
        let fixture = Fixture::new();
        // Outgoing: the field object as it is, or its value, into the replica.
        let out = outgoing(
            "replica.customFields.\"Tier\" = issue.customFields.\"Tier\"\nreplica.customFields.Team = issue.customFields.Team\nreplica.customFields.Region.value = issue.customFields.Tier.value.toUpperCase()",
            &json!({"customFields": {"Tier": "Gold"}}),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            out.replica,
            json!({"customFields": {"Tier": "Gold", "Region": "GOLD"}}),
            "raw values; Team, which has none, is not sent"
        );
        // Outgoing rules that name a custom field but send nothing leave the replica empty.
        let nothing = outgoing(
            "if (issue.summary == 'x') { replica.customFields.Tier = issue.customFields.Tier }",
            &json!({"summary": "y", "customFields": {}}),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(nothing.replica, json!({}));
        // Incoming: `.value` reads and writes, on a first sync too; a raw assignment works.
        let mut first = input(
            json!({"customFields": {"Tier": "Gold", "Team": "Ops"}}),
            None,
        );
        first.item = json!({"summary": "", "customFields": {}});
        let applied = incoming(
            "if (firstSync) { issue.projectKey = 'ENG' }\nissue.customFields.\"Tier\".value = replica.customFields.\"Tier\".value\nissue.customFields.Team = replica.customFields.Team\nissue.customFields.Raw = 'plain'\nissue.summary = previous?.customFields?.Tier?.value ?: 'none'",
            first,
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            applied.item["customFields"],
            json!({"Tier": "Gold", "Team": "Ops", "Raw": "plain"})
        );
        assert_eq!(applied.item["summary"], "none");
        // A field the remote no longer has is cleared where the item has it.
        let mut update = input(
            json!({"customFields": {}}),
            Some(json!({"customFields": {"Tier": "Gold"}})),
        );
        update.first_sync = false;
        update.item = json!({"summary": "s", "customFields": {"Tier": "Gold", "Other": 1}});
        let cleared = incoming(
            "issue.customFields.Tier.value = replica.customFields.Tier?.value\nissue.summary = previous.customFields.Tier.value",
            update,
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            cleared.item["customFields"],
            json!({"Tier": null, "Other": 1})
        );
        assert_eq!(cleared.item["summary"], "Gold");
    }

    #[test]
    fn a_custom_field_the_remote_lacks_reads_null_and_no_wrapper_is_written_as_text() {
        let fixture = Fixture::new();
        let mut update = input(
            json!({"summary": "s", "description": "<p>d</p>", "customFields": {"Present": "<b>yes</b>", "Empty": null}}),
            None,
        );
        update.first_sync = false;
        update.item = json!({"summary": "", "description": "", "customFields": {"Notes": "old", "Other": "keep"}});
        let applied = incoming(
            "issue.summary = [replica.customFields.\"Missing\" == null, replica.customFields.\"Missing\"?.value == null, replica.customFields.Empty?.value == null, replica.customFields.Missing ? 'truthy' : 'falsy'].join(',')\n\
             issue.description = nodeHelper.toMarkDownFromHtml(replica.customFields.\"Missing\")\n\
             issue.customFields.Notes.value = nodeHelper.stripHtml(replica.customFields.\"Empty\")\n\
             issue.customFields.Copied.value = nodeHelper.toMarkDownFromHtml(replica.customFields.\"Present\")\n\
             issue.customFields.Raw = replica.customFields.Present\n\
             issue.customFields.Nested.value = replica.customFields.Empty",
            update,
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(applied.item["summary"], "true,true,true,falsy");
        assert_eq!(applied.item["description"], Value::Null);
        let fields = &applied.item["customFields"];
        assert_eq!(fields["Notes"], Value::Null, "cleared, not '[value:null]'");
        assert_eq!(fields["Copied"], "**yes**");
        assert_eq!(fields["Raw"], "<b>yes</b>");
        assert_eq!(fields["Other"], "keep");
        assert!(fields.get("Nested").is_none_or(Value::is_null), "{fields}");
        let text = applied.item.to_string();
        assert!(
            !text.contains("value:"),
            "a wrapper's text was written: {text}"
        );
    }

    #[test]
    fn a_typo_on_the_issue_is_a_missing_property_naming_it_and_its_line() {
        let fixture = Fixture::new();
        let e = outgoing(
            "replica.summary = issue.summary\nreplica.status = issue.statusd",
            &json!({"summary": "s", "status": {"name": "Done"}}),
            &fixture.env(),
        )
        .unwrap_err();
        assert!(
            e.message
                .contains("No such property: statusd for class: Issue")
                && e.message.contains("did you mean 'status'"),
            "{}",
            e.message
        );
        assert!(e.trace.unwrap().contains(":2:"), "names line 2");
        // The same in the incoming rules.
        let e = incoming(
            "issue.summary = issue.sumary",
            input(json!({"summary": "x"}), None),
            &fixture.env(),
        )
        .unwrap_err();
        assert!(
            e.message.contains("No such property: sumary"),
            "{}",
            e.message
        );
        // Exalate's properties the item lacks read null; writing a new one is allowed; a
        // map the rules make stays a map.
        let out = outgoing(
            "replica.a = [issue.dueDate, issue.resolution, issue.parentId]\nissue.extra = 1\nreplica.b = issue.extra\nreplica.c = [k: 1].nothing",
            &json!({"summary": "s"}),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(
            out.replica,
            json!({"a": [null, null, null], "b": 1, "c": null})
        );
    }

    #[test]
    fn a_failing_rule_names_its_line() {
        let fixture = Fixture::new();
        let e = outgoing(
            "replica.a = 1\nreplica.b = issue.nope.x",
            &json!({}),
            &fixture.env(),
        )
        .unwrap_err();
        assert_eq!(e.which, "outgoing");
        assert!(!e.compile);
        assert!(e.trace.unwrap().contains(":2:"), "names line 2");
        let e = outgoing("replica.a = (", &json!({}), &fixture.env()).unwrap_err();
        assert!(e.compile);
    }
}
