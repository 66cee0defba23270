//! Projects, items and what hangs off them, with the validation rules that hold whatever the
//! storage backend.

use std::fmt;
use std::str::FromStr;

use indexmap::IndexMap;
use jiff::Timestamp;

/// A field value that fails validation, with what was wrong in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error(
        "project key '{0}' is not valid: use 2 to 10 capital letters or digits, starting with a letter (e.g. OPS)"
    )]
    ProjectKey(String),
    #[error("item key '{0}' is not valid: expected PROJECT-NUMBER, e.g. OPS-12")]
    ItemKey(String),
    #[error("unknown status '{0}': use one of To Do, In Progress, Done")]
    Status(String),
    #[error("unknown priority '{0}': use one of Highest, High, Medium, Low, Lowest")]
    Priority(String),
    #[error("unknown item type '{0}': use one of Task, Bug, Story, Epic, Sub-task")]
    ItemType(String),
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is too long ({len} characters; at most {max})")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("label '{0}' is not valid: labels are single words without spaces")]
    Label(String),
}

/// Longest summary the tracker accepts, in characters (Jira's limit).
pub const MAX_SUMMARY: usize = 255;
/// Longest description or comment body, in characters.
pub const MAX_TEXT: usize = 100_000;

/// A project key such as `OPS`: 2–10 ASCII capitals or digits, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectKey(String);

impl ProjectKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ProjectKey {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (2..=10).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_uppercase())
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok {
            Ok(ProjectKey(s.to_owned()))
        } else {
            Err(ValidationError::ProjectKey(s.to_owned()))
        }
    }
}

impl fmt::Display for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An item key such as `OPS-12`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    pub project: ProjectKey,
    pub number: i64,
}

impl FromStr for ItemKey {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ValidationError::ItemKey(s.to_owned());
        let (project, digits) = s.rsplit_once('-').ok_or_else(bad)?;
        if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let project = project.parse().map_err(|_| bad())?;
        let number: i64 = digits.parse().map_err(|_| bad())?;
        Ok(ItemKey { project, number })
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.project, self.number)
    }
}

/// Generates a closed set of names with `as_str`, `ALL`, `FromStr` (case-insensitive, spaces and
/// underscores ignored) and `Display`.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $err:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let norm = |t: &str| -> String {
                    t.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect()
                };
                let wanted = norm(s);
                $(if norm($text) == wanted { return Ok($name::$variant); })+
                Err(ValidationError::$err(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(
    /// Workflow status. Every change of status is recorded as a transition in the history.
    Status, Status {
        ToDo => "To Do",
        InProgress => "In Progress",
        Done => "Done",
    }
);

named_enum!(
    /// What kind of work an item is. A sub-task has a parent item; so may a story (its epic).
    ItemType, ItemType {
        Task => "Task",
        Bug => "Bug",
        Story => "Story",
        Epic => "Epic",
        SubTask => "Sub-task",
    }
);

named_enum!(
    /// Priority, from most to least urgent.
    Priority, Priority {
        Highest => "Highest",
        High => "High",
        Medium => "Medium",
        Low => "Low",
        Lowest => "Lowest",
    }
);

/// Someone who reports, is assigned or writes: a display name and, where known, an email.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    pub name: String,
    pub email: Option<String>,
}

impl fmt::Display for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.email {
            Some(email) => write!(f, "{} <{}>", self.name, email),
            None => f.write_str(&self.name),
        }
    }
}

/// Who made a change: a console user, an API token, or the sync engine (`via_sync` names the
/// connection, so that the engine can tell its own writes from people's and never echo them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub via_sync: Option<String>,
}

impl Actor {
    pub fn user(name: impl Into<String>) -> Self {
        Actor {
            name: name.into(),
            via_sync: None,
        }
    }
}

/// Custom fields by name, in the order they were first set. Values are JSON because trackers'
/// custom fields are: numbers, text, options, lists.
pub type CustomFields = IndexMap<String, serde_json::Value>;

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub key: ProjectKey,
    pub name: String,
    pub description: String,
    pub created: Timestamp,
    /// Number of items created so far; the next item gets `item_count + 1`.
    pub item_count: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewProject {
    pub key: ProjectKey,
    pub name: String,
    pub description: String,
}

