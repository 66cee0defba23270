//! The rules a new connection starts with. Script connections get these as an editable
//! starting point; Basic connections keep them and cannot edit them.

use tandem_model::Mode;

use crate::state::AppState;

/// The largest script the editor accepts.
pub const MAX_SCRIPT: usize = 256 * 1024;

/// The outgoing and incoming rules for a new connection of this mode on this node's tracker.
/// The incoming rules create new items where this side's admin chose, read when they run
/// (`connection.targetProject`): nothing about this node's projects is written into them.
pub fn defaults(state: &AppState, mode: Mode) -> (String, String) {
    if state.settings().tracker == crate::state::TrackerKind::ServiceNow {
        return match mode {
            Mode::Script => (servicenow_outgoing(), servicenow_incoming()),
            Mode::Basic => (servicenow_basic_outgoing(), servicenow_basic_incoming()),
        };
    }
    match mode {
        Mode::Script => (script_outgoing(), script_incoming()),
        Mode::Basic => (basic_outgoing(), basic_incoming()),
    }
}

fn script_outgoing() -> String {
    "\
// What this side sends: fill the replica from the local item.
replica.key         = issue.key
replica.summary     = issue.summary
replica.description = issue.description
replica.status      = issue.status
replica.priority    = issue.priority
replica.labels      = issue.labels
// Public comments only: internal ones stay on this side. To send them too (as internal
// comments), write `replica.comments = issue.comments`.
replica.comments    = issue.comments.findAll { !it.internal }
replica.attachments = issue.attachments
"
    .to_owned()
}

pub(crate) fn script_incoming() -> String {
    "\
// How this side applies what it receives: `replica` is the remote item, `issue` the local one.
if (firstSync) {
    // New items from the other side go to the connection's target project, which this
    // side's admin chooses (Connections → Edit → Target project). To decide here instead,
    // write the key: issue.projectKey = \"ENG\"
    issue.projectKey = connection.targetProject
}
issue.summary     = replica.summary
issue.description = replica.description
// A side that does not send a field (a ServiceNow record has no labels) leaves it as it is.
if (replica.status)         { issue.status   = replica.status }
if (replica.priority)       { issue.priority = replica.priority }
if (replica.labels != null) { issue.labels   = replica.labels }
issue.comments    = commentHelper.mergeComments(issue, replica)
issue.attachments = attachmentHelper.mergeAttachments(issue, replica)
"
    .to_owned()
}

fn basic_outgoing() -> String {
    "\
// Basic mode: generated rules (summary, description, public comments, attachments).
replica.key         = issue.key
replica.summary     = issue.summary
replica.description = issue.description
replica.comments    = issue.comments.findAll { !it.internal }
replica.attachments = issue.attachments
"
    .to_owned()
}

pub(crate) fn basic_incoming() -> String {
    "\
// Basic mode: generated rules (summary, description, public comments, attachments). New items
// go to the connection's target project (Connections → Edit → Target project).
if (firstSync) {
    issue.projectKey = connection.targetProject
}
issue.summary     = replica.summary
issue.description = replica.description
issue.comments    = commentHelper.mergeComments(issue, replica)
issue.attachments = attachmentHelper.mergeAttachments(issue, replica)
"
    .to_owned()
}

/// The incoming rules older versions generated for a Basic connection on the built-in
/// tracker, with the node's first project at connection time (or `PROJ`) written in.
const LEGACY_BASIC_INCOMING: &str = "\
// Basic mode: generated rules (summary, description, public comments, attachments).
if (firstSync) {
    issue.projectKey = \"{project}\"
}
issue.summary     = replica.summary
issue.description = replica.description
issue.comments    = commentHelper.mergeComments(issue, replica)
issue.attachments = attachmentHelper.mergeAttachments(issue, replica)
";

