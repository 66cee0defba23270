//! A connection's scope: the local items its remote reaches. A peer can link to (Connect),
//! write (a sync) and read (this side's sends) only items inside it, and every refusal it gets
//! reads the same whatever the reason ([`REFUSED`]), so it cannot tell which keys exist
//! outside it.
//!
//! The local admin sets the scope per connection: a set of projects (on a node that serves
//! ServiceNow, synced tables), or a query in the node's query language (the trigger language:
//! the built-in tracker's, or a ServiceNow encoded query). Without one, a connection reaches
//! its **default** scope: the projects its incoming rules create items in (the string literals
//! they assign to `projectKey`, or on ServiceNow to `tableName`, whose default is the first
//! synced table) and the projects its triggers select (those a trigger's query requires; the
//! items a trigger matches, where it names no project), and the items this side's admin
//! brought under sync on the connection themselves (Exalate, Connect): the admin's own act is
//! consent for that item. A local connection (two projects of this node) has no peer and
//! reaches every item.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tandem_model::query::Query;
use tandem_model::{Connection, ConnectionRole, ItemKey, ProjectKey, Scope};
use tandem_script::lexer::Tok;
use tandem_store::Page;
use uuid::Uuid;

use super::engine::SyncFailure;
use super::item_json::View;
use crate::state::AppState;

/// The one answer a peer gets for a Connect this side does not take, whatever the reason (no
/// such item, not a key, outside the scope, in sync with another item, refused by the
/// incoming rules): the reason is logged here, never told.
pub const REFUSED: &str = "no item this connection reaches on the remote has that key, \
     or it is in sync with another item already";

/// The items a connection reaches, worked out once for a few checks.
#[derive(Debug, Clone)]
pub struct Reach {
    /// A local connection: everything.
    everything: bool,
    /// Every item of these projects.
    projects: Vec<ProjectKey>,
    /// And every item one of these matches.
    queries: Vec<Query>,
    /// The default scope of this connection: it also reaches the items this side's admin
    /// brought under sync on it (Exalate, Connect: the twin `leads`), whatever their project.
    default_of: Option<uuid::Uuid>,
}

impl Reach {
    /// Whether the item is inside (one lookup in the store for a query scope).
    pub async fn contains(&self, state: &AppState, key: &ItemKey) -> Result<bool, SyncFailure> {
        if self.everything || self.projects.contains(&key.project) {
            return Ok(true);
        }
        for query in &self.queries {
            // A query that requires other projects cannot match: no lookup.
            if let Some(required) = query.filter.as_ref().and_then(|f| f.required_projects())
                && !required.contains(&key.project)
            {
                continue;
            }
            let found = state
                .store()
                .search_items(
                    &super::operations::for_item(query, key)?,
                    Page {
                        offset: 0,
                        limit: 1,
                    },
                    jiff::Timestamp::now(),
                )
                .await?;
            if found.total > 0 {
                return Ok(true);
            }
        }
        if let Some(connection) = self.default_of
            && let Some(twin) = state.store().twin(connection, key).await?
        {
            return Ok(twin.leads);
        }
        Ok(false)
    }

    /// The admin set no scope: the default applies.
    pub fn is_default(&self) -> bool {
        self.default_of.is_some()
    }

    /// Whether a new item of the project may be inside: the project is, or a query that does
    /// not rule the project out (the item itself is checked with each later message).
    pub fn may_hold(&self, project: &ProjectKey) -> bool {
        self.everything
            || self.projects.contains(project)
            || self.queries.iter().any(|q| {
                q.filter
                    .as_ref()
                    .and_then(|f| f.required_projects())
                    .is_none_or(|required| required.contains(project))
            })
    }
}

/// What a connection reaches now: the admin's scope, or the default. Worked out once and
/// cached per connection ([`ReachCache`]) until the store's [`reach_version`] moves, the
/// connection's incoming rules change or the node starts serving another tracker: every send
/// and every message received asks.
///
/// [`reach_version`]: tandem_store::Store::reach_version
pub async fn reach(state: &AppState, connection: &Connection) -> Result<Arc<Reach>, SyncFailure> {
    if connection.role == ConnectionRole::Local {
        return Ok(Arc::new(Reach {
            everything: true,
            projects: Vec::new(),
            queries: Vec::new(),
            default_of: None,
        }));
    }
    // Read before what it covers: a change committed meanwhile moves it past the one cached.
    let version = state.store().reach_version();
    let view = state.view();
    if let Some(reach) = state.reach_cache().get(connection, version, &view) {
        return Ok(reach);
    }
    let reach = Arc::new(work_out_reach(state, connection, &view).await?);
    state
        .reach_cache()
        .put(connection, version, view, reach.clone());
    Ok(reach)
}