impl NewProject {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("project name", &self.name, 200, true)?;
        check_text("project description", &self.description, MAX_TEXT, false)
    }
}

/// One work item of the built-in tracker, with its comments and attachments.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: ItemKey,
    pub summary: String,
    pub description: String,
    pub status: Status,
    pub priority: Priority,
    pub assignee: Option<Person>,
    pub reporter: Option<Person>,
    pub labels: Vec<String>,
    pub custom_fields: CustomFields,
    pub item_type: ItemType,
    /// The item this one belongs to (a sub-task's task, a story's epic).
    pub parent: Option<ItemKey>,
    pub comments: Vec<Comment>,
    pub attachments: Vec<Attachment>,
    pub created: Timestamp,
    pub updated: Timestamp,
    /// Bumped by every change; an update that names an older version is refused.
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    pub project: ProjectKey,
    pub summary: String,
    pub description: String,
    pub status: Status,
    pub priority: Priority,
    pub assignee: Option<Person>,
    pub reporter: Option<Person>,
    pub labels: Vec<String>,
    pub custom_fields: CustomFields,
    pub item_type: ItemType,
    pub parent: Option<ItemKey>,
}

impl NewItem {
    pub fn new(project: ProjectKey, summary: impl Into<String>) -> Self {
        NewItem {
            project,
            summary: summary.into(),
            description: String::new(),
            status: Status::ToDo,
            priority: Priority::Medium,
            assignee: None,
            reporter: None,
            labels: Vec::new(),
            custom_fields: CustomFields::new(),
            item_type: ItemType::Task,
            parent: None,
        }
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("summary", &self.summary, MAX_SUMMARY, true)?;
        check_text("description", &self.description, MAX_TEXT, false)?;
        check_labels(&self.labels)
    }
}

/// A partial update: `None` leaves a field alone. For `assignee`/`reporter`, `Some(None)` clears
/// it. `custom_fields` are merged by name; a JSON `null` removes that field. `labels` replaces
/// the whole set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemPatch {
    pub summary: Option<String>,
    pub description: Option<String>,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub assignee: Option<Option<Person>>,
    pub reporter: Option<Option<Person>>,
    pub labels: Option<Vec<String>>,
    pub custom_fields: Option<CustomFields>,
    pub item_type: Option<ItemType>,
    /// `Some(None)` removes the parent.
    pub parent: Option<Option<ItemKey>>,
    /// When set, the update applies only if the item is still at this version.
    pub expected_version: Option<i64>,
}

impl ItemPatch {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(s) = &self.summary {
            check_text("summary", s, MAX_SUMMARY, true)?;
        }
        if let Some(d) = &self.description {
            check_text("description", d, MAX_TEXT, false)?;
        }
        if let Some(labels) = &self.labels {
            check_labels(labels)?;
        }
        Ok(())
    }

    /// Applies the patch to `item` in memory and returns the changes it makes, one per field
    /// that really changes. Does not touch `version` or `updated`.
    pub fn apply(&self, item: &mut Item) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        let mut set = |field: &str, from: String, to: String| {
            if from != to {
                changes.push(FieldChange {
                    field: field.to_owned(),
                    from: (!from.is_empty()).then_some(from),
                    to: (!to.is_empty()).then_some(to),
                });
            }
        };
        if let Some(v) = &self.summary {
            set(
                "summary",
                std::mem::replace(&mut item.summary, v.clone()),
                v.clone(),
            );
        }
        if let Some(v) = &self.description {
            set(
                "description",
                std::mem::replace(&mut item.description, v.clone()),
                v.clone(),
            );
        }
        if let Some(v) = self.status {
            set("status", item.status.to_string(), v.to_string());
            item.status = v;
        }
        if let Some(v) = self.priority {
            set("priority", item.priority.to_string(), v.to_string());
            item.priority = v;
        }
        let person = |p: &Option<Person>| p.as_ref().map(Person::to_string).unwrap_or_default();
        if let Some(v) = &self.assignee {
            set("assignee", person(&item.assignee), person(v));
            item.assignee = v.clone();
        }
        if let Some(v) = &self.reporter {
            set("reporter", person(&item.reporter), person(v));
            item.reporter = v.clone();
        }
        if let Some(v) = &self.labels {
            let v = normalize_labels(v);
            set("labels", item.labels.join(" "), v.join(" "));
            item.labels = v;
        }
        if let Some(v) = self.item_type {
            set("type", item.item_type.to_string(), v.to_string());
            item.item_type = v;
        }
        if let Some(v) = &self.parent {
            let shown =
                |k: &Option<ItemKey>| k.as_ref().map(ToString::to_string).unwrap_or_default();
            set("parent", shown(&item.parent), shown(v));
            item.parent = v.clone();
        }
        if let Some(fields) = &self.custom_fields {
            for (name, value) in fields {
                let old = item.custom_fields.get(name).cloned();
                let shown = |v: &Option<serde_json::Value>| match v {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                let new = (!value.is_null()).then(|| value.clone());
                set(&format!("cf:{name}"), shown(&old), shown(&new));
                match new {
                    Some(v) => {
                        item.custom_fields.insert(name.clone(), v);
                    }
                    None => {
                        item.custom_fields.shift_remove(name);
                    }
                }
            }
        }
        changes
    }
}

