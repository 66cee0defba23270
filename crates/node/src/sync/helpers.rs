//! The script helpers both rule runs bind, with the names and behaviour Exalate's scripts expect
//! of them, answered by the built-in tracker (`commentHelper` and `attachmentHelper`, which only
//! the incoming run has, are in [`super::rules`]):
//!
//! - `debug`: `error(msg)` stops the run with `msg` as its error (the item's sync error: the
//!   item waits until Resolve and retry); `info(msg)` and `warn(msg)` add a line to the run's
//!   log, which the engine writes to the node's log tagged with connection and item.
//! - `nodeHelper`: `getStatus(name)` (To Do, In Progress, Done) and `getPriority(name)`
//!   (Highest … Lowest) give `{name}` or null, matching names case-insensitively;
//!   `getUser(nameOrEmail)` and `getUserByEmail(email)` give `{displayName, email}` made from
//!   the argument (the built-in tracker has no user directory: anyone may be named), null for
//!   an empty one, `getUserByEmail(email, projectKey)` too; `getIssueType(name[, projectKey])`
//!   gives `{name}` of the tracker's type of that name (Task, Bug, Story, Epic, Sub-task, any
//!   case), null for another name or an unknown project; `getLocalIssueFromRemoteId(remoteId)`
//!   the local item twinned on this connection with the remote item of that key or id; `getProject(key)` gives
//!   `{key, name}` and `getIssue(key)` the item as the rules see it (`issue`), each null when
//!   there is none; `getLabel(name)` gives a Label (`label`, equal to its text; null for an
//!   empty name);
//!   `stripHtml(html)`, `toMarkDownFromHtml(html)` and `getHtmlField(issue, field)` convert
//!   rich text (see [`super::html`]), `stripHtmlFromComments(comments)`,
//!   `toMarkDownComments(comments)` and `getHtmlComments(issue)` each comment's body.
//! - `syncHelper`: `isIssueUnderSync(key)` / `isUnderSync(key[, type, connection])`: whether
//!   the item is under sync (an active twin) on any connection; `getLocalIssueKeyFromRemoteId(
//!   remoteKey)` and `getRemoteIssueKey(localKey)`: the twin's key on the other side, on this
//!   connection, or null; `getRemoteIssueUrl(localKey)`: the twin's page on the remote node;
//!   `getTrackerUrl()`, `getExalateUrl()`, `getRemoteTrackerUrl()`, `getRemoteExalateUrl()`:
//!   the URLs of this node, the remote node and their trackers (null where unknown: a private
//!   remote's URL, a remote ServiceNow instance's). In the incoming rules only,
//!   `syncBackAfterProcessing()` (once applied, send this side's replica back, e.g. so that the
//!   source learns the key created) and `unExalateAfterProcessing()` (once applied, stop
//!   syncing the twin, as Unexalate does): the engine acts after recording the apply, and
//!   does not send back a change that was itself sent back (no ping-pong).
//! - `connection` (a variable, not a helper): `name`, `localShortName`, `remoteShortName`,
//!   `mode`, `role`, `targetProject` (the project new items from the remote go to, as this
//!   side's admin chose it; null when not chosen), `remoteInstance` (`name`, `url`, `tracker`;
//!   null on a local connection).
//! - `workLogHelper`: the built-in tracker has no work logs, so `mergeWorkLogs(issue, replica[,
//!   closure])` gives the issue's `workLogs` (an empty list), `addWorkLog(…)` and
//!   `filterLocal(workLogs)` give the list passed, and `setAutoAdjust()` does nothing: scripts
//!   written for Jira run unchanged.
//! - `httpClient`: `get(path)`, `post(path, body)`, `put(path, body)`, `delete(path)` and
//!   `http(method, path, …)` reach only this node's tracker API (paths relative to `/api/v1`,
//!   answered from the store, never over the network): `GET /items/{key}`, `GET
//!   /items?jql=…` (or `query=`, with `offset` and `limit`), `GET /projects` and `GET
//!   /projects/{key}` answer as the REST API does; anything else is refused with an error
//!   naming the path. On a ServiceNow node it reaches the instance's REST API (`/api/…`) with
//!   the node's credentials, `patch` too; writes as [`Writes`] says. Exalate's full form
//!   `http(method, path, body, <ignored>, headers) { req, res -> … }` (and `post(path, body,
//!   null, headers) { … }`): the headers go with the request to ServiceNow (never one that is
//!   the node's own: `Authorization`, `Host`, `Cookie`, framing), and with a closure the call
//!   returns what the closure returns, given `req` (`method`, `path`, `body`, `headers`) and
//!   `res` (`code`, `body` as text, `headers`) whatever the status — the script decides what a
//!   404 means. On the built-in tracker the headers reach nothing and a refusal still raises.
//!
//! Scripts run on a blocking thread; a helper that reads the store blocks on the runtime
//! handle [`Env`] carries, which is allowed there.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::{Value, json};
use tandem_model::query::Query;
use tandem_model::{ItemKey, Priority, ProjectKey, Status, TwinState};
use tandem_script::{HostObject, Invoker, Value as ScriptValue, from_json, to_json};
use tandem_store::{MAX_PAGE, Page, Store};
use uuid::Uuid;

use super::item_json::item_json;
use crate::api::wire::{ItemJson, ProjectJson};

mod servicenow;

/// What the helpers reach: the store, the runtime to wait on it from the script's blocking
/// thread, and the connection the rules belong to.
#[derive(Clone)]
pub struct Env {
    store: Arc<dyn Store>,
    runtime: tokio::runtime::Handle,
    connection_id: Uuid,
    /// On a node that serves ServiceNow: the instance `httpClient` and `nodeHelper` reach.
    servicenow: Option<Arc<tandem_connectors::servicenow::Client>>,
    /// What `httpClient` does with a write (POST, PUT, PATCH, DELETE) to ServiceNow.
    writes: Writes,
    /// The connection as the rules see it (`connection`), and the URLs `syncHelper` gives.
    about: Arc<About>,
    /// On a node that serves ServiceNow: the tables it syncs.
    tables: Arc<[String]>,
    /// The local item of an outgoing run (for `firstSync`).
    item_key: Option<ItemKey>,
    /// The remote item of an incoming first sync (for `store(issue)`).
    remote_key: Option<String>,
    /// ServiceNow choice lists read in this run, by (table, column): (value, label) pairs.
    choices: Arc<std::sync::Mutex<ChoiceCache>>,
    /// What time it is for the rules: the node's clock unless a Test run fixed it.
    clock: Arc<dyn tandem_script::Clock>,
}

type ChoiceCache = Vec<((String, String), Arc<[(String, String)]>)>;

/// The connection and the nodes' URLs, as the rules and `syncHelper` see them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct About {
    /// `connection`: `name`, `localShortName`, `remoteShortName`, `mode`, `role`,
    /// `targetProject` (where new items go, as this side's admin chose; null when not chosen) and
    /// `remoteInstance` (`name`, `url`, `tracker`; null on a local connection).
    pub connection: Value,
    /// This node's URL (`getExalateUrl`) and its tracker's (`getTrackerUrl`).
    pub node_url: String,
    pub tracker_url: String,
    /// The remote node's URL (`getRemoteExalateUrl`; null for a private remote, whose URL
    /// this node does not know) and its tracker's (`getRemoteTrackerUrl`; known when it is
    /// the built-in tracker, which the node itself serves).
    pub remote_node_url: Option<String>,
    pub remote_tracker_url: Option<String>,
}

impl About {
    /// `connection` as the rules see it, on a node at `node_url` serving the tracker at
    /// `tracker_url`.
    pub fn new(connection: &tandem_model::Connection, node_url: &str, tracker_url: &str) -> About {
        let local = connection.role == tandem_model::ConnectionRole::Local;
        let remote = connection.remote.as_ref();
        let remote_node_url = if local {
            Some(node_url.to_owned())
        } else {
            remote.and_then(|r| r.url.clone())
        };
        let remote_tracker_url = if local {
            Some(tracker_url.to_owned())
        } else {
            remote
                .filter(|r| r.tracker == "builtin")
                .and_then(|r| r.url.clone())
        };
        About {
            connection: json!({
                "name": connection.name,
                "localShortName": connection.local_short_name,
                "remoteShortName": connection.remote_short_name,
                "mode": connection.mode.name(),
                "role": connection.role.as_str(),
                "targetProject": connection.target_project,
                "remoteInstance": remote.map(|r| json!({
                    "name": r.name,
                    "url": r.url,
                    "tracker": r.tracker,
                })),
            }),
            node_url: node_url.trim_end_matches('/').to_owned(),
            tracker_url: tracker_url.trim_end_matches('/').to_owned(),
            remote_node_url: remote_node_url.map(|u| u.trim_end_matches('/').to_owned()),
            remote_tracker_url: remote_tracker_url.map(|u| u.trim_end_matches('/').to_owned()),
        }
    }
}

/// What `httpClient` does with a write to the node's ServiceNow instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writes {
    /// Refused with an error: outgoing rules, which run again whenever replicas are compared
    /// (a write there would be repeated).
    Refuse,
    /// Logged and not sent: a test run writes nothing.
    Simulate,
    /// Sent: the incoming rules of a real sync, which run once per change applied.
    Send,
}

impl Env {
    /// True on a node that serves ServiceNow, whose records have whatever columns their table
    /// has: there a property the record lacks reads null.
    pub fn serves_servicenow(&self) -> bool {
        self.servicenow.is_some()
    }

    /// The tracker this node serves, as messages name it.
    pub fn tracker(&self) -> super::platforms::Tracker {
        if self.serves_servicenow() {
            super::platforms::Tracker::ServiceNow
        } else {
            super::platforms::Tracker::Builtin
        }
    }