async fn work_out_reach(
    state: &AppState,
    connection: &Connection,
    view: &View,
) -> Result<Reach, SyncFailure> {
    match state.store().connection_scope(connection.id).await? {
        Some(Scope::Projects(names)) => Ok(Reach {
            everything: false,
            // A name that no longer resolves (a table no longer synced) reaches nothing.
            projects: names
                .iter()
                .filter_map(|n| project_named(view, n))
                .collect(),
            queries: Vec::new(),
            default_of: None,
        }),
        Some(Scope::Query(text)) => Ok(Reach {
            everything: false,
            projects: Vec::new(),
            // A query that no longer parses (a table no longer synced) reaches nothing.
            queries: super::operations::parse_trigger(view, &text)
                .ok()
                .into_iter()
                .collect(),
            default_of: None,
        }),
        None => default_reach(state, connection).await,
    }
}

/// Each connection's [`Reach`] as last worked out, with what it was worked out from.
#[derive(Default)]
pub struct ReachCache(Mutex<HashMap<Uuid, Cached>>);

struct Cached {
    version: u64,
    /// The incoming rules and the target project it read (the default scope's projects come
    /// from them).
    incoming: String,
    target: Option<String>,
    /// The tracker view it read (held, so that its identity cannot be reused).
    view: View,
    reach: Arc<Reach>,
}

impl ReachCache {
    fn get(&self, connection: &Connection, version: u64, view: &View) -> Option<Arc<Reach>> {
        let cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let cached = cache.get(&connection.id)?;
        (cached.version == version
            && cached.incoming == connection.incoming_script
            && cached.target == connection.target_project
            && same_view(&cached.view, view))
        .then(|| cached.reach.clone())
    }

    fn put(&self, connection: &Connection, version: u64, view: View, reach: Arc<Reach>) {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Entries of connections since deleted go with the first change after.
        cache.retain(|_, c| c.version == version);
        cache.insert(
            connection.id,
            Cached {
                version,
                incoming: connection.incoming_script.clone(),
                target: connection.target_project.clone(),
                view,
                reach,
            },
        );
    }
}

/// The same tracker view: both the built-in tracker's, or the same ServiceNow tables.
fn same_view(a: &View, b: &View) -> bool {
    a.same(b) || (a.collections().is_none() && b.collections().is_none())
}

/// Whether the item is inside the connection's scope.
pub async fn contains(
    state: &AppState,
    connection: &Connection,
    key: &ItemKey,
) -> Result<bool, SyncFailure> {
    reach(state, connection).await?.contains(state, key).await
}

/// The error an admin's operation on an item outside the scope gets.
pub fn outside(connection: &Connection, key: &ItemKey) -> SyncFailure {
    SyncFailure::Apply(format!(
        "{key} is outside the scope of connection {}: widen the connection's scope to sync it",
        connection.name
    ))
}

/// The default scope: the projects the incoming rules create in, and those the triggers
/// select.
async fn default_reach(state: &AppState, connection: &Connection) -> Result<Reach, SyncFailure> {
    let view = state.view();
    let mut projects = rule_projects(&view, &connection.incoming_script);
    // The project its admin chose for new items from the remote.
    if let Some(target) = connection.target_project.as_deref()
        && let Some(project) = project_named(&view, target)
    {
        projects.push(project);
    }
    let mut queries = Vec::new();
    for trigger in state.store().triggers(Some(connection.id)).await? {
        // A trigger that no longer parses selects nothing.
        let Ok(query) = super::operations::parse_trigger(&view, &trigger.query) else {
            continue;
        };
        match query.filter.as_ref().and_then(|f| f.required_projects()) {
            Some(required) => projects.extend(required),
            None => queries.push(query),
        }
    }
    projects.sort();
    projects.dedup();
    Ok(Reach {
        everything: false,
        projects,
        queries,
        default_of: Some(connection.id),
    })
}