/// One field's change, as recorded in the history. Empty values are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub author: Person,
    pub body: String,
    /// Internal comments are visible to the team only (Jira's "internal note", ServiceNow's
    /// work notes); sync rules decide whether to send them.
    pub internal: bool,
    pub created: Timestamp,
    pub edited: Option<Timestamp>,
    /// Set on a comment sync wrote from a remote one: where it came from and who wrote it
    /// there. The comment's `author` stays who the rules wrote it as (`mergeComments` writes
    /// "<author> commented: …" as this side's user); this keeps the original author beside it.
    pub origin: Option<CommentOrigin>,
}

/// Where a synced comment came from (see `Comment::origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentOrigin {
    /// The remote side's short name on the connection that brought it (e.g. `globex_dev`).
    pub synced_from: String,
    /// Who wrote the comment on the remote side, when the remote said.
    pub author: Option<Person>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    pub author: Person,
    pub body: String,
    pub internal: bool,
    /// Set by sync for a comment it copies from a remote one.
    pub origin: Option<CommentOrigin>,
}

impl NewComment {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("comment body", &self.body, MAX_TEXT, true)
    }
}

/// An attachment's metadata; its bytes are fetched separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: i64,
    pub filename: String,
    pub mime_type: String,
    pub size: i64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    pub author: Person,
    pub created: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub filename: String,
    pub mime_type: String,
    pub author: Person,
    pub bytes: Vec<u8>,
}

/// Largest attachment the built-in tracker stores.
pub const MAX_ATTACHMENT: usize = 25 * 1024 * 1024;

impl NewAttachment {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("file name", &self.filename, 255, true)?;
        if self.bytes.len() > MAX_ATTACHMENT {
            return Err(ValidationError::TooLong {
                field: "attachment",
                len: self.bytes.len(),
                max: MAX_ATTACHMENT,
            });
        }
        Ok(())
    }
}

/// One entry of an item's history: who changed which field, from what to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub change: FieldChange,
}

/// What happened to an item; the sync engine consumes these in `seq` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    ItemCreated,
    ItemUpdated,
    CommentAdded,
    CommentEdited,
    CommentDeleted,
    AttachmentAdded,
    AttachmentRemoved,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ItemCreated => "item_created",
            EventKind::ItemUpdated => "item_updated",
            EventKind::CommentAdded => "comment_added",
            EventKind::CommentEdited => "comment_edited",
            EventKind::CommentDeleted => "comment_deleted",
            EventKind::AttachmentAdded => "attachment_added",
            EventKind::AttachmentRemoved => "attachment_removed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "item_created" => EventKind::ItemCreated,
            "item_updated" => EventKind::ItemUpdated,
            "comment_added" => EventKind::CommentAdded,
            "comment_edited" => EventKind::CommentEdited,
            "comment_deleted" => EventKind::CommentDeleted,
            "attachment_added" => EventKind::AttachmentAdded,
            "attachment_removed" => EventKind::AttachmentRemoved,
            _ => return None,
        })
    }
}