    /// `runtime` must be captured on the async side, before the rules go to a blocking thread.
    pub fn new(store: Arc<dyn Store>, runtime: tokio::runtime::Handle, connection_id: Uuid) -> Env {
        Env {
            store,
            runtime,
            connection_id,
            servicenow: None,
            writes: Writes::Refuse,
            about: Arc::new(About::default()),
            choices: Arc::default(),
            clock: Arc::new(tandem_script::SystemClock),
            tables: Arc::from(Vec::new()),
            item_key: None,
            remote_key: None,
        }
    }

    /// The ServiceNow tables this node syncs (each a variable of that name in the rules).
    pub fn with_tables(mut self, tables: Vec<String>) -> Env {
        self.tables = tables.into();
        self
    }

    pub fn synced_tables(&self) -> &[String] {
        &self.tables
    }

    /// Whether writes are only logged in this run (a Test run).
    pub fn simulates_writes(&self) -> bool {
        self.writes == Writes::Simulate
    }

    /// Creates `new` linked to the remote item `remote_key` on this connection, as a first
    /// sync does (`store(issue)`).
    pub fn create_twinned(
        &self,
        remote_key: &str,
        new: tandem_model::NewItem,
    ) -> Result<tandem_model::Item, String> {
        let id = self.connection_id;
        let actor = tandem_model::Actor {
            name: format!(
                "sync:{}",
                self.about.connection["name"].as_str().unwrap_or_default()
            ),
            via_sync: Some(id.to_string()),
        };
        self.runtime
            .block_on(self.store.create_twinned_item(id, remote_key, new, &actor))
            .map(|(item, _)| item)
            .map_err(|e| format!("store(issue): the item could not be created: {e}"))
    }

    /// A GET of the ServiceNow instance's REST API (a path under its base), as JSON.
    pub fn servicenow_json(&self, what: &str, path: &str) -> Result<Value, String> {
        let path = path.to_owned();
        self.servicenow(what, async |c| c.get_json(&path).await)
            .unwrap_or_else(|| Err(format!("{what}: this node serves no ServiceNow instance")))
    }

    /// The project `{key, name}` of the built-in tracker, or null.
    pub fn project_json(&self, key: &str) -> Result<Value, String> {
        let Ok(key) = key.parse::<ProjectKey>() else {
            return Ok(Value::Null);
        };
        let project = self.read("the project", async |s| s.project(&key).await)?;
        Ok(project.map_or(
            Value::Null,
            |p| json!({"key": p.key.to_string(), "name": p.name}),
        ))
    }

    /// The remote item whose first sync the incoming rules apply (for `store(issue)`).
    pub fn with_remote_key(mut self, remote_key: String) -> Env {
        self.remote_key = Some(remote_key);
        self
    }

    pub fn remote_key(&self) -> Option<&str> {
        self.remote_key.as_deref()
    }

    /// The local item the outgoing rules run on.
    pub fn with_item_key(mut self, key: ItemKey) -> Env {
        self.item_key = Some(key);
        self
    }

    /// Whether the item the outgoing rules run on was never sent on this connection:
    /// `firstSync` in the outgoing rules. An item the run does not know counts as new.
    pub fn never_sent(&self) -> Result<bool, String> {
        let Some(key) = self.item_key.clone() else {
            return Ok(true);
        };
        let id = self.connection_id;
        let twin = self.read("the twin", async |s| s.twin(id, &key).await)?;
        Ok(twin.is_none_or(|t| t.last_sent.is_none()))
    }

    /// The choices (value, label) of `table`'s `column` on the ServiceNow instance, as its
    /// `sys_choice` table lists them (active ones, in their order); read once per run.
    pub fn choices(&self, table: &str, column: &str) -> Result<Arc<[(String, String)]>, String> {
        let plain =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain(table) || !plain(column) {
            return Err(format!(
                "'{table}'.'{column}' is not a table and column name"
            ));
        }
        let wanted = (table.to_owned(), column.to_owned());
        if let Ok(cache) = self.choices.lock()
            && let Some((_, found)) = cache.iter().find(|(k, _)| *k == wanted)
        {
            return Ok(found.clone());
        }
        let query = format!("name={table}^element={column}^inactive=false^ORDERBYsequence");
        let rows = self
            .servicenow("the choice list", async |c| {
                c.first_page("sys_choice", &query, Some("value,label"), 200)
                    .await
            })
            .ok_or_else(|| {
                format!("{table}.{column}: this node serves no ServiceNow instance")
            })??;
        let list: Arc<[(String, String)]> = rows
            .iter()
            .map(|r| {
                let text = |c: &str| {
                    r.get(c)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_owned()
                };
                (text("value"), text("label"))
            })
            .collect();
        if let Ok(mut cache) = self.choices.lock() {
            cache.push((wanted, list.clone()));
        }
        Ok(list)
    }

    /// The choice of `table`'s `column` that `name` names ([`super::entity::find_choice`]).
    pub fn choice(
        &self,
        table: &str,
        column: &str,
        name: &str,
    ) -> Result<Option<(String, String)>, String> {
        let choices = self.choices(table, column)?;
        Ok(super::entity::find_choice(&choices, name).cloned())
    }

    /// The connection the rules belong to, as `connection` and `syncHelper` show it.
    pub fn with_about(mut self, about: About) -> Env {
        self.about = Arc::new(about);
        self
    }

    /// What `httpClient` does with writes in this run.
    pub fn with_writes(mut self, writes: Writes) -> Env {
        self.writes = writes;
        self
    }

    /// The rules see this clock (`new Date()`, `Instant.now()`): a Test run's fixed time.
    pub fn with_clock(mut self, clock: Arc<dyn tandem_script::Clock>) -> Env {
        self.clock = clock;
        self
    }

    /// What time it is for the rules.
    pub fn clock(&self) -> Arc<dyn tandem_script::Clock> {
        self.clock.clone()
    }

    /// The helpers reach this ServiceNow instance instead of the built-in tracker.
    pub fn with_servicenow(mut self, client: Arc<tandem_connectors::servicenow::Client>) -> Env {
        self.servicenow = Some(client);
        self
    }

    /// A call to the ServiceNow instance, waited for on the script's thread.
    fn servicenow<T>(
        &self,
        what: &str,
        f: impl AsyncFnOnce(
            &tandem_connectors::servicenow::Client,
        ) -> Result<T, tandem_connectors::servicenow::ServiceNowError>,
    ) -> Option<Result<T, String>> {
        let client = self.servicenow.as_ref()?;
        Some(
            self.runtime
                .block_on(f(client))
                .map_err(|e| format!("{what}: {e}")),
        )
    }

    fn read<T>(
        &self,
        what: &str,
        f: impl AsyncFnOnce(&dyn Store) -> tandem_store::Result<T>,
    ) -> Result<T, String> {
        self.runtime
            .block_on(f(self.store.as_ref()))
            .map_err(|e| format!("{what} could not be read: {e}"))
    }
}

/// The helpers of one run, the `debug` log and what `syncHelper` was asked to do after the
/// run, to read back when it ends.
pub struct Bound {
    pub variables: Vec<(&'static str, ScriptValue)>,
    pub debug: Rc<Debug>,
    pub after: Rc<AfterProcessing>,
}

/// Which rules run: `syncHelper`'s after-processing requests belong to the incoming rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    Outgoing,
    Incoming,
}

/// What the incoming rules asked `syncHelper` to do once the change is applied.
#[derive(Debug, Default)]
pub struct AfterProcessing {
    /// `syncBackAfterProcessing()`: send this side's replica back to the source, even when
    /// the apply changed nothing the outgoing rules send.
    pub sync_back: std::cell::Cell<bool>,
    /// `unExalateAfterProcessing()`: stop syncing the twin (both items keep their data).
    pub unexalate: std::cell::Cell<bool>,
}