/// The project written into Basic incoming rules an older version generated, when `incoming`
/// is exactly such rules: they cannot be edited, so the node replaces them with today's,
/// which read the target project ([`upgrade_basic_rules`]).
pub fn legacy_basic_project(incoming: &str) -> Option<&str> {
    let (head, tail) = LEGACY_BASIC_INCOMING.split_once("{project}")?;
    let project = incoming.strip_prefix(head)?.strip_suffix(tail)?;
    (!project.is_empty() && project.chars().all(|c| c.is_ascii_alphanumeric())).then_some(project)
}

/// Gives Basic connections whose rules an older version generated today's rules, with the
/// project written in them as the target project when this node has it (`PROJ`, written when
/// there was no project, usually is not: the admin then chooses one). Run at start; a
/// connection that fails to upgrade keeps its rules and is logged.
pub async fn upgrade_basic_rules(state: &AppState) {
    if state.settings().tracker == crate::state::TrackerKind::ServiceNow {
        return;
    }
    let Ok(connections) = state.store().connections().await else {
        return;
    };
    for connection in connections {
        if connection.mode != Mode::Basic || connection.target_project.is_some() {
            continue;
        }
        let Some(project) = legacy_basic_project(&connection.incoming_script) else {
            continue;
        };
        let exists = match project.parse::<tandem_model::ProjectKey>() {
            Ok(key) => matches!(state.store().project(&key).await, Ok(Some(_))),
            Err(_) => false,
        };
        let target = exists.then(|| project.to_owned());
        let upgraded =
            super::set_generated_rules(state, connection.id, basic_incoming(), target).await;
        match upgraded {
            Ok(c) => {
                tracing::info!(connection = %c.name, target = ?c.target_project, "Basic rules upgraded: new items go to the target project.")
            }
            Err(e) => {
                tracing::warn!(connection = %connection.name, error = %e, "Basic rules generated by an older version could not be upgraded.")
            }
        }
    }
}