/// The default scope in words, for the console, the API and the CLI.
pub async fn describe_default(
    state: &AppState,
    connection: &Connection,
) -> Result<String, SyncFailure> {
    let reach = default_reach(state, connection).await?;
    let view = state.view();
    let name = |p: &ProjectKey| match view.collections().and_then(|c| c.collection_of(p)) {
        Some(collection) => format!("{collection} ({p})"),
        None => p.to_string(),
    };
    let mut parts = Vec::new();
    if !reach.projects.is_empty() {
        parts.push(format!(
            "projects {}",
            reach
                .projects
                .iter()
                .map(name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let triggers = state.store().triggers(Some(connection.id)).await?;
    for trigger in triggers {
        if let Ok(q) = super::operations::parse_trigger(&view, &trigger.query)
            && q.filter
                .as_ref()
                .and_then(|f| f.required_projects())
                .is_none()
        {
            parts.push(format!("items matching {}", trigger.query));
        }
    }
    parts.push("items this node's admin brings under sync on it (Exalate, Connect)".into());
    Ok(parts.join("; "))
}

/// The scope as the admin wrote it, checked and tidied: projects that exist (on ServiceNow,
/// synced tables or their projects), or a query that parses.
pub async fn check(state: &AppState, scope: &Scope) -> Result<Scope, SyncFailure> {
    let view = state.view();
    match scope {
        Scope::Projects(names) => {
            let mut tidy: Vec<String> = Vec::new();
            for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
                let Some(project) = project_named(&view, name) else {
                    return Err(SyncFailure::Apply(match view.collections() {
                        Some(collections) => format!(
                            "the scope: '{name}' is not a {} this node syncs ({})",
                            collection_noun(&view),
                            collections
                                .iter()
                                .map(|(t, _)| t)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        None => {
                            format!("the scope: '{name}' is not a project key (like ENG)")
                        }
                    }));
                };
                if view.collections().is_none() && state.store().project(&project).await?.is_none()
                {
                    return Err(SyncFailure::Apply(format!(
                        "the scope: this node has no project {project}"
                    )));
                }
                if !tidy.iter().any(|t| t == name) {
                    tidy.push(name.to_owned());
                }
            }
            if tidy.is_empty() {
                return Err(SyncFailure::Apply(
                    "the scope names no project: name at least one, or remove the scope to use the default".into(),
                ));
            }
            Ok(Scope::Projects(tidy))
        }
        Scope::Query(text) => {
            super::operations::parse_trigger(&view, text).map_err(|e| {
                SyncFailure::Apply(e.to_string().replacen("the trigger", "the scope", 1))
            })?;
            Ok(Scope::Query(text.trim().to_owned()))
        }
    }
}

/// The project a scope's name stands for: a project key, or on ServiceNow a synced table or
/// its project.
fn project_named(view: &View, name: &str) -> Option<ProjectKey> {
    let name = name.trim();
    match view.collections() {
        Some(collections) => collections.project_of(name).cloned().or_else(|| {
            let key: ProjectKey = name.parse().ok()?;
            collections.collection_of(&key).map(|_| key)
        }),
        None => name.parse().ok(),
    }
}

/// What the tracker calls a collection, for messages.
fn collection_noun(view: &View) -> &'static str {
    match view.kind() {
        tandem_connectors::TrackerKind::ServiceNow => "table",
        _ => "project",
    }
}

/// The projects the incoming rules create items in: every string literal they assign to
/// `projectKey` (or on ServiceNow to `tableName`; none means its first synced table),
/// directly or as a branch of `?:`. Rules that compute the project some other way add none:
/// their admin sets the scope.
fn rule_projects(view: &View, incoming: &str) -> Vec<ProjectKey> {
    let literals = assigned_literals(incoming, view.collection_field());
    let mut projects: Vec<ProjectKey> = match view.collections() {
        Some(collections) => {
            let mut named: Vec<ProjectKey> = literals
                .iter()
                .filter_map(|t| collections.project_of(t).cloned())
                .collect();
            if named.is_empty()
                && let Some(first) = collections
                    .default_collection()
                    .and_then(|c| collections.project_of(c))
            {
                named.push(first.clone());
            }
            named
        }
        None => literals.iter().filter_map(|l| l.parse().ok()).collect(),
    };
    projects.sort();
    projects.dedup();
    projects
}

/// The string literals a script assigns to `field` (`x.field = "A"`, `x.field = c ? "A" :
/// "B"`): those in a value place of the assignment (right after `=`, `?`, `:` or `?:`), up
/// to the end of its statement. A script that does not lex has none.
fn assigned_literals(source: &str, field: &str) -> Vec<String> {
    let Ok(tokens) = tandem_script::lexer::lex(source) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < tokens.len() {
        let assigns = matches!(&tokens[i].tok, Tok::Ident(name) if name == field)
            && matches!(tokens[i + 1].tok, Tok::Op("="));
        if !assigns {
            i += 1;
            continue;
        }
        let mut depth = 0i32;
        let mut before: &Tok = &tokens[i + 1].tok;
        let mut j = i + 2;
        while j < tokens.len() {
            let tok = &tokens[j].tok;
            match tok {
                Tok::Op("(" | "[" | "{") => depth += 1,
                Tok::Op(")" | "]" | "}") if depth == 0 => break,
                Tok::Op(")" | "]" | "}") => depth -= 1,
                Tok::Op(";") | Tok::Eof if depth == 0 => break,
                Tok::Newline if depth == 0 => {
                    // A statement goes on over a line break after `?` or `:`, or before one.
                    let continues = matches!(before, Tok::Op("?" | ":" | "?:"))
                        || matches!(
                            tokens.get(j + 1).map(|t| &t.tok),
                            Some(Tok::Op("?" | ":" | "?:"))
                        );
                    if !continues {
                        break;
                    }
                }
                _ => {}
            }
            let literal = match tok {
                Tok::Str(s) => Some(s.clone()),
                Tok::GString(parts) => match parts.as_slice() {
                    [tandem_script::lexer::Part::Lit(s)] => Some(s.clone()),
                    _ => None,
                },
                _ => None,
            };
            if let Some(s) = literal
                && matches!(before, Tok::Op("=" | "?" | ":" | "?:"))
            {
                found.push(s);
            }
            if !matches!(tok, Tok::Newline) {
                before = tok;
            }
            j += 1;
        }
        i = j;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn projects(source: &str) -> Vec<String> {
        rule_projects(&View::builtin(), source)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_default_rules_name_no_project_the_target_project_is_read_when_they_run() {
        let incoming = crate::connections::rules::script_incoming();
        assert_eq!(projects(&incoming), Vec::<String>::new());
        let incoming = crate::connections::rules::basic_incoming();
        assert_eq!(projects(&incoming), Vec::<String>::new());
    }

    #[test]
    fn both_branches_of_a_choice_count_and_compared_values_do_not() {
        assert_eq!(
            projects(
                "if (firstSync) { issue.projectKey = replica.project?.key == 'HR' ? 'OPS' : 'ENG' }"
            ),
            ["ENG", "OPS"]
        );
        assert_eq!(
            projects("issue.projectKey = [\"HR\": \"SUP\"][replica.team]"),
            ["SUP"],
            "a map's keys are compared values"
        );
        assert_eq!(
            projects("if (issue.projectKey == \"HR\") { return }\nissue.summary = 'x'"),
            Vec::<String>::new(),
            "a comparison assigns nothing"
        );
        assert_eq!(
            projects(
                "// issue.projectKey = \"HR\"\n/* issue.projectKey = \"FIN\" */\nissue.projectKey = \"ENG\""
            ),
            ["ENG"],
            "comments name no project"
        );
    }

    #[test]
    fn rules_that_compute_the_project_name_none() {
        assert_eq!(
            projects("issue.projectKey = replica.project.key"),
            Vec::<String>::new()
        );
        assert_eq!(projects("this does not lex \"at all"), Vec::<String>::new());
    }

    #[test]
    fn on_servicenow_the_table_the_rules_name_or_the_first_synced_one() {
        let tables =
            tandem_connectors::servicenow::tables(&["incident".to_owned(), "problem".to_owned()]);
        let view = View::new(std::sync::Arc::new(
            tandem_connectors::servicenow::ServiceNowSchema::new(tables),
        ));
        let named = |s: &str| {
            rule_projects(&view, s)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            named("if (firstSync) { entity.tableName = \"problem\" }"),
            ["PRB"]
        );
        assert_eq!(named("entity.short_description = replica.summary"), ["INC"]);
        assert_eq!(project_named(&view, "incident").unwrap().as_str(), "INC");
        assert_eq!(project_named(&view, "PRB").unwrap().as_str(), "PRB");
        assert_eq!(project_named(&view, "sc_task"), None);
    }
}