/// Makes the helpers for one run, and the `connection` variable.
pub fn bind(env: &Env, run: Run) -> Bound {
    let debug = Rc::new(Debug::default());
    let after = Rc::new(AfterProcessing::default());
    let host = |h: Rc<dyn HostObject>| ScriptValue::Host(h);
    let connection = match &env.about.connection {
        Value::Null => ScriptValue::Null,
        c => from_json(c),
    };
    Bound {
        variables: vec![
            ("connection", connection),
            ("debug", host(debug.clone())),
            ("nodeHelper", host(Rc::new(NodeHelper(env.clone())))),
            (
                "syncHelper",
                host(Rc::new(SyncHelper(env.clone(), run, after.clone()))),
            ),
            ("workLogHelper", host(Rc::new(WorkLogHelper))),
            (
                "httpClient",
                host(Rc::new(HttpClient(env.clone(), debug.clone()))),
            ),
        ]
        .into_iter()
        .chain(super::platforms::refusing_variables(env.tracker()))
        .collect(),
        debug,
        after,
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn arity(
    method: &str,
    args: &[ScriptValue],
    allowed: std::ops::RangeInclusive<usize>,
    form: &str,
) -> Result<(), String> {
    if allowed.contains(&args.len()) {
        Ok(())
    } else {
        Err(format!(
            "{method} takes {form}, not {} argument{}",
            args.len(),
            if args.len() == 1 { "" } else { "s" }
        ))
    }
}

/// The first argument as text; `None` for null (or a missing argument).
/// The first argument as text; a custom field's wrapper (`replica.customFields."X"`) gives
/// its value, so a helper never turns the wrapper itself into text like `[value:null]`.
fn text_arg(args: &[ScriptValue]) -> Option<String> {
    match args.first() {
        None | Some(ScriptValue::Null) => None,
        Some(v @ ScriptValue::Map(_)) => {
            let json = to_json(v);
            match super::item_json::field_value(&json) {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                j if std::ptr::eq(j, &json) => Some(v.to_string()),
                j => Some(from_json(j).to_string()),
            }
        }
        Some(v) => Some(v.to_string()),
    }
}

fn null() -> ScriptValue {
    ScriptValue::Null
}

/// `debug`: `error`, `info`, `warn`.
#[derive(Default)]
pub struct Debug {
    log: RefCell<Vec<String>>,
}

impl Debug {
    /// The lines `info` and `warn` added, each prefixed with its level.
    pub fn take_log(&self) -> Vec<String> {
        self.log.take()
    }

    /// Adds a line to the log, as `debug.info` does.
    pub fn note(&self, line: String) {
        self.log.borrow_mut().push(format!("info: {line}"));
    }
}

impl HostObject for Debug {
    fn type_name(&self) -> &str {
        "Debug"
    }

    fn get_property(&self, _name: &str) -> Result<Option<ScriptValue>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        args: &[ScriptValue],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<ScriptValue, String>> {
        let level = match name {
            "error" | "info" | "warn" => name,
            _ => return None,
        };
        if let Err(e) = arity(&format!("debug.{name}"), args, 1..=1, "(message)") {
            return Some(Err(e));
        }
        let message = text_arg(args).unwrap_or_else(|| "null".into());
        if level == "error" {
            return Some(Err(message));
        }
        self.log.borrow_mut().push(format!("{level}: {message}"));
        Some(Ok(null()))
    }

    fn method_names(&self) -> Vec<String> {
        names(&["error", "info", "warn"])
    }
}

/// `nodeHelper`: statuses, priorities, users, issue types, projects and issues of the built-in
/// tracker.
struct NodeHelper(Env);

impl HostObject for NodeHelper {
    fn type_name(&self) -> &str {
        "NodeHelper"
    }

    fn get_property(&self, _name: &str) -> Result<Option<ScriptValue>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        args: &[ScriptValue],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<ScriptValue, String>> {
        let result = match name {
            "getStatus" => arity(name, args, 1..=1, "(name)").map(|()| {
                named(
                    text_arg(args)
                        .and_then(|n| n.parse::<Status>().ok())
                        .map(Status::as_str),
                )
            }),
            "getPriority" => arity(name, args, 1..=2, "(name) or (name, issue)").map(|()| {
                named(
                    text_arg(args)
                        .and_then(|n| n.parse::<Priority>().ok())
                        .map(Priority::as_str),
                )
            }),
            "getUserByEmail" if self.0.serves_servicenow() => {
                arity(name, args, 1..=2, "(email) or (email, projectKey)")
                    .and_then(|()| self.servicenow_user("email", args))
            }
            "getUserByUsername" | "getUser" if self.0.serves_servicenow() => {
                arity(name, args, 1..=1, "(user name)")
                    .and_then(|()| self.servicenow_user("user_name", args))
            }
            // Exalate's (email, projectKey): the project plays no part here (the built-in
            // tracker's users are not per project).
            "getUserByEmail" => arity(name, args, 1..=2, "(email) or (email, projectKey)")
                .map(|()| user(text_arg(args))),
            "getUser" | "getUserByUsername" => {
                arity(name, args, 1..=1, "(name or email)").map(|()| user(text_arg(args)))
            }
            "getLocalIssueFromRemoteId" | "getLocalIssueFromRemoteUrn" => {
                arity(name, args, 1..=2, "(remoteId) or (remoteId, entityType)")
                    .and_then(|()| self.local_issue_from_remote(args))
            }
            "getUrgency" | "getImpact" if self.0.serves_servicenow() => {
                arity(name, args, 1..=1, "(name)").and_then(|()| {
                    let column = if name == "getUrgency" {
                        "urgency"
                    } else {
                        "impact"
                    };
                    self.servicenow_choice(column, args)
                })
            }
            "getIssueType" => arity(name, args, 1..=2, "(name) or (name, projectKey)")
                .and_then(|()| self.issue_type(args)),
            "getProject" => arity(name, args, 1..=1, "(key)").and_then(|()| self.project(args)),
            "getIssue" => arity(name, args, 1..=1, "(key)").and_then(|()| self.issue(args)),
            "getReference" if self.0.serves_servicenow() => {
                arity(name, args, 3..=3, "(table, column, value)")
                    .and_then(|()| self.reference(args))
            }
            "getTableByLink" if self.0.serves_servicenow() => {
                arity(name, args, 1..=1, "(link)").and_then(|()| self.record_by_link(args))
            }
            "getDisplayValue" if self.0.serves_servicenow() => arity(
                name,
                args,
                2..=3,
                "(entity, column) or (table, sys_id, column)",
            )
            .and_then(|()| self.display_value(args)),
            "getLabel" => arity(name, args, 1..=1, "(name)").map(|()| label(args)),
            "stripHtml" => {
                arity(name, args, 1..=1, "(html)").map(|()| html_text(args, super::html::strip))
            }
            "toMarkDownFromHtml" => arity(name, args, 1..=1, "(html)")
                .map(|()| html_text(args, super::html::to_markdown)),
            "getHtmlField" => {
                arity(name, args, 2..=2, "(issue, fieldName)").map(|()| html_field(args))
            }
            "stripHtmlFromComments" => arity(name, args, 1..=1, "(comments)")
                .and_then(|()| comment_bodies(name, &args[0], super::html::strip)),
            "toMarkDownComments" => arity(name, args, 1..=1, "(comments)")
                .and_then(|()| comment_bodies(name, &args[0], super::html::to_markdown)),
            "getHtmlComments" => arity(name, args, 1..=1, "(issue)").and_then(|()| {
                let issue = to_json(&args[0]);
                comment_bodies(name, &from_json(&issue["comments"]), super::html::from_text)
            }),
            _ => {
                return super::platforms::node_helper_refusal(name, self.0.tracker()).map(Err);
            }
        };
        Some(result)
    }

    fn method_names(&self) -> Vec<String> {
        let mut list = self.own_method_names();
        if self.0.serves_servicenow() {
            list.extend(names(&[
                "getReference",
                "getTableByLink",
                "getDisplayValue",
                "getUrgency",
                "getImpact",
            ]));
        }
        list
    }
}

impl NodeHelper {
    fn own_method_names(&self) -> Vec<String> {
        names(&[
            "getStatus",
            "getPriority",
            "getUser",
            "getUserByEmail",
            "getUserByUsername",
            "getIssueType",
            "getProject",
            "getIssue",
            "getLocalIssueFromRemoteId",
            "getLabel",
            "stripHtml",
            "toMarkDownFromHtml",
            "getHtmlField",
            "stripHtmlFromComments",
            "toMarkDownComments",
            "getHtmlComments",
        ])
    }
}

/// `getLabel(name)`: the label `{label}` (a label of the built-in tracker is any text, so it
/// always exists), or null for an empty name. A label map given is read by its `label`.
fn label(args: &[ScriptValue]) -> ScriptValue {
    let name = match args.first() {
        Some(v @ ScriptValue::Map(_)) => to_json(v)["label"].as_str().map(str::to_owned),
        _ => text_arg(args),
    };
    match name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) {
        Some(n) => super::label::label(&n),
        None => null(),
    }
}

/// The comments with each body converted (`stripHtmlFromComments`, `toMarkDownComments`,
/// `getHtmlComments`); null is an empty list.
fn comment_bodies(
    method: &str,
    comments: &ScriptValue,
    convert: fn(&str) -> String,
) -> Result<ScriptValue, String> {
    let list = match to_json(comments) {
        Value::Null => Vec::new(),
        Value::Array(list) => list,
        other => return Err(format!("{method} takes a list of comments, not {other}")),
    };
    let converted = list
        .into_iter()
        .map(|mut c| {
            if let Some(body) = c.get("body").and_then(Value::as_str).map(convert) {
                c["body"] = Value::String(body);
            }
            c
        })
        .collect();
    Ok(from_json(&Value::Array(converted)))
}

/// A text conversion of the first argument; null stays null.
fn html_text(args: &[ScriptValue], convert: fn(&str) -> String) -> ScriptValue {
    text_arg(args).map_or(ScriptValue::Null, |t| ScriptValue::str(convert(&t)))
}

/// `getHtmlField(issue, fieldName)`: the item's field as HTML. The built-in tracker keeps
/// plain text, so the text is escaped with its paragraphs and line breaks as markup; a custom
/// field is found by its name (`getHtmlField(issue, "Steps")`); null when the field is empty
/// or missing.
fn html_field(args: &[ScriptValue]) -> ScriptValue {
    let issue = to_json(&args[0]);
    let field = args[1].to_string();
    let value = match issue.get(&field) {
        Some(v) if !v.is_null() => v.clone(),
        _ => issue["customFields"][field.as_str()].clone(),
    };
    // A custom field as the rules see it: `{value}`.
    let value = match value {
        Value::Object(mut o) if o.len() == 1 && o.contains_key("value") => {
            o.remove("value").unwrap_or(Value::Null)
        }
        v => v,
    };
    match value {
        Value::Null => null(),
        Value::String(s) if s.is_empty() => null(),
        Value::String(s) => ScriptValue::str(super::html::from_text(&s)),
        other => ScriptValue::str(super::html::from_text(&other.to_string())),
    }
}

/// `{name}`, or null.
fn named(name: Option<&str>) -> ScriptValue {
    name.map_or(ScriptValue::Null, |n| from_json(&json!({"name": n})))
}

/// A person made from a name or an email address.
fn user(arg: Option<String>) -> ScriptValue {
    let Some(arg) = arg.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()) else {
        return null();
    };
    let email = arg.contains('@').then(|| arg.clone());
    from_json(&json!({"displayName": arg, "email": email}))
}