fn servicenow_outgoing() -> String {
    "\
// What this side sends: fill the replica from the ServiceNow record (`entity`, with
// ServiceNow's own column names).
if (entity.tableName == \"incident\") {
    replica.key         = entity.key
    replica.summary     = entity.short_description
    replica.description = entity.description
    // State and priority as names the other side understands.
    def states = [\"1\": \"To Do\", \"2\": \"In Progress\", \"3\": \"In Progress\",
                  \"6\": \"Done\", \"7\": \"Done\", \"8\": \"Done\"]
    replica.status      = [name: states[entity.state] ?: \"To Do\"]
    def priorities = [\"1\": \"Highest\", \"2\": \"High\", \"3\": \"Medium\", \"4\": \"Low\", \"5\": \"Lowest\"]
    replica.priority    = [name: priorities[entity.priority] ?: \"Medium\"]
    replica.urgency     = entity.urgency
    replica.impact      = entity.impact
    // Additional comments only: work notes are internal and stay on this side. To send them
    // too (as internal comments), write `replica.comments = entity.comments + entity.work_notes`.
    replica.comments    = entity.comments
    replica.attachments = entity.attachments
}
"
    .to_owned()
}

fn servicenow_incoming() -> String {
    "\
// How this side applies what it receives: `replica` is the remote item, `entity` the
// ServiceNow record (empty on the first sync).
if (firstSync) {
    // New items from the other side become incidents.
    entity.tableName = \"incident\"
}
if (entity.tableName == \"incident\") {
    entity.short_description = replica.summary
    entity.description       = replica.description
    // The other side's status as an incident state, with the fields the state model needs.
    // A side that sends no status leaves the state as it is.
    if (replica.status) {
        switch (replica.status.name) {
            case \"Done\":
                if (entity.state != \"6\" && entity.state != \"7\") {
                    entity.state       = \"6\"
                    entity.close_code  = \"Solved (Permanently)\"
                    entity.close_notes = \"Resolved on the other side (\" + replica.key + \")\"
                }
                break
            case \"In Progress\":
                if (entity.state != \"2\" && entity.state != \"3\") {
                    entity.state = \"2\"
                }
                break
            default:
                entity.state = \"1\"
        }
    }
    if (replica.priority) {
        def urgencies = [Highest: \"1\", High: \"1\", Medium: \"2\", Low: \"3\", Lowest: \"3\"]
        entity.urgency = urgencies[replica.priority.name] ?: \"2\"
    }
    // Public comments as Additional comments, internal ones as work notes.
    entity.comments    += replica.addedComments.findAll { !it.internal }
    entity.work_notes  += replica.addedComments.findAll { it.internal }
    entity.attachments += replica.addedAttachments
}
"
    .to_owned()
}

fn servicenow_basic_outgoing() -> String {
    "\
// Basic mode: generated rules (incidents: short description, description, public comments,
// attachments).
if (entity.tableName == \"incident\") {
    replica.key         = entity.key
    replica.summary     = entity.short_description
    replica.description = entity.description
    replica.comments    = entity.comments
    replica.attachments = entity.attachments
}
"
    .to_owned()
}

fn servicenow_basic_incoming() -> String {
    "\
// Basic mode: generated rules (incidents: short description, description, public comments,
// attachments).
if (firstSync) {
    entity.tableName = \"incident\"
}
if (entity.tableName == \"incident\") {
    entity.short_description = replica.summary
    entity.description       = replica.description
    entity.comments    += replica.addedComments.findAll { !it.internal }
    entity.attachments += replica.addedAttachments
}
"
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_rule_parses() {
        for source in [
            script_outgoing(),
            script_incoming(),
            basic_outgoing(),
            basic_incoming(),
            servicenow_outgoing(),
            servicenow_incoming(),
            servicenow_basic_outgoing(),
            servicenow_basic_incoming(),
        ] {
            tandem_script::playground::check(&source, "rules")
                .unwrap_or_else(|e| panic!("{e}\n{source}"));
        }
    }

    #[test]
    fn basic_rules_an_older_version_generated_are_recognised_with_their_project() {
        let old = LEGACY_BASIC_INCOMING.replace("{project}", "PROJ");
        assert_eq!(legacy_basic_project(&old), Some("PROJ"));
        let old = LEGACY_BASIC_INCOMING.replace("{project}", "ENG");
        assert_eq!(legacy_basic_project(&old), Some("ENG"));
        assert_eq!(legacy_basic_project(&basic_incoming()), None);
        assert_eq!(legacy_basic_project(&format!("{old}// mine\n")), None);
        tandem_script::playground::check(&old, "rules").expect("the old rules parse");
    }

    /// The incident as the default ServiceNow incoming rules leave it, given a replica.
    fn incident_after(replica: serde_json::Value) -> serde_json::Value {
        let fixture = crate::sync::helpers::testing::Fixture::new();
        let input = crate::sync::rules::IncomingInput {
            replica,
            previous: None,
            first_sync: false,
            item: serde_json::json!({"tableName": "incident", "state": "2", "urgency": "3",
                "comments": [], "work_notes": [], "attachments": []}),
            comment_twins: vec![],
            attachment_twins: vec![],
            journals: true,
        };
        crate::sync::rules::incoming(&servicenow_incoming(), input, &fixture.env())
            .expect("the default rules run")
            .item
    }

    #[test]
    fn servicenow_defaults_keep_the_state_when_the_other_side_sends_no_status() {
        let item = incident_after(serde_json::json!({"key": "ENG-1", "summary": "s"}));
        assert_eq!(item["state"], "2", "not reset to New: {item}");
        assert_eq!(item["urgency"], "3", "no priority, urgency kept: {item}");
        let item = incident_after(serde_json::json!({"key": "ENG-1", "summary": "s",
            "status": {"name": "To Do"}, "priority": {"name": "Highest"}}));
        assert_eq!(item["state"], "1", "{item}");
        assert_eq!(item["urgency"], "1", "{item}");
    }
}
