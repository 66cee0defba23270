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
//!   an empty one; `getIssueType(name[, projectKey])` gives `{name: "Task"}` whatever the name
//!   (the built-in tracker has one type), null for an unknown project; `getProject(key)` gives
//!   `{key, name}` and `getIssue(key)` the item as the rules see it (`issue`), each null when
//!   there is none.
//! - `syncHelper`: `isIssueUnderSync(key)` / `isUnderSync(key[, type, connection])`: whether
//!   the item is under sync (an active twin) on any connection; `getLocalIssueKeyFromRemoteId(
//!   remoteKey)` and `getRemoteIssueKey(localKey)`: the twin's key on the other side, on this
//!   connection, or null.
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
//!   the node's credentials, `patch` too; writes as [`Writes`] says.
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
    /// `runtime` must be captured on the async side, before the rules go to a blocking thread.
    pub fn new(store: Arc<dyn Store>, runtime: tokio::runtime::Handle, connection_id: Uuid) -> Env {
        Env {
            store,
            runtime,
            connection_id,
            servicenow: None,
            writes: Writes::Refuse,
        }
    }

    /// What `httpClient` does with writes in this run.
    pub fn with_writes(mut self, writes: Writes) -> Env {
        self.writes = writes;
        self
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

/// The helpers of one run, and the `debug` log to read back when it ends.
pub struct Bound {
    pub variables: Vec<(&'static str, ScriptValue)>,
    pub debug: Rc<Debug>,
}

/// Makes the helpers for one run.
pub fn bind(env: &Env) -> Bound {
    let debug = Rc::new(Debug::default());
    let host = |h: Rc<dyn HostObject>| ScriptValue::Host(h);
    Bound {
        variables: vec![
            ("debug", host(debug.clone())),
            ("nodeHelper", host(Rc::new(NodeHelper(env.clone())))),
            ("syncHelper", host(Rc::new(SyncHelper(env.clone())))),
            ("workLogHelper", host(Rc::new(WorkLogHelper))),
            (
                "httpClient",
                host(Rc::new(HttpClient(env.clone(), debug.clone()))),
            ),
        ],
        debug,
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
fn text_arg(args: &[ScriptValue]) -> Option<String> {
    match args.first() {
        None | Some(ScriptValue::Null) => None,
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
    fn note(&self, line: String) {
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
            "getUser" | "getUserByEmail" | "getUserByUsername" => {
                arity(name, args, 1..=1, "(name or email)").map(|()| user(text_arg(args)))
            }
            "getIssueType" => arity(name, args, 1..=2, "(name) or (name, projectKey)")
                .and_then(|()| self.issue_type(args)),
            "getProject" => arity(name, args, 1..=1, "(key)").and_then(|()| self.project(args)),
            "getIssue" => arity(name, args, 1..=1, "(key)").and_then(|()| self.issue(args)),
            "getReference" => arity(name, args, 3..=3, "(table, column, value)")
                .and_then(|()| self.reference(args)),
            "getTableByLink" => {
                arity(name, args, 1..=1, "(link)").map(|()| table_by_link(text_arg(args)))
            }
            "getDisplayValue" => arity(
                name,
                args,
                2..=3,
                "(entity, column) or (table, sys_id, column)",
            )
            .and_then(|()| self.display_value(args)),
            _ => return None,
        };
        Some(result)
    }

    fn method_names(&self) -> Vec<String> {
        names(&[
            "getStatus",
            "getPriority",
            "getUser",
            "getUserByEmail",
            "getUserByUsername",
            "getIssueType",
            "getProject",
            "getIssue",
        ])
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
        Ok(named(Some("Task")))
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
        Ok(item.map_or(ScriptValue::Null, |i| from_json(&item_json(&i))))
    }
}

/// `syncHelper`: which items are under sync, and their twins' keys.
struct SyncHelper(Env);

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
        ])
    }
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

/// `getTableByLink(link)`: the table a ServiceNow reference link points into
/// (`…/api/now/table/sys_user/<sys_id>` → `sys_user`), or null.
fn table_by_link(link: Option<String>) -> ScriptValue {
    link.and_then(|l| {
        let (_, rest) = l.split_once("/table/")?;
        let table = rest.split(['/', '?']).next()?;
        (!table.is_empty()).then(|| from_json(&Value::String(table.to_owned())))
    })
    .unwrap_or(ScriptValue::Null)
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
        _invoker: &mut dyn Invoker,
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
        let Some(path) = text_arg(args) else {
            return Some(Err(format!(
                "httpClient.{name} needs a path such as /items/SUP-1"
            )));
        };
        let body = args.get(1).filter(|b| !matches!(b, ScriptValue::Null));
        Some(self.request(&method, &path, body).map(|v| from_json(&v)))
    }

    fn method_names(&self) -> Vec<String> {
        names(&["get", "post", "put", "patch", "delete", "http"])
    }
}