impl NodeHelper {
    fn issue_type(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        if let Some(project) = args.get(1).filter(|p| !matches!(p, ScriptValue::Null)) {
            let Ok(key) = project.to_string().parse::<ProjectKey>() else {
                return Ok(null());
            };
            if self
                .0
                .read("the project", async |s| s.project(&key).await)?
                .is_none()
            {
                return Ok(null());
            }
        }
        // The built-in tracker's types, matched as it matches them (any case).
        Ok(named(
            text_arg(args)
                .and_then(|n| n.trim().parse::<tandem_model::ItemType>().ok())
                .map(tandem_model::ItemType::as_str),
        ))
    }

    fn project(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        let Some(key) = text_arg(args).and_then(|k| k.parse::<ProjectKey>().ok()) else {
            return Ok(null());
        };
        let project = self
            .0
            .read("the project", async |s| s.project(&key).await)?;
        Ok(project.map_or(ScriptValue::Null, |p| {
            from_json(&json!({"key": p.key.to_string(), "name": p.name}))
        }))
    }

    fn issue(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        let Some(key) = text_arg(args).and_then(|k| k.parse::<ItemKey>().ok()) else {
            return Ok(null());
        };
        let item = self.0.read("the item", async |s| s.item(&key).await)?;
        Ok(item.map_or(ScriptValue::Null, |i| {
            let mut v = item_json(&i);
            super::item_json::wrap_custom_fields(&mut v, &[], false);
            from_json(&v)
        }))
    }
}

/// `syncHelper`: which items are under sync, their twins' keys and URLs, and what to do once
/// the incoming change is applied.
struct SyncHelper(Env, Run, Rc<AfterProcessing>);

impl HostObject for SyncHelper {
    fn type_name(&self) -> &str {
        "SyncHelper"
    }

    fn get_property(&self, _name: &str) -> Result<Option<ScriptValue>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        args: &[ScriptValue],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<ScriptValue, String>> {
        let result = match name {
            "isIssueUnderSync" => {
                arity(name, args, 1..=1, "(key)").and_then(|()| self.under_sync(args))
            }
            // Exalate's (id, type[, connection]): the built-in tracker has one type, and a
            // twin on any connection counts, as for isIssueUnderSync.
            "isUnderSync" => arity(name, args, 1..=3, "(key[, type[, connection]])")
                .and_then(|()| self.under_sync(args)),
            "getLocalIssueKeyFromRemoteId" => {
                arity(name, args, 1..=1, "(remoteKey)").and_then(|()| self.local_key(args))
            }
            "getRemoteIssueKey" => {
                arity(name, args, 1..=1, "(localKey)").and_then(|()| self.remote_key(args))
            }
            "getRemoteIssueUrl" => arity(name, args, 1..=2, "(localKey) or (id, type)")
                .and_then(|()| self.remote_issue_url(args)),
            "getTrackerUrl" => arity(name, args, 0..=0, "()")
                .map(|()| ScriptValue::str(self.0.about.tracker_url.clone())),
            "getExalateUrl" => arity(name, args, 0..=0, "()")
                .map(|()| ScriptValue::str(self.0.about.node_url.clone())),
            "getRemoteTrackerUrl" => arity(name, args, 0..=0, "()")
                .map(|()| optional_text(self.0.about.remote_tracker_url.clone())),
            "getRemoteExalateUrl" => arity(name, args, 0..=0, "()")
                .map(|()| optional_text(self.0.about.remote_node_url.clone())),
            "syncBackAfterProcessing" => arity(name, args, 0..=0, "()")
                .and_then(|()| self.after_processing(name, &self.2.sync_back)),
            "unExalateAfterProcessing" => arity(name, args, 0..=0, "()")
                .and_then(|()| self.after_processing(name, &self.2.unexalate)),
            _ => return None,
        };
        Some(result)
    }

    fn method_names(&self) -> Vec<String> {
        names(&[
            "isIssueUnderSync",
            "isUnderSync",
            "getLocalIssueKeyFromRemoteId",
            "getRemoteIssueKey",
            "getRemoteIssueUrl",
            "getTrackerUrl",
            "getExalateUrl",
            "getRemoteTrackerUrl",
            "getRemoteExalateUrl",
            "syncBackAfterProcessing",
            "unExalateAfterProcessing",
        ])
    }
}

fn optional_text(text: Option<String>) -> ScriptValue {
    text.map_or(ScriptValue::Null, ScriptValue::str)
}

/// The key a script passed: a key string, or an issue map with its `key`.
fn key_arg(args: &[ScriptValue]) -> Option<String> {
    match args.first()? {
        ScriptValue::Null => None,
        v @ ScriptValue::Map(_) => to_json(v)["key"].as_str().map(str::to_owned),
        v => Some(v.to_string()),
    }
}

impl SyncHelper {
    fn under_sync(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        let Some(key) = key_arg(args).and_then(|k| k.parse::<ItemKey>().ok()) else {
            return Ok(ScriptValue::Bool(false));
        };
        let twins = self
            .0
            .read("the item's twins", async |s| s.twins_of_item(&key).await)?;
        Ok(ScriptValue::Bool(
            twins.iter().any(|t| t.state == TwinState::Active),
        ))
    }

    fn local_key(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        let Some(remote) = key_arg(args) else {
            return Ok(null());
        };
        let id = self.0.connection_id;
        let twin = self
            .0
            .read("the twin", async |s| s.twin_by_remote(id, &remote).await)?;
        Ok(twin.map_or(ScriptValue::Null, |t| {
            ScriptValue::str(t.local_key.to_string())
        }))
    }

    /// `syncHelper.syncBackAfterProcessing()` / `unExalateAfterProcessing()`: noted for the
    /// engine, which acts once the change is applied. The outgoing rules run whenever replicas
    /// are compared, not once per change, so there they are refused.
    fn after_processing(
        &self,
        name: &str,
        flag: &std::cell::Cell<bool>,
    ) -> Result<ScriptValue, String> {
        if self.1 != Run::Incoming {
            return Err(format!(
                "syncHelper.{name}() works in the incoming rules (it acts once a received change is applied)"
            ));
        }
        flag.set(true);
        Ok(null())
    }

    /// `getRemoteIssueUrl(localKey)` (or Exalate's `(id, type)`, the id being the key here):
    /// the page of the local item's twin on the remote node, or null when the item has no
    /// twin on this connection or the remote's URL is not known (a private remote).
    fn remote_issue_url(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        let ScriptValue::Str(remote) = self.remote_key(&args[..1])? else {
            return Ok(null());
        };
        Ok(optional_text(self.0.about.remote_node_url.as_ref().map(
            |base| format!("{base}/items/{}", percent_path(&remote)),
        )))
    }

    fn remote_key(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        let Some(local) = key_arg(args).and_then(|k| k.parse::<ItemKey>().ok()) else {
            return Ok(null());
        };
        let id = self.0.connection_id;
        let twin = self
            .0
            .read("the twin", async |s| s.twin(id, &local).await)?;
        Ok(twin
            .and_then(|t| t.remote_key)
            .map_or(ScriptValue::Null, ScriptValue::str))
    }
}

/// `workLogHelper`: the built-in tracker has no work logs; every method leaves things as they
/// are, so that scripts written for Jira run unchanged.
struct WorkLogHelper;

impl HostObject for WorkLogHelper {
    fn type_name(&self) -> &str {
        "WorkLogHelper"
    }

    fn get_property(&self, _name: &str) -> Result<Option<ScriptValue>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        args: &[ScriptValue],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<ScriptValue, String>> {
        let list_or_empty = |v: Option<&ScriptValue>| match v {
            Some(list @ ScriptValue::List(_)) => list.clone(),
            _ => ScriptValue::list(Vec::new()),
        };
        let result = match name {
            "mergeWorkLogs" => arity(
                name,
                args,
                2..=3,
                "(issue, replica) or (issue, replica, closure)",
            )
            .map(|()| {
                let issue = to_json(&args[0]);
                list_or_empty(Some(&from_json(&issue["workLogs"])))
            }),
            "addWorkLog" => arity(name, args, 1..=4, "(date, timeSpent, comment, workLogs)")
                .map(|()| list_or_empty(args.last())),
            "filterLocal" => {
                arity(name, args, 1..=1, "(workLogs)").map(|()| list_or_empty(args.first()))
            }
            "setAutoAdjust" => arity(name, args, 0..=1, "()").map(|()| null()),
            _ => return None,
        };
        Some(result)
    }

    fn method_names(&self) -> Vec<String> {
        names(&[
            "mergeWorkLogs",
            "addWorkLog",
            "filterLocal",
            "setAutoAdjust",
        ])
    }
}

/// `httpClient`: this node's own tracker API — on the built-in tracker reads answered from the
/// store, on ServiceNow the instance's REST API (writes as [`Writes`] says). The run's `debug`
/// log takes the writes a test run does not send.
struct HttpClient(Env, Rc<Debug>);

const ENDPOINTS: &str =
    "it answers GET /items/{key}, GET /items?jql=…, GET /projects and GET /projects/{key}";

