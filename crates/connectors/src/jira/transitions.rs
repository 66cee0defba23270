//! Status changes, which Jira only makes through workflow transitions (tracker-apis.md §2.3):
//! list the transitions available now, take one, or reach a status several steps away.
//!
//! The REST API lists only the transitions out of the issue's *current* status, so the client
//! learns its workflows as it goes: every list it reads is an edge set of a graph kept per
//! (project, issue type). To reach a status it takes the first step of the shortest known path
//! (breadth-first search), looks again, and repeats. When no known path leads there it steps
//! to a status it has not yet seen the transitions of, the nearest first, and never more than
//! [`MAX_STEPS`] steps in all. A transition whose screen requires a resolution gets the one the
//! caller named, else "Done" or the first Jira allows.

use std::collections::{HashMap, HashSet, VecDeque};

use reqwest::Method;
use serde_json::{Map, Value, json};
use tracing::debug;

use super::client::{Client, Result, id_of, segment, str_of};
use super::error::JiraError;
use super::issues::Issue;
use super::meta::Status;
use super::retry::Repeat;

/// The most transitions one [`Client::move_to_status`] takes.
pub const MAX_STEPS: usize = 12;

/// A transition out of the issue's current status.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub id: String,
    pub name: String,
    pub to: Status,
    /// Fields on the transition's screen that must be given (`resolution`, …).
    pub required_fields: Vec<String>,
    /// Allowed values of the screen's fields, by field id.
    pub allowed: Map<String, Value>,
}

/// A workflow as far as the client has seen it: status id → transitions out of it.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    edges: HashMap<String, Vec<(String, String)>>,
    /// Status id → name, for every status seen.
    names: HashMap<String, String>,
}

impl Graph {
    fn learn(&mut self, from: &Status, transitions: &[Transition]) {
        self.names.insert(from.id.clone(), from.name.clone());
        for t in transitions {
            self.names.insert(t.to.id.clone(), t.to.name.clone());
        }
        self.edges.insert(
            from.id.clone(),
            transitions
                .iter()
                .map(|t| (t.id.clone(), t.to.id.clone()))
                .collect(),
        );
    }

    /// The id of a known status named `name` (case-insensitive), or with that id.
    fn status_id(&self, name: &str) -> Option<String> {
        self.names
            .iter()
            .find(|(id, n)| *id == name || n.eq_ignore_ascii_case(name))
            .map(|(id, _)| id.clone())
    }

    /// The shortest known path of transition ids from `from` to `to`.
    fn path(&self, from: &str, to: &str) -> Option<Vec<String>> {
        self.search(from, |s| s == to)
    }

    /// The shortest path to a status whose transitions are not known yet.
    fn to_unexplored(&self, from: &str) -> Option<Vec<String>> {
        self.search(from, |s| !self.edges.contains_key(s))
    }

    fn search(&self, from: &str, goal: impl Fn(&str) -> bool) -> Option<Vec<String>> {
        let mut queue = VecDeque::from([(from.to_owned(), Vec::<String>::new())]);
        let mut visited = HashSet::from([from.to_owned()]);
        while let Some((status, path)) = queue.pop_front() {
            for (transition, to) in self.edges.get(&status).into_iter().flatten() {
                if !visited.insert(to.clone()) {
                    continue;
                }
                let mut p = path.clone();
                p.push(transition.clone());
                if goal(to) {
                    return Some(p);
                }
                queue.push_back((to.clone(), p));
            }
        }
        None
    }
}

