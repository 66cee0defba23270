//! The rules a new connection starts with. Script connections get these as an editable
//! starting point; Basic connections keep them and cannot edit them.

use tandem_model::Mode;

use super::ConnectionError;
use crate::state::AppState;

/// The largest script the editor accepts.
pub const MAX_SCRIPT: usize = 256 * 1024;

/// The outgoing and incoming rules for a new connection of this mode on this node's tracker.
/// The incoming rules create items in the node's first project (the admin changes that line
/// for another).
pub async fn defaults(state: &AppState, mode: Mode) -> Result<(String, String), ConnectionError> {
    let project = state
        .store()
        .projects()
        .await?
        .into_iter()
        .next()
        .map_or_else(|| "PROJ".to_owned(), |p| p.key.to_string());
    Ok(match mode {
        Mode::Script => (script_outgoing(), script_incoming(&project)),
        Mode::Basic => (basic_outgoing(), basic_incoming(&project)),
    })
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
replica.comments    = issue.comments
replica.attachments = issue.attachments
"
    .to_owned()
}

fn script_incoming(project: &str) -> String {
    format!(
        "\
// How this side applies what it receives: `replica` is the remote item, `issue` the local one.
if (firstSync) {{
    // New items from the other side are created in this project.
    issue.projectKey = \"{project}\"
}}
issue.summary     = replica.summary
issue.description = replica.description
issue.status      = replica.status
issue.priority    = replica.priority
issue.labels      = replica.labels
issue.comments    = commentHelper.mergeComments(issue, replica)
issue.attachments = attachmentHelper.mergeAttachments(issue, replica)
"
    )
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

fn basic_incoming(project: &str) -> String {
    format!(
        "\
// Basic mode: generated rules (summary, description, public comments, attachments).
if (firstSync) {{
    issue.projectKey = \"{project}\"
}}
issue.summary     = replica.summary
issue.description = replica.description
issue.comments    = commentHelper.mergeComments(issue, replica)
issue.attachments = attachmentHelper.mergeAttachments(issue, replica)
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_rule_parses() {
        for source in [
            script_outgoing(),
            script_incoming("ENG"),
            basic_outgoing(),
            basic_incoming("ENG"),
        ] {
            tandem_script::playground::check(&source, "rules")
                .unwrap_or_else(|e| panic!("{e}\n{source}"));
        }
    }
}