impl NodeHelper {
    /// `getReference(table, column, value)`: the first record of a ServiceNow table whose column
    /// has the value (e.g. `("sys_user", "email", "ann@example.com")`), as a map of its columns,
    /// or null.
    fn reference(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        let text = |i: usize| args.get(i).map(ToString::to_string).unwrap_or_default();
        let (table, column, value) = (text(0), text(1), text(2));
        if column.is_empty()
            || !column
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            || value.contains('^')
        {
            return Err(format!(
                "getReference(\"{table}\", \"{column}\", …): the column must be a column name and the value must not contain ^"
            ));
        }
        let query = format!("{column}={value}");
        let found = self.0.servicenow("getReference", async |c| {
            c.first_page(&table, &query, None, 1).await
        });
        match found {
            None => Err(
                "getReference reads ServiceNow tables; this node serves the built-in tracker"
                    .into(),
            ),
            Some(Err(e)) => Err(e),
            Some(Ok(rows)) => Ok(rows.into_iter().next().map_or(ScriptValue::Null, |r| {
                from_json(&Value::Object(r.into_fields()))
            })),
        }
    }
}

impl NodeHelper {
    /// `getDisplayValue(entity, column)` or `getDisplayValue(table, sys_id, column)`: the
    /// column's display value as ServiceNow shows it (a reference's name, a choice's label),
    /// read from the instance on request; null when the record has no such column.
    fn display_value(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        let (table, sys_id, column) = match args {
            [entity @ ScriptValue::Map(_), column] => {
                let e = to_json(entity);
                (
                    e["tableName"].as_str().unwrap_or_default().to_owned(),
                    e["sys_id"].as_str().unwrap_or_default().to_owned(),
                    column.to_string(),
                )
            }
            [table, sys_id, column] => (table.to_string(), sys_id.to_string(), column.to_string()),
            _ => {
                return Err(
                    "getDisplayValue takes (entity, column) or (table, sys_id, column)".into(),
                );
            }
        };
        let plain =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !plain(&table) || !plain(&sys_id) || !plain(&column) {
            return Err(format!(
                "getDisplayValue: '{table}', '{sys_id}' and '{column}' must be a table, a sys_id and a column name (a record not yet in ServiceNow has no sys_id)"
            ));
        }
        let path = format!(
            "/api/now/table/{table}/{sys_id}?sysparm_fields={column}&sysparm_display_value=true"
        );
        match self
            .0
            .servicenow("getDisplayValue", async |c| c.get_json(&path).await)
        {
            None => Err(
                "getDisplayValue reads ServiceNow records; this node serves the built-in tracker"
                    .into(),
            ),
            Some(Err(e)) => Err(e),
            Some(Ok(v)) => Ok(match &v["result"][column.as_str()] {
                Value::String(s) => from_json(&Value::String(s.clone())),
                Value::Object(o) => o.get("display_value").map_or(ScriptValue::Null, from_json),
                _ => ScriptValue::Null,
            }),
        }
    }
}

impl HostObject for HttpClient {
    fn type_name(&self) -> &str {
        "HttpClient"
    }

    fn get_property(&self, _name: &str) -> Result<Option<ScriptValue>, String> {
        Ok(None)
    }

    fn call_method(
        &self,
        name: &str,
        args: &[ScriptValue],
        invoker: &mut dyn Invoker,
    ) -> Option<Result<ScriptValue, String>> {
        let (method, args) = match name {
            "get" | "post" | "put" | "patch" | "delete" => (name.to_ascii_uppercase(), args),
            "http" => match args.split_first() {
                Some((method, rest)) => (method.to_string().to_ascii_uppercase(), rest),
                None => {
                    return Some(Err(
                        "http takes (method, path, body, …), not 0 arguments".into()
                    ));
                }
            },
            _ => return None,
        };
        // Exalate's full form: (path, body, <ignored>, headers) { req, res -> … }.
        let (closure, args) = match args.split_last() {
            Some((c @ ScriptValue::Closure(_), rest)) => (Some(c), rest),
            _ => (None, args),
        };
        let Some(path) = text_arg(args) else {
            return Some(Err(format!(
                "httpClient.{name} needs a path such as /items/SUP-1"
            )));
        };
        // Another platform's REST API (Jira's, Azure DevOps', Salesforce's, Zendesk's): not
        // this node's tracker, said so rather than sent.
        if let Some(platform) = super::platforms::rest_platform(&path) {
            return Some(Err(format!(
                "httpClient {method} {path}: that is the {platform} REST API; this node serves {} — {}",
                self.0.tracker().name(),
                super::platforms::SEE
            )));
        }
        let body = args.get(1).filter(|b| !matches!(b, ScriptValue::Null));
        let headers = match args.get(3) {
            None | Some(ScriptValue::Null) => Vec::new(),
            Some(map @ ScriptValue::Map(_)) => match to_json(map) {
                Value::Object(m) => m
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (k, v)
                    })
                    .collect(),
                _ => Vec::new(),
            },
            Some(other) => {
                return Some(Err(format!(
                    "httpClient.{name}: the headers must be a map of name to value, not {other}"
                )));
            }
        };
        if let Err(e) = tandem_connectors::servicenow::check_script_headers(&headers) {
            return Some(Err(format!("httpClient {method} {path}: {e}")));
        }
        let Some(closure) = closure else {
            return Some(
                self.request(&method, &path, body, &headers)
                    .map(|v| from_json(&v)),
            );
        };
        let answer = match self.answer(&method, &path, body, &headers) {
            Ok(a) => a,
            Err(e) => return Some(Err(e)),
        };
        let text_map = |pairs: &[(String, String)]| {
            Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )
        };
        let req = json!({
            "method": method,
            "path": path,
            "body": body.map(|b| match b {
                ScriptValue::Str(t) => t.to_string(),
                other => to_json(other).to_string(),
            }),
            "headers": text_map(&headers),
        });
        let res = json!({
            "code": answer.status,
            "body": answer.body,
            "headers": text_map(&answer.headers),
        });
        Some(
            invoker
                .call(closure, vec![from_json(&req), from_json(&res)])
                .map_err(|e| {
                    format!(
                        "the httpClient {method} {path} closure failed: {}",
                        e.message
                    )
                }),
        )
    }

    fn method_names(&self) -> Vec<String> {
        names(&["get", "post", "put", "patch", "delete", "http"])
    }
}

/// A request body as JSON: a map or list as it is, a string as the JSON text it holds.
fn json_body(
    method: &str,
    path: &str,
    body: Option<&ScriptValue>,
) -> Result<Option<Value>, String> {
    match body {
        None => Ok(None),
        Some(ScriptValue::Str(text)) => serde_json::from_str(text)
            .map(Some)
            .map_err(|e| format!("httpClient {method} {path}: the body is not JSON ({e})")),
        Some(other) => Ok(Some(to_json(other))),
    }
}

/// The ServiceNow method `httpClient` sends for `method`.
fn verb(method: &str) -> Result<reqwest::Method, String> {
    Ok(match method {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        "PUT" => reqwest::Method::PUT,
        "PATCH" => reqwest::Method::PATCH,
        "DELETE" => reqwest::Method::DELETE,
        other => {
            return Err(format!(
                "httpClient: '{other}' is not a method it sends (GET, POST, PUT, PATCH, DELETE)"
            ));
        }
    })
}

impl HttpClient {
    /// A request whose answer the script's closure handles: the status, the body as text and
    /// the headers, whatever the status. On the built-in tracker, what the API answers (a
    /// refusal still raises: no request was made).
    fn answer(
        &self,
        method: &str,
        path: &str,
        body: Option<&ScriptValue>,
        headers: &[(String, String)],
    ) -> Result<tandem_connectors::servicenow::Exchange, String> {
        let json_answer = |status: u16, v: &Value| tandem_connectors::servicenow::Exchange {
            status,
            body: if v.is_null() {
                String::new()
            } else {
                v.to_string()
            },
            headers: vec![("content-type".into(), "application/json".into())],
        };
        if self.0.servicenow.is_none() {
            return self
                .request(method, path, body, headers)
                .map(|v| json_answer(200, &v));
        }
        let verb = verb(method)?;
        let body = json_body(method, path, body)?;
        if let Some(simulated) = self.gate_write(&verb, method, path, &body)? {
            let status = match verb {
                reqwest::Method::POST => 201,
                reqwest::Method::DELETE => 204,
                _ => 200,
            };
            return Ok(json_answer(status, &simulated));
        }
        let (path, headers) = (path.to_owned(), headers.to_vec());
        self.0
            .servicenow(&format!("httpClient {method} {path}"), async |c| {
                c.exchange(verb, &path, body, &headers).await
            })
            .unwrap_or_else(|| Err("no ServiceNow instance".into()))
    }

    /// What a write may do in this run ([`Writes`]): `None` to send it, the simulated answer
    /// in a test run, or the refusal in outgoing rules.
    fn gate_write(
        &self,
        verb: &reqwest::Method,
        method: &str,
        path: &str,
        body: &Option<Value>,
    ) -> Result<Option<Value>, String> {
        match self.0.writes {
            _ if *verb == reqwest::Method::GET => Ok(None),
            Writes::Send => Ok(None),
            Writes::Refuse => Err(format!(
                "httpClient {method} {path}: outgoing rules only read from ServiceNow (they run again whenever replicas are compared, so a write would repeat); write from the incoming rules"
            )),
            Writes::Simulate => {
                // Answered as the Table API would, so the rest of the rules can be tried: the
                // body as the record, with a placeholder sys_id for a new one.
                self.1.note(format!(
                    "test run: httpClient {method} {path} was not sent (answered with its own body)"
                ));
                Ok(Some(match (verb, body.clone()) {
                    (&reqwest::Method::DELETE, _) => Value::Null,
                    (verb, Some(Value::Object(mut record))) => {
                        if *verb == reqwest::Method::POST {
                            record
                                .entry("sys_id")
                                .or_insert_with(|| json!("test-run-sys-id"));
                        }
                        json!({ "result": record })
                    }
                    (_, body) => json!({ "result": body }),
                }))
            }
        }
    }