/// A change event, written in the same transaction as the change itself (a transactional
/// outbox), so none is ever lost or emitted for a change that did not commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerEvent {
    pub seq: i64,
    pub item: ItemKey,
    pub kind: EventKind,
    pub at: Timestamp,
    pub actor: String,
    pub via_sync: Option<String>,
    /// The item's version after the change.
    pub version: i64,
}

fn check_text(
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<(), ValidationError> {
    if required && value.trim().is_empty() {
        return Err(ValidationError::Empty { field });
    }
    let len = value.chars().count();
    if len > max {
        return Err(ValidationError::TooLong { field, len, max });
    }
    Ok(())
}

fn check_labels(labels: &[String]) -> Result<(), ValidationError> {
    for label in labels {
        if label.is_empty() || label.chars().any(char::is_whitespace) || label.len() > 255 {
            return Err(ValidationError::Label(label.clone()));
        }
    }
    Ok(())
}

/// Labels are a set: sorted, without duplicates.
pub fn normalize_labels(labels: &[String]) -> Vec<String> {
    let mut out = labels.to_vec();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_are_short_capitals() {
        assert!("OPS".parse::<ProjectKey>().is_ok());
        assert!("A1".parse::<ProjectKey>().is_ok());
        for bad in ["", "O", "ops", "1AB", "OP-S", "ABCDEFGHIJK"] {
            assert!(bad.parse::<ProjectKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn item_keys_round_trip_and_reject_garbage() {
        let key: ItemKey = "OPS-12".parse().unwrap();
        assert_eq!(key.number, 12);
        assert_eq!(key.to_string(), "OPS-12");
        for bad in [
            "OPS", "OPS-", "OPS-0", "OPS-x", "ops-1", "OPS-01", "-1", "OPS--1",
        ] {
            assert!(bad.parse::<ItemKey>().is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_parse_loosely_and_print_canonically() {
        assert_eq!("to do".parse::<Status>(), Ok(Status::ToDo));
        assert_eq!("IN_PROGRESS".parse::<Status>(), Ok(Status::InProgress));
        assert_eq!(Status::InProgress.to_string(), "In Progress");
        assert!("Closed".parse::<Status>().is_err());
        assert_eq!("highest".parse::<Priority>(), Ok(Priority::Highest));
    }

    #[test]
    fn patch_records_only_real_changes() {
        let mut item = Item {
            key: "OPS-1".parse().unwrap(),
            summary: "a".into(),
            description: String::new(),
            status: Status::ToDo,
            priority: Priority::Medium,
            assignee: None,
            reporter: None,
            labels: vec!["x".into()],
            custom_fields: CustomFields::new(),
            item_type: ItemType::Task,
            parent: None,
            comments: vec![],
            attachments: vec![],
            created: Timestamp::UNIX_EPOCH,
            updated: Timestamp::UNIX_EPOCH,
            version: 1,
        };
        let patch = ItemPatch {
            summary: Some("a".into()),
            status: Some(Status::Done),
            labels: Some(vec!["y".into(), "x".into(), "y".into()]),
            custom_fields: Some([("Tier".to_owned(), serde_json::json!("Gold"))].into()),
            ..ItemPatch::default()
        };
        let changes = patch.apply(&mut item);
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["status", "labels", "cf:Tier"]);
        assert_eq!(item.labels, ["x", "y"]);
        assert_eq!(changes[0].from.as_deref(), Some("To Do"));
        assert_eq!(changes[0].to.as_deref(), Some("Done"));
        // The type and the parent are recorded as changes too.
        let patch = ItemPatch {
            item_type: Some(ItemType::SubTask),
            parent: Some(Some("OPS-9".parse().unwrap())),
            ..ItemPatch::default()
        };
        let changes = patch.apply(&mut item);
        assert_eq!(
            changes
                .iter()
                .map(|c| (c.field.as_str(), c.to.as_deref()))
                .collect::<Vec<_>>(),
            [("type", Some("Sub-task")), ("parent", Some("OPS-9"))]
        );
        assert_eq!("sub task".parse::<ItemType>(), Ok(ItemType::SubTask));
    }
}