impl HttpClient {
    fn servicenow(
        &self,
        method: &str,
        path: &str,
        body: Option<&ScriptValue>,
    ) -> Result<Value, String> {
        let verb = match method {
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
        };
        // A body is JSON: a map or list as it is, a string as the JSON text it holds.
        let body =
            match body {
                None => None,
                Some(ScriptValue::Str(text)) => Some(serde_json::from_str(text).map_err(|e| {
                    format!("httpClient {method} {path}: the body is not JSON ({e})")
                })?),
                Some(other) => Some(to_json(other)),
            };
        match self.0.writes {
            _ if verb == reqwest::Method::GET => {}
            Writes::Send => {}
            Writes::Refuse => {
                return Err(format!(
                    "httpClient {method} {path}: outgoing rules only read from ServiceNow (they run again whenever replicas are compared, so a write would repeat); write from the incoming rules"
                ));
            }
            Writes::Simulate => {
                // Answered as the Table API would, so the rest of the rules can be tried: the
                // body as the record, with a placeholder sys_id for a new one.
                self.1.note(format!(
                    "test run: httpClient {method} {path} was not sent (answered with its own body)"
                ));
                return Ok(match (verb, body) {
                    (reqwest::Method::DELETE, _) => Value::Null,
                    (verb, Some(Value::Object(mut record))) => {
                        if verb == reqwest::Method::POST {
                            record
                                .entry("sys_id")
                                .or_insert_with(|| json!("test-run-sys-id"));
                        }
                        json!({ "result": record })
                    }
                    (_, body) => json!({ "result": body }),
                });
            }
        }
        let path = path.to_owned();
        self.0
            .servicenow(&format!("httpClient {method} {path}"), async |c| {
                c.send_json(verb, &path, body).await
            })
            .unwrap_or_else(|| Err("no ServiceNow instance".into()))
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&ScriptValue>,
    ) -> Result<Value, String> {
        // On ServiceNow: the instance's REST API, relative to its base, with the node's
        // credentials.
        if self.0.servicenow.is_some() {
            return self.servicenow(method, path, body);
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

/// Decodes `%XX` escapes and `+` (a space) in a query-string value; a malformed escape stays
/// as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
    }

    fn connection(name: &str) -> Connection {
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
            let desk = connection("desk");
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
            }
        }

        /// What the rules of connection `desk` get.
        pub fn env(&self) -> Env {
            Env::new(self.store.clone(), self.runtime.handle().clone(), self.desk)
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
    fn get_issue_type_is_task_except_in_a_project_that_does_not_exist() {
        check(
            "replica.r = nodeHelper.getIssueType('Bug')",
            json!({"name": "Task"}),
        );
        check(
            "replica.r = nodeHelper.getIssueType('Bug', 'SUP')",
            json!({"name": "Task"}),
        );
        check(
            "replica.r = nodeHelper.getIssueType('Bug', 'NOPE')",
            Value::Null,
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
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b+c%3D"), "a b c=");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