    fn servicenow(
        &self,
        method: &str,
        path: &str,
        body: Option<&ScriptValue>,
        headers: &[(String, String)],
    ) -> Result<Value, String> {
        let verb = verb(method)?;
        let body = json_body(method, path, body)?;
        if let Some(simulated) = self.gate_write(&verb, method, path, &body)? {
            return Ok(simulated);
        }
        let (path, headers) = (path.to_owned(), headers.to_vec());
        self.0
            .servicenow(&format!("httpClient {method} {path}"), async |c| {
                c.send_json(verb, &path, body, &headers).await
            })
            .unwrap_or_else(|| Err("no ServiceNow instance".into()))
    }

    /// The request's JSON answer. On the built-in tracker `headers` have nothing to reach
    /// (no request leaves the node).
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&ScriptValue>,
        headers: &[(String, String)],
    ) -> Result<Value, String> {
        // On ServiceNow: the instance's REST API, relative to its base, with the node's
        // credentials.
        if self.0.servicenow.is_some() {
            return self.servicenow(method, path, body, headers);
        }
        let refuse = || {
            format!(
                "httpClient reaches only this node's tracker API; {method} {path} is not one of its endpoints ({ENDPOINTS})"
            )
        };
        let relative = path.strip_prefix("/api/v1").unwrap_or(path);
        let relative = relative.strip_prefix('/').unwrap_or(relative);
        let (route, query) = relative.split_once('?').unwrap_or((relative, ""));
        let segments: Vec<&str> = route.trim_end_matches('/').split('/').collect();
        if method != "GET" || path.contains("://") {
            return Err(refuse());
        }
        let not_found = |what: String| format!("httpClient GET {path}: 404, {what} does not exist");
        match segments.as_slice() {
            ["items", key] => {
                let key: ItemKey = key.parse().map_err(|_| not_found(format!("item {key}")))?;
                let item = self.0.read("the item", async |s| s.item(&key).await)?;
                let item = item.ok_or_else(|| not_found(format!("item {key}")))?;
                Ok(json!(ItemJson::from(&item)))
            }
            ["items"] => self.search(path, query),
            ["projects"] => {
                let projects = self.0.read("the projects", async |s| s.projects().await)?;
                Ok(json!(
                    projects.iter().map(ProjectJson::from).collect::<Vec<_>>()
                ))
            }
            ["projects", key] => {
                let key: ProjectKey = key
                    .parse()
                    .map_err(|_| not_found(format!("project {key}")))?;
                let project = self
                    .0
                    .read("the project", async |s| s.project(&key).await)?;
                let project = project.ok_or_else(|| not_found(format!("project {key}")))?;
                Ok(json!(ProjectJson::from(&project)))
            }
            _ => Err(refuse()),
        }
    }

    /// `GET /items?jql=…&offset=…&limit=…`, as the API answers it.
    fn search(&self, path: &str, query: &str) -> Result<Value, String> {
        let bad = |problem: String| format!("httpClient GET {path}: 400, {problem}");
        let (mut text, mut offset, mut limit) = (String::new(), 0u32, 50u32);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match name {
                "jql" | "query" => text = value,
                "offset" => {
                    offset = value
                        .parse()
                        .map_err(|_| bad(format!("offset {value} is not a number")))?;
                }
                "limit" => {
                    limit = value
                        .parse()
                        .ok()
                        .filter(|l| (1..=MAX_PAGE).contains(l))
                        .ok_or_else(|| bad(format!("limit must be between 1 and {MAX_PAGE}")))?;
                }
                other => return Err(bad(format!("unknown parameter {other}"))),
            }
        }
        let query = if text.trim().is_empty() {
            Query::all()
        } else {
            Query::parse(&text).map_err(|e| bad(format!("invalid query: {e}")))?
        };
        let page = Page { offset, limit };
        let result = self.0.read("the items", async |s| {
            s.search_items(&query, page, jiff::Timestamp::now()).await
        })?;
        Ok(json!({
            "total": result.total,
            "offset": offset,
            "limit": limit,
            "items": result.items.iter().map(ItemJson::from).collect::<Vec<_>>(),
        }))
    }
}

/// `text` as one URL path segment: anything but unreserved characters percent-encoded.
fn percent_path(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, tandem_connectors::UNRESERVED).to_string()
}