impl Client {
    /// The transitions available from the issue's current status, with their screens' fields.
    pub async fn transitions(&self, key: &str) -> Result<Vec<Transition>> {
        let path = format!("/issue/{}/transitions", segment(key)?);
        let v = self
            .get_json(&path, &[("expand", "transitions.fields")])
            .await?;
        Ok(v.get("transitions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| {
                let fields = t.get("fields").and_then(Value::as_object);
                Transition {
                    id: id_of(t, "id"),
                    name: str_of(t, "name").to_owned(),
                    to: t.get("to").map(Status::from_json).unwrap_or(Status {
                        id: String::new(),
                        name: String::new(),
                        category: String::new(),
                    }),
                    required_fields: fields
                        .into_iter()
                        .flatten()
                        .filter(|(_, f)| f.get("required").and_then(Value::as_bool) == Some(true))
                        .map(|(id, _)| id.clone())
                        .collect(),
                    allowed: fields
                        .into_iter()
                        .flatten()
                        .filter_map(|(id, f)| {
                            f.get("allowedValues").map(|a| (id.clone(), a.clone()))
                        })
                        .collect(),
                }
            })
            .filter(|t| !t.id.is_empty())
            .collect())
    }

    /// Takes one transition. A required resolution is set to `resolution`, else "Done" or the
    /// first allowed one. Not retried after Jira may have acted (the caller reads the status
    /// again instead).
    pub async fn transition(
        &self,
        key: &str,
        transition: &Transition,
        resolution: Option<&str>,
    ) -> Result<()> {
        let mut body = json!({ "transition": { "id": transition.id } });
        if transition.required_fields.iter().any(|f| f == "resolution") {
            let allowed: Vec<&str> = transition
                .allowed
                .get("resolution")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| str_of(r, "name"))
                .collect();
            let name = resolution
                .map(str::to_owned)
                .or_else(|| {
                    allowed
                        .iter()
                        .find(|n| n.eq_ignore_ascii_case("Done"))
                        .or(allowed.first())
                        .map(|n| (*n).to_owned())
                })
                .unwrap_or_else(|| "Done".to_owned());
            body["fields"] = json!({ "resolution": { "name": name } });
        }
        let path = format!("/issue/{}/transitions", segment(key)?);
        self.send_json(Method::POST, &path, &[], body, Repeat::Unsafe)
            .await?;
        Ok(())
    }

    /// Moves an issue to the status named `status` (case-insensitive, or its id), through as
    /// many transitions as the workflow needs. Returns the issue as it is afterwards.
    pub async fn move_to_status(
        &self,
        key: &str,
        status: &str,
        resolution: Option<&str>,
    ) -> Result<Issue> {
        let wanted = |s: &Status| s.id == status || s.name.eq_ignore_ascii_case(status);
        let mut issue = self.issue_or_404(key).await?;
        let workflow = (
            issue.project_key().to_owned(),
            issue
                .fields
                .get("issuetype")
                .map(|t| id_of(t, "id"))
                .unwrap_or_default(),
        );
        let start = issue.status().map(|s| s.name).unwrap_or_default();
        for step in 0..=MAX_STEPS {
            let Some(current) = issue.status() else {
                return Err(super::error::bad("GET", key, "the issue has no status"));
            };
            if wanted(&current) {
                return Ok(issue);
            }
            if step == MAX_STEPS {
                break;
            }
            let available = self.transitions(&issue.key).await?;
            let path = {
                let mut caches = self.caches();
                let graph = caches.workflows.entry(workflow.clone()).or_default();
                graph.learn(&current, &available);
                graph
                    .status_id(status)
                    .and_then(|t| graph.path(&current.id, &t))
                    .or_else(|| graph.to_unexplored(&current.id))
            };
            let Some(first) = path.and_then(|p| p.into_iter().next()) else {
                break;
            };
            let Some(t) = available.iter().find(|t| t.id == first) else {
                // The known graph is out of date for this status: it was just relearned, so
                // this cannot repeat.
                break;
            };
            debug!(issue = %issue.key, transition = %t.name, to = %t.to.name, "Taking a transition.");
            self.transition(&issue.key, t, resolution).await?;
            issue = self.issue_or_404(&issue.key).await?;
        }
        self.note_own_write(&issue);
        let now = issue.status().map(|s| s.name).unwrap_or_default();
        if issue.status().is_some_and(|s| wanted(&s)) {
            return Ok(issue);
        }
        Err(JiraError::NoPath {
            key: issue.key.clone(),
            from: if now.is_empty() { start } else { now },
            to: status.to_owned(),
        })
    }

    async fn issue_or_404(&self, key: &str) -> Result<Issue> {
        self.issue(key).await?.ok_or_else(|| JiraError::Api {
            status: 404,
            method: "GET".into(),
            path: format!("/issue/{key}"),
            text: super::error::ErrorText {
                messages: vec![
                    "Issue does not exist or you do not have permission to see it.".into(),
                ],
                errors: Default::default(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, to: &str) -> Transition {
        Transition {
            id: id.into(),
            name: id.into(),
            to: Status {
                id: to.into(),
                name: to.into(),
                category: String::new(),
            },
            required_fields: Vec::new(),
            allowed: Map::new(),
        }
    }

    #[test]
    fn the_shortest_known_path_is_found() {
        let mut g = Graph::default();
        g.learn(&t("", "todo").to, &[t("21", "progress")]);
        g.learn(&t("", "progress").to, &[t("31", "review"), t("41", "todo")]);
        g.learn(&t("", "review").to, &[t("51", "done"), t("61", "progress")]);
        assert_eq!(g.status_id("DONE").as_deref(), Some("done"));
        assert_eq!(
            g.path("todo", "done"),
            Some(vec!["21".to_owned(), "31".to_owned(), "51".to_owned()])
        );
        assert_eq!(g.path("done", "todo"), None);
        assert_eq!(
            g.to_unexplored("todo"),
            Some(vec!["21".into(), "31".into(), "51".into()])
        );
    }
}
