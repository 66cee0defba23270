//! The workflow every issue type follows: statuses in their categories and the transitions
//! between them, as Jira's "Transitions" API exposes them (tracker-apis.md §2.3). Status moves
//! only through a transition available from the current status; the one into Done has a screen
//! that requires a resolution, and reopening clears it.
//!
//! Default workflow (ids as a new Jira Cloud site numbers them, an inference):
//! To Do →(Start progress)→ In Progress →(Review)→ In Review →(Done)→ Done →(Reopen)→ To Do,
//! with In Progress →(Stop progress)→ To Do and In Review →(Back to progress)→ In Progress.
//! Done is three transitions from To Do, so clients must find a path.

/// A status category, as `statusCategory` renders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    New,
    Indeterminate,
    Done,
}

impl Category {
    pub fn id(self) -> u32 {
        match self {
            Self::New => 2,
            Self::Indeterminate => 4,
            Self::Done => 3,
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Indeterminate => "indeterminate",
            Self::Done => "done",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::New => "To Do",
            Self::Indeterminate => "In Progress",
            Self::Done => "Done",
        }
    }
    pub fn color(self) -> &'static str {
        match self {
            Self::New => "blue-gray",
            Self::Indeterminate => "yellow",
            Self::Done => "green",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: String,
    pub name: String,
    pub category: Category,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub id: String,
    pub name: String,
    /// Status ids it leaves from; empty for a global transition (from any status).
    pub from: Vec<String>,
    pub to: String,
    /// Its screen asks for a resolution, and refuses to go without one.
    pub requires_resolution: bool,
    /// Clears the resolution (leaving a done status).
    pub clears_resolution: bool,
}

/// Why a transition cannot be made; worded as Jira's 400s are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("Transition id '{0}' is not valid for this issue.")]
    NotAvailable(String),
    #[error("Resolution is required.")]
    ResolutionRequired,
}

#[derive(Debug, Clone)]
pub struct Workflow {
    pub statuses: Vec<Status>,
    pub transitions: Vec<Transition>,
    pub initial: String,
}

fn status(id: &str, name: &str, category: Category) -> Status {
    Status {
        id: id.into(),
        name: name.into(),
        category,
    }
}

fn transition(id: &str, name: &str, from: &[&str], to: &str) -> Transition {
    Transition {
        id: id.into(),
        name: name.into(),
        from: from.iter().map(|s| (*s).to_owned()).collect(),
        to: to.into(),
        requires_resolution: false,
        clears_resolution: false,
    }
}

impl Default for Workflow {
    fn default() -> Self {
        let mut done = transition("51", "Done", &["10001"], "10002");
        done.requires_resolution = true;
        let mut reopen = transition("71", "Reopen", &["10002"], "10000");
        reopen.clears_resolution = true;
        Self {
            statuses: vec![
                status("10000", "To Do", Category::New),
                status("3", "In Progress", Category::Indeterminate),
                status("10001", "In Review", Category::Indeterminate),
                status("10002", "Done", Category::Done),
            ],
            transitions: vec![
                transition("21", "Start progress", &["10000"], "3"),
                transition("31", "Review", &["3"], "10001"),
                transition("41", "Stop progress", &["3"], "10000"),
                done,
                transition("61", "Back to progress", &["10001"], "3"),
                reopen,
            ],
            initial: "10000".into(),
        }
    }
}

impl Workflow {
    pub fn status(&self, id: &str) -> Option<&Status> {
        self.statuses.iter().find(|s| s.id == id)
    }

    /// Transitions available from a status, in workflow order.
    pub fn available(&self, from: &str) -> Vec<&Transition> {
        self.transitions
            .iter()
            .filter(|t| t.from.is_empty() || t.from.iter().any(|f| f == from))
            .collect()
    }

    /// Checks a transition from `from`; returns it when it may be made with `resolution` given
    /// or not.
    pub fn check(
        &self,
        from: &str,
        transition_id: &str,
        has_resolution: bool,
    ) -> Result<&Transition, WorkflowError> {
        let t = self
            .available(from)
            .into_iter()
            .find(|t| t.id == transition_id)
            .ok_or_else(|| WorkflowError::NotAvailable(transition_id.to_owned()))?;
        if t.requires_resolution && !has_resolution {
            return Err(WorkflowError::ResolutionRequired);
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transitions_from_the_current_status_are_available() {
        let w = Workflow::default();
        let ids: Vec<&str> = w.available("3").iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["31", "41"]);
        assert_eq!(
            w.check("10000", "51", true),
            Err(WorkflowError::NotAvailable("51".into())),
            "Done is not one step from To Do"
        );
        assert_eq!(
            w.check("10000", "21", false).map(|t| t.to.as_str()),
            Ok("3")
        );
    }

    #[test]
    fn done_needs_a_resolution_and_reopen_clears_it() {
        let w = Workflow::default();
        assert_eq!(
            w.check("10001", "51", false),
            Err(WorkflowError::ResolutionRequired)
        );
        let done = w
            .check("10001", "51", true)
            .expect("allowed with a resolution");
        assert_eq!(w.status(&done.to).map(|s| s.category), Some(Category::Done));
        let reopen = w.check("10002", "71", false).expect("reopen");
        assert!(reopen.clears_resolution);
    }

    #[test]
    fn every_transition_leads_to_a_known_status() {
        let w = Workflow::default();
        assert_eq!(
            w.status("10001").map(|s| s.name.as_str()),
            Some("In Review")
        );
        assert!(w.status("Closed").is_none());
        assert!(w.status(&w.initial).is_some());
        for t in &w.transitions {
            assert!(
                w.status(&t.to).is_some(),
                "{} goes to a known status",
                t.name
            );
        }
    }
}