/// Decodes `%XX` escapes and `+` (a space) in a query-string value; a malformed escape stays
/// as written.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// A store with a little data and the [`Env`] the rules get, for the rules' and helpers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use jiff::Timestamp;
    use tandem_model::{
        Actor, Connection, ConnectionRole, ConnectionStatus, Mode, NewItem, NewProject, Twin,
    };
    use tandem_store::sqlite::{SqliteOptions, SqliteStore};

    /// Project SUP ("Support") with SUP-1, SUP-2 and SUP-3. On connection `desk`: SUP-1 is
    /// twinned with ENG-7 and SUP-3 was unexalated (stopped, ENG-9). On connection `other`:
    /// SUP-2 is twinned with OPS-1.
    pub struct Fixture {
        _dir: tempfile::TempDir,
        runtime: tokio::runtime::Runtime,
        store: Arc<dyn Store>,
        pub desk: Uuid,
        about: About,
    }

    pub(crate) fn connection(name: &str) -> Connection {
        Connection {
            id: Uuid::now_v7(),
            name: name.into(),
            description: String::new(),
            mode: Mode::Script,
            role: ConnectionRole::Local,
            local_short_name: "sup".into(),
            remote_short_name: "eng".into(),
            remote: None,
            private: false,
            status: ConnectionStatus::Active,
            status_reason: None,
            remote_paused: false,
            invitation: None,
            sealed_root: None,
            outgoing_script: String::new(),
            incoming_script: String::new(),
            target_project: None,
            created: Timestamp::now(),
            updated: Timestamp::now(),
            last_sync: None,
            version: 1,
        }
    }

    fn twin(connection_id: Uuid, local: &str, remote: &str, state: TwinState) -> Twin {
        Twin {
            connection_id,
            local_key: local.parse().expect("a valid key"),
            remote_key: Some(remote.into()),
            state,
            last_sent: None,
            last_received: None,
            created: Timestamp::now(),
            last_sync: None,
            clock: Default::default(),
            leads: false,
            remote_display_key: None,
            display_key_sent: None,
        }
    }

    impl Fixture {
        pub fn new() -> Fixture {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let store: Arc<dyn Store> = Arc::new(
                SqliteStore::open(&dir.path().join("t.db"), SqliteOptions::default())
                    .expect("open the store"),
            );
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            let mut desk = connection("desk");
            // Initiated by this node (http://sup.test) towards a node at http://eng.test.
            desk.role = ConnectionRole::Initiator;
            desk.remote = Some(tandem_model::RemoteNode {
                node_id: Uuid::now_v7(),
                name: "Engineering".into(),
                url: Some("http://eng.test/".into()),
                tracker: "builtin".into(),
                public_key: String::new(),
            });
            let about = About::new(&desk, "http://sup.test", "http://sup.test");
            let other = connection("other");
            let (desk_id, other_id) = (desk.id, other.id);
            runtime.block_on(async {
                let sup: ProjectKey = "SUP".parse().unwrap();
                store
                    .create_project(NewProject {
                        key: sup.clone(),
                        name: "Support".into(),
                        description: String::new(),
                    })
                    .await
                    .unwrap();
                for summary in ["Checkout fails", "Slow search", "Old one"] {
                    store
                        .create_item(NewItem::new(sup.clone(), summary), &Actor::user("ana"))
                        .await
                        .unwrap();
                }
                store.create_connection(desk).await.unwrap();
                store.create_connection(other).await.unwrap();
                for t in [
                    twin(desk_id, "SUP-1", "ENG-7", TwinState::Active),
                    twin(desk_id, "SUP-3", "ENG-9", TwinState::Stopped),
                    twin(other_id, "SUP-2", "OPS-1", TwinState::Active),
                ] {
                    store.create_twin(t).await.unwrap();
                }
            });
            Fixture {
                _dir: dir,
                runtime,
                store,
                desk: desk_id,
                about,
            }
        }

        /// Records that `key`'s twin on `desk` sent a replica.
        pub fn mark_sent(&self, key: &str) {
            let key: ItemKey = key.parse().expect("a key");
            let desk = self.desk;
            self.runtime.block_on(async {
                let mut t = match self.store.twin(desk, &key).await.expect("read") {
                    Some(t) => t,
                    None => self
                        .store
                        .create_twin(twin(
                            desk,
                            key.to_string().as_str(),
                            "ENG-99",
                            TwinState::Active,
                        ))
                        .await
                        .expect("twin"),
                };
                t.last_sent = Some("{}".into());
                self.store.update_twin(&t).await.expect("update");
            });
        }

        /// What the rules of connection `desk` get.
        pub fn env(&self) -> Env {
            Env::new(self.store.clone(), self.runtime.handle().clone(), self.desk)
                .with_about(self.about.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Fixture;
    use super::*;
    use crate::sync::rules::{self, IncomingInput, RuleError};

    /// Runs `script` as outgoing rules of connection `desk` on SUP-1; returns `replica.r`.
    fn eval(script: &str) -> Result<Value, RuleError> {
        let fixture = Fixture::new();
        let item = json!({"key": "SUP-1", "summary": "Checkout fails"});
        rules::outgoing(script, &item, &fixture.env()).map(|o| o.replica["r"].clone())
    }

    fn check(script: &str, expected: Value) {
        assert_eq!(eval(script).unwrap(), expected, "{script}");
    }

    fn fails(script: &str) -> String {
        eval(script).unwrap_err().message
    }

    #[test]
    fn debug_error_stops_the_run_with_its_message_and_shows_what_was_logged() {
        let fixture = Fixture::new();
        let e = rules::outgoing(
            "debug.info('looking at ' + issue.key)\nif (issue.summary) { debug.error('no summary wanted here') }\nreplica.x = 1",
            &json!({"key": "SUP-1", "summary": "Checkout fails"}),
            &fixture.env(),
        )
        .unwrap_err();
        assert_eq!(e.message, "no summary wanted here");
        assert!(!e.compile, "it blocks the item, not the connection");
        let trace = e.trace.unwrap();
        assert!(trace.contains(":2:"), "{trace}");
        assert!(trace.ends_with("info: looking at SUP-1"), "{trace}");
    }

    #[test]
    fn debug_info_and_warn_lines_come_back_with_both_outcomes() {
        let fixture = Fixture::new();
        let out = rules::outgoing(
            "debug.info('one')\ndebug.warn('two')\nreplica.summary = issue.summary",
            &json!({"summary": "s"}),
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(out.log, vec!["info: one", "warn: two"]);
        let incoming = rules::incoming(
            "if (firstSync) { issue.projectKey = 'SUP' }\ndebug.warn('created from ' + replica.key)",
            IncomingInput {
                replica: json!({"key": "ENG-4"}),
                previous: None,
                first_sync: true,
                item: json!({"summary": ""}),
                comment_twins: vec![],
                attachment_twins: vec![],
                journals: false,
            },
            &fixture.env(),
        )
        .unwrap();
        assert_eq!(incoming.log, vec!["warn: created from ENG-4"]);
    }

    #[test]
    fn debug_takes_one_message() {
        assert_eq!(
            fails("debug.info()"),
            "debug.info takes (message), not 0 arguments"
        );
    }

    #[test]
    fn get_status_and_get_priority_name_the_built_in_ones_in_any_case() {
        check(
            "replica.r = nodeHelper.getStatus('in progress')",
            json!({"name": "In Progress"}),
        );
        check(
            "replica.r = nodeHelper.getStatus('DONE').name",
            json!("Done"),
        );
        check("replica.r = nodeHelper.getStatus('Resolved')", Value::Null);
        check(
            "replica.r = nodeHelper.getPriority('highest')",
            json!({"name": "Highest"}),
        );
        check(
            "replica.r = nodeHelper.getPriority('low', issue)",
            json!({"name": "Low"}),
        );
        check("replica.r = nodeHelper.getPriority('Blocker')", Value::Null);
        check("replica.r = nodeHelper.getStatus(null)", Value::Null);
    }

    #[test]
    fn get_user_makes_a_person_from_the_name_or_email_given() {
        check(
            "replica.r = nodeHelper.getUser('Ana Diaz')",
            json!({"displayName": "Ana Diaz", "email": null}),
        );
        check(
            "replica.r = nodeHelper.getUserByEmail('ana@example.com')",
            json!({"displayName": "ana@example.com", "email": "ana@example.com"}),
        );
        check("replica.r = nodeHelper.getUser('  ')", Value::Null);
        check("replica.r = nodeHelper.getUserByEmail(null)", Value::Null);
    }

    #[test]
    fn get_issue_type_answers_the_built_in_trackers_types() {
        check(
            "replica.r = nodeHelper.getIssueType('bug')",
            json!({"name": "Bug"}),
        );
        check(
            "replica.r = [nodeHelper.getIssueType('Sub-task', 'SUP'), nodeHelper.getIssueType('subtask').name, nodeHelper.getIssueType('Epic')]",
            json!([{"name": "Sub-task"}, "Sub-task", {"name": "Epic"}]),
        );
        // A type the tracker does not have, or a project that does not exist: null, so that
        // Exalate's `?.name ?: "Task"` falls back.
        check(
            "replica.r = [nodeHelper.getIssueType('Incident'), nodeHelper.getIssueType('Bug', 'NOPE'), nodeHelper.getIssueType('Improvement')?.name ?: 'Task']",
            json!([null, null, "Task"]),
        );
    }

    #[test]
    fn get_project_and_get_issue_read_the_store() {
        check(
            "replica.r = nodeHelper.getProject('SUP')",
            json!({"key": "SUP", "name": "Support"}),
        );
        check("replica.r = nodeHelper.getProject('NOPE')", Value::Null);
        check(
            "replica.r = nodeHelper.getProject('not a key')",
            Value::Null,
        );
        check(
            "def i = nodeHelper.getIssue('SUP-2')\nreplica.r = [i.key, i.summary, i.status.name]",
            json!(["SUP-2", "Slow search", "To Do"]),
        );
        check("replica.r = nodeHelper.getIssue('SUP-99')", Value::Null);
    }

    #[test]
    fn node_helper_methods_check_their_arguments() {
        assert_eq!(
            fails("nodeHelper.getProject()"),
            "getProject takes (key), not 0 arguments"
        );
        assert_eq!(
            fails("nodeHelper.getStatus('a', 'b')"),
            "getStatus takes (name), not 2 arguments"
        );
    }

    #[test]
    fn an_unknown_helper_method_suggests_the_nearest_one() {
        let e = fails("nodeHelper.getStats('Done')");
        assert!(e.contains("did you mean 'getStatus'"), "{e}");
        let e = fails("syncHelper.isIssueUnderSnyc('SUP-1')");
        assert!(e.contains("did you mean 'isIssueUnderSync'"), "{e}");
        let e = fails("debug.eror('x')");
        assert!(e.contains("did you mean 'error'"), "{e}");
        let e = fails("workLogHelper.mergeWorklogs(issue, replica)");
        assert!(e.contains("did you mean 'mergeWorkLogs'"), "{e}");
        let e = fails("httpClient.gte('/projects')");
        assert!(e.contains("did you mean 'get'"), "{e}");
    }

    #[test]
    fn an_item_is_under_sync_while_it_has_an_active_twin_on_any_connection() {
        check(
            "replica.r = [syncHelper.isIssueUnderSync('SUP-1'), syncHelper.isIssueUnderSync('SUP-2'), syncHelper.isIssueUnderSync('SUP-3'), syncHelper.isIssueUnderSync('SUP-99')]",
            json!([true, true, false, false]),
        );
        check(
            "replica.r = [syncHelper.isUnderSync(issue), syncHelper.isUnderSync('SUP-3', 'issue'), syncHelper.isIssueUnderSync(null)]",
            json!([true, false, false]),
        );
    }

    #[test]
    fn twin_keys_are_looked_up_on_this_connection_only() {
        check(
            "replica.r = [syncHelper.getLocalIssueKeyFromRemoteId('ENG-7'), syncHelper.getRemoteIssueKey('SUP-1')]",
            json!(["SUP-1", "ENG-7"]),
        );
        // SUP-2's twin is on another connection.
        check(
            "replica.r = [syncHelper.getLocalIssueKeyFromRemoteId('OPS-1'), syncHelper.getRemoteIssueKey('SUP-2'), syncHelper.getRemoteIssueKey('bad key')]",
            json!([null, null, null]),
        );
    }

    #[test]
    fn work_log_helpers_change_nothing_in_the_built_in_tracker() {
        check(
            "replica.r = workLogHelper.mergeWorkLogs(issue, replica)",
            json!([]),
        );
        check(
            "replica.r = workLogHelper.mergeWorkLogs(issue, replica, { it })",
            json!([]),
        );
        check(
            "replica.r = workLogHelper.addWorkLog('2026/01/02', '1h', 'note', [])",
            json!([]),
        );
        check(
            "workLogHelper.setAutoAdjust()\nreplica.r = workLogHelper.filterLocal([1])",
            json!([1]),
        );
        assert_eq!(
            fails("workLogHelper.mergeWorkLogs(issue)"),
            "mergeWorkLogs takes (issue, replica) or (issue, replica, closure), not 1 argument"
        );
    }

    #[test]
    fn http_client_reads_items_and_projects_as_the_api_answers() {
        check(
            "def i = httpClient.get('/items/SUP-2')\nreplica.r = [i.key, i.summary, i.status, i.version]",
            json!(["SUP-2", "Slow search", "To Do", 1]),
        );
        check(
            "replica.r = httpClient.get('/api/v1/items/SUP-1').summary",
            json!("Checkout fails"),
        );
        check(
            "def r = httpClient.get('/items?jql=summary%20~%20%22search%22')\nreplica.r = [r.total, r.items*.key]",
            json!([1, ["SUP-2"]]),
        );
        check(
            "def r = httpClient.get('/items?query=project+%3D+SUP&limit=2')\nreplica.r = [r.total, r.items.size(), r.limit]",
            json!([3, 2, 2]),
        );
        check(
            "replica.r = httpClient.get('/projects')*.key",
            json!(["SUP"]),
        );
        check(
            "replica.r = httpClient.get('projects/SUP').name",
            json!("Support"),
        );
    }

    #[test]
    fn http_client_reports_what_the_api_would_refuse() {
        assert_eq!(
            fails("httpClient.get('/items/SUP-99')"),
            "httpClient GET /items/SUP-99: 404, item SUP-99 does not exist"
        );
        assert_eq!(
            fails("httpClient.get('/projects/NOPE')"),
            "httpClient GET /projects/NOPE: 404, project NOPE does not exist"
        );
        let e = fails("httpClient.get('/items?jql=project%20%3D')");
        assert!(
            e.starts_with("httpClient GET /items?jql=project%20%3D: 400, invalid query"),
            "{e}"
        );
        let e = fails("httpClient.get('/items?limit=0')");
        assert!(e.contains("limit must be between 1 and"), "{e}");
    }

    #[test]
    fn http_client_refuses_writes_other_endpoints_and_the_network() {
        for (script, shown) in [
            ("httpClient.post('/items', '{}')", "POST /items"),
            ("httpClient.put('/items/SUP-1', '{}')", "PUT /items/SUP-1"),
            ("httpClient.delete('/items/SUP-1')", "DELETE /items/SUP-1"),
            (
                "httpClient.http('PATCH', '/items/SUP-1', '{}', null, [:])",
                "PATCH /items/SUP-1",
            ),
            ("httpClient.get('/connections')", "GET /connections"),
            (
                "httpClient.get('/items/SUP-1/history')",
                "GET /items/SUP-1/history",
            ),
            (
                "httpClient.get('https://example.com/api/v1/items/SUP-1')",
                "GET https://example.com/api/v1/items/SUP-1",
            ),
        ] {
            let e = fails(script);
            assert!(
                e.starts_with(&format!(
                    "httpClient reaches only this node's tracker API; {shown} is not one of its endpoints"
                )),
                "{script}: {e}"
            );
        }
        assert_eq!(
            fails("httpClient.get(null)"),
            "httpClient.get needs a path such as /items/SUP-1"
        );
    }

    #[test]
    fn http_client_http_reads_like_get() {
        check(
            "replica.r = httpClient.http('GET', '/items/SUP-1', null, null, [:]).key",
            json!("SUP-1"),
        );
    }

    #[test]
    fn connection_names_the_connection_and_its_sides() {
        check(
            "replica.r = [connection.name, connection.localShortName, connection.remoteShortName, connection.mode, connection.role, connection.remoteInstance.url]",
            json!([
                "desk",
                "sup",
                "eng",
                "Script",
                "initiator",
                "http://eng.test/"
            ]),
        );
        // Rules written before these names were bound keep their own variables.
        check(
            "def connection = 'mine'\ndef workItem = 2\nreplica.r = [connection, workItem]",
            json!(["mine", 2]),
        );
    }

    #[test]
    fn sync_helper_gives_the_nodes_and_the_twins_urls() {
        check(
            "replica.r = [syncHelper.getExalateUrl(), syncHelper.getTrackerUrl(), syncHelper.getRemoteExalateUrl(), syncHelper.getRemoteTrackerUrl()]",
            json!([
                "http://sup.test",
                "http://sup.test",
                "http://eng.test",
                "http://eng.test"
            ]),
        );
        check(
            "replica.r = [syncHelper.getRemoteIssueUrl('SUP-1'), syncHelper.getRemoteIssueUrl(issue), syncHelper.getRemoteIssueUrl('SUP-1', 'issue'), syncHelper.getRemoteIssueUrl('SUP-2'), syncHelper.getRemoteIssueUrl('SUP-99')]",
            json!([
                "http://eng.test/items/ENG-7",
                "http://eng.test/items/ENG-7",
                "http://eng.test/items/ENG-7",
                null,
                null
            ]),
        );
    }

    #[test]
    fn a_private_remote_has_no_url_to_give() {
        let mut connection = super::testing::connection("desk");
        connection.role = tandem_model::ConnectionRole::Acceptor;
        connection.remote = Some(tandem_model::RemoteNode {
            node_id: Uuid::now_v7(),
            name: "Hidden".into(),
            url: None,
            tracker: "servicenow".into(),
            public_key: String::new(),
        });
        let about = About::new(
            &connection,
            "http://b.test",
            "https://dev1.service-now.test/",
        );
        assert_eq!(about.tracker_url, "https://dev1.service-now.test");
        assert_eq!(about.remote_node_url, None);
        assert_eq!(about.remote_tracker_url, None);
        assert_eq!(about.connection["remoteInstance"]["tracker"], "servicenow");
        // A local connection's other side is this node.
        let local = About::new(
            &super::testing::connection("self"),
            "http://a.test",
            "http://a.test",
        );
        assert_eq!(local.remote_node_url.as_deref(), Some("http://a.test"));
        assert_eq!(local.connection["remoteInstance"], Value::Null);
    }

    #[test]
    fn after_processing_requests_belong_to_the_incoming_rules() {
        let e = fails("syncHelper.syncBackAfterProcessing()");
        assert!(e.contains("works in the incoming rules"), "{e}");
        let e = fails("syncHelper.unExalateAfterProcessing()");
        assert!(e.contains("works in the incoming rules"), "{e}");
        let fixture = Fixture::new();
        let run = |script: &str| {
            rules::incoming(
                &format!("if (firstSync) {{ issue.projectKey = 'SUP' }}\n{script}"),
                IncomingInput {
                    replica: json!({"key": "ENG-4"}),
                    previous: None,
                    first_sync: true,
                    item: json!({"summary": ""}),
                    comment_twins: vec![],
                    attachment_twins: vec![],
                    journals: false,
                },
                &fixture.env(),
            )
            .unwrap()
        };
        let plain = run("issue.summary = 'x'");
        assert!(!plain.sync_back && !plain.unexalate);
        let back = run("syncHelper.syncBackAfterProcessing()");
        assert!(back.sync_back && !back.unexalate);
        let stop = run("syncHelper.unExalateAfterProcessing()");
        assert!(stop.unexalate && !stop.sync_back);
    }

    #[test]
    fn get_label_makes_a_label_of_any_name() {
        check(
            "def l = nodeHelper.getLabel('urgent')\nreplica.r = [l, l.label, l == 'urgent', nodeHelper.getLabel([label: 'x']), nodeHelper.getLabel(' '), nodeHelper.getLabel(null)]",
            json!(["urgent", "urgent", true, "x", null, null]),
        );
    }

    #[test]
    fn html_helpers_convert_text() {
        check(
            "replica.r = nodeHelper.stripHtml('<p>Printer <b>on fire</b></p><p>3rd &amp; 4th</p>')",
            json!("Printer on fire\n\n3rd & 4th"),
        );
        check(
            "replica.r = nodeHelper.toMarkDownFromHtml('<p>See <a href=\"http://x.test\">this</a> <em>now</em></p>')",
            json!("See [this](http://x.test) *now*"),
        );
        check("replica.r = nodeHelper.stripHtml(null)", Value::Null);
        check(
            "replica.r = [nodeHelper.getHtmlField(issue, 'summary'), nodeHelper.getHtmlField([description: 'a < b\\n\\nc'], 'description'), nodeHelper.getHtmlField([customFields: [Steps: [value: 'one\\ntwo']]], 'Steps'), nodeHelper.getHtmlField(issue, 'nothing')]",
            json!([
                "<p>Checkout fails</p>",
                "<p>a &lt; b</p><p>c</p>",
                "<p>one<br/>two</p>",
                null
            ]),
        );
    }

    #[test]
    fn http_client_hands_the_answer_to_a_closure() {
        check(
            "replica.r = httpClient.http('GET', '/items/SUP-2', null, null, ['X-Trace': 'abc']) { req, res ->\n  [res.code, new groovy.json.JsonSlurper().parseText(res.body).summary, req.method, req.path, req.headers.'X-Trace', res.headers.'content-type']\n}",
            json!([
                200,
                "Slow search",
                "GET",
                "/items/SUP-2",
                "abc",
                "application/json"
            ]),
        );
        // The closure's result is the call's result, whatever it is.
        check(
            "replica.r = httpClient.get('/projects', null, null, [:]) { req, res -> 'seen' }",
            json!("seen"),
        );
        // A refusal is no answer: it raises, closure or not.
        let e = fails(
            "httpClient.http('GET', '/connections', null, null, [:]) { req, res -> res.code }",
        );
        assert!(e.contains("is not one of its endpoints"), "{e}");
        // A failing closure names the request.
        let e = fails(
            "httpClient.http('GET', '/projects', null, null, [:]) { req, res -> res.nope.x }",
        );
        assert!(
            e.starts_with("the httpClient GET /projects closure failed"),
            "{e}"
        );
    }

    #[test]
    fn http_client_refuses_headers_that_are_the_nodes_own() {
        for name in ["Authorization", "host", "Cookie", "Content-Length"] {
            let e = fails(&format!(
                "httpClient.http('GET', '/projects', null, null, ['{name}': 'x'])"
            ));
            assert!(e.contains("is the node's own"), "{name}: {e}");
        }
        let e = fails("httpClient.http('GET', '/projects', null, null, ['bad name': 'x'])");
        assert!(e.contains("is not a header name"), "{e}");
        let e = fails("httpClient.http('GET', '/projects', null, null, 'X-A: 1')");
        assert!(e.contains("must be a map"), "{e}");
    }

    #[test]
    fn comment_lists_convert_body_by_body() {
        check(
            "replica.r = nodeHelper.stripHtmlFromComments([[id: '1', body: '<p>a <b>b</b></p>'], [id: '2', body: 'plain']])*.body",
            json!(["a b", "plain"]),
        );
        check(
            "replica.r = nodeHelper.toMarkDownComments([[id: '1', body: '<em>x</em>', internal: true]])",
            json!([{"id": "1", "body": "*x*", "internal": true}]),
        );
        check(
            "replica.r = nodeHelper.getHtmlComments([comments: [[id: '1', body: 'a<b\\nc']]])*.body",
            json!(["<p>a&lt;b<br/>c</p>"]),
        );
        check(
            "replica.r = nodeHelper.stripHtmlFromComments(null)",
            json!([]),
        );
        let e = fails("nodeHelper.toMarkDownComments('x')");
        assert!(e.contains("takes a list of comments"), "{e}");
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b+c%3D"), "a b c=");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
