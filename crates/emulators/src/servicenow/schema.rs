//! The tables the emulator knows: their fields, field types, choice lists and numbering.
//!
//! Only tables listed here exist; any other name is answered the way ServiceNow answers an
//! unknown table. Choice values and defaults are the out-of-box ones of tracker-apis.md §1.10;
//! a real instance may have customised them, which is why clients should read labels with
//! `sysparm_display_value=all` rather than hard-code them.

/// How a field's string value is compared, rendered and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text; compared case-insensitively, as ServiceNow's database collation does.
    String,
    /// Whole numbers stored as strings; compared numerically. Many choice fields are integers.
    Integer,
    /// `"true"` / `"false"`.
    Boolean,
    /// `YYYY-MM-DD HH:MM:SS`, UTC.
    DateTime,
    /// A sys_id of a record in the named table.
    Reference(&'static str),
    /// `comments`, `work_notes`: write-only text that appends to `sys_journal_field`.
    Journal,
    /// `comments_and_work_notes`: read-only merge of the journals.
    JournalList,
}

/// One column.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub ty: FieldType,
    /// `(value, label)` pairs; empty when the field is not a choice field.
    pub choices: &'static [(&'static str, &'static str)],
}

/// One table.
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    /// Record numbers (`INC0010001`): the prefix and the first number; `None` for tables
    /// without a `number` field.
    pub numbering: Option<(&'static str, u32)>,
    /// The field shown as a reference's display value.
    pub display_field: &'static str,
    pub fields: Vec<FieldDef>,
    /// Values new records get when the insert does not set them.
    pub defaults: &'static [(&'static str, &'static str)],
}

impl TableDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether this is a `task` child (has journals, state, priority).
    pub fn is_task(&self) -> bool {
        self.field("work_notes").is_some()
    }
}

const SYSTEM: &[(&str, FieldType)] = &[
    ("sys_id", FieldType::String),
    ("sys_created_on", FieldType::DateTime),
    ("sys_created_by", FieldType::String),
    ("sys_updated_on", FieldType::DateTime),
    ("sys_updated_by", FieldType::String),
    ("sys_mod_count", FieldType::Integer),
    ("sys_tags", FieldType::String),
];

/// Fields whose values the platform sets; writes to them are ignored (`sys_id` may be given
/// on insert).
pub const SYSTEM_FIELDS: &[&str] = &[
    "sys_id",
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
    "sys_tags",
    "sys_class_name",
];

const IMPACT_URGENCY: &[(&str, &str)] = &[("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")];
const PRIORITY: &[(&str, &str)] = &[
    ("1", "1 - Critical"),
    ("2", "2 - High"),
    ("3", "3 - Moderate"),
    ("4", "4 - Low"),
    ("5", "5 - Planning"),
];
const INCIDENT_STATE: &[(&str, &str)] = &[
    ("1", "New"),
    ("2", "In Progress"),
    ("3", "On Hold"),
    ("6", "Resolved"),
    ("7", "Closed"),
    ("8", "Canceled"),
];
const HOLD_REASON: &[(&str, &str)] = &[
    ("1", "Awaiting Caller"),
    ("3", "Awaiting Problem"),
    ("4", "Awaiting Vendor"),
    ("5", "Awaiting Change"),
];
const INCIDENT_CLOSE_CODE: &[(&str, &str)] = &[
    ("Solved (Work Around)", "Solved (Work Around)"),
    ("Solved (Permanently)", "Solved (Permanently)"),
    (
        "Solved Remotely (Work Around)",
        "Solved Remotely (Work Around)",
    ),
    (
        "Solved Remotely (Permanently)",
        "Solved Remotely (Permanently)",
    ),
    (
        "Not Solved (Not Reproducible)",
        "Not Solved (Not Reproducible)",
    ),
    ("Not Solved (Too Costly)", "Not Solved (Too Costly)"),
    ("Closed/Resolved by Caller", "Closed/Resolved by Caller"),
];
const PROBLEM_STATE: &[(&str, &str)] = &[
    ("101", "New"),
    ("102", "Assess"),
    ("103", "Root Cause Analysis"),
    ("104", "Fix in Progress"),
    ("106", "Resolved"),
    ("107", "Closed"),
];
const CHANGE_STATE: &[(&str, &str)] = &[
    ("-5", "New"),
    ("-4", "Assess"),
    ("-3", "Authorize"),
    ("-2", "Scheduled"),
    ("-1", "Implement"),
    ("0", "Review"),
    ("3", "Closed"),
    ("4", "Canceled"),
];
const SC_TASK_STATE: &[(&str, &str)] = &[
    ("-5", "Pending"),
    ("1", "Open"),
    ("2", "Work in Progress"),
    ("3", "Closed Complete"),
    ("4", "Closed Incomplete"),
    ("5", "Closed Skipped"),
];

/// A state whose records are no longer `active`, per table.
pub fn inactive_states(table: &str) -> &'static [&'static str] {
    match table {
        "incident" => &["7", "8"],
        "problem" => &["107"],
        "change_request" => &["3", "4"],
        "sc_task" => &["3", "4", "5"],
        _ => &[],
    }
}

/// ServiceNow's default priority lookup: impact × urgency → priority (1 Critical … 5 Planning).
pub fn priority_for(impact: &str, urgency: &str) -> Option<&'static str> {
    let i: u8 = impact.parse().ok().filter(|v| (1..=3).contains(v))?;
    let u: u8 = urgency.parse().ok().filter(|v| (1..=3).contains(v))?;
    Some(["1", "2", "3", "4", "5"][usize::from(i + u - 2)])
}

fn f(name: &'static str, ty: FieldType) -> FieldDef {
    FieldDef {
        name,
        ty,
        choices: &[],
    }
}

fn c(
    name: &'static str,
    ty: FieldType,
    choices: &'static [(&'static str, &'static str)],
) -> FieldDef {
    FieldDef { name, ty, choices }
}

fn with_system(mut fields: Vec<FieldDef>, class: bool) -> Vec<FieldDef> {
    fields.extend(SYSTEM.iter().map(|&(n, t)| f(n, t)));
    if class {
        fields.push(f("sys_class_name", FieldType::String));
    }
    fields
}

/// The `task` fields every task table shares, with the table's own state choices.
fn task_fields(state: &'static [(&'static str, &'static str)]) -> Vec<FieldDef> {
    use FieldType::*;
    vec![
        f("number", String),
        f("short_description", String),
        f("description", String),
        c("state", Integer, state),
        c("priority", Integer, PRIORITY),
        c("urgency", Integer, IMPACT_URGENCY),
        c("impact", Integer, IMPACT_URGENCY),
        f("active", Boolean),
        f("assigned_to", Reference("sys_user")),
        f("assignment_group", Reference("sys_user_group")),
        f("opened_by", Reference("sys_user")),
        f("opened_at", DateTime),
        f("closed_at", DateTime),
        f("close_notes", String),
        f("category", String),
        f("correlation_id", String),
        f("correlation_display", String),
        f("comments", Journal),
        f("work_notes", Journal),
        f("comments_and_work_notes", JournalList),
    ]
}

/// All tables of the emulated instance.
pub fn tables() -> Vec<TableDef> {
    use FieldType::*;
    let mut incident = task_fields(INCIDENT_STATE);
    incident.extend([
        c("incident_state", Integer, INCIDENT_STATE),
        f("caller_id", Reference("sys_user")),
        f("problem_id", Reference("problem")),
        f("subcategory", String),
        c("hold_reason", Integer, HOLD_REASON),
        c("close_code", String, INCIDENT_CLOSE_CODE),
        f("resolved_at", DateTime),
        f("resolved_by", Reference("sys_user")),
    ]);
    let mut problem = task_fields(PROBLEM_STATE);
    problem.extend([
        c("problem_state", Integer, PROBLEM_STATE),
        f("known_error", Boolean),
        f("cause_notes", String),
        f("fix_notes", String),
        f("resolution_code", String),
        f("resolved_at", DateTime),
    ]);
    let mut change = task_fields(CHANGE_STATE);
    change.extend([
        f("type", String),
        c(
            "risk",
            Integer,
            &[("2", "High"), ("3", "Moderate"), ("4", "Low")],
        ),
        f("start_date", DateTime),
        f("end_date", DateTime),
        f("close_code", String),
    ]);
    let mut sc_task = task_fields(SC_TASK_STATE);
    sc_task.push(f("request_item", String));
    vec![
        TableDef {
            name: "incident",
            numbering: Some(("INC", 10001)),
            display_field: "number",
            fields: with_system(incident, true),
            defaults: &[
                ("state", "1"),
                ("incident_state", "1"),
                ("impact", "3"),
                ("urgency", "3"),
                ("priority", "5"),
                ("active", "true"),
            ],
        },
        TableDef {
            name: "problem",
            numbering: Some(("PRB", 40001)),
            display_field: "number",
            fields: with_system(problem, true),
            defaults: &[
                ("state", "101"),
                ("problem_state", "101"),
                ("impact", "3"),
                ("urgency", "3"),
                ("priority", "5"),
                ("active", "true"),
                ("known_error", "false"),
            ],
        },
        TableDef {
            name: "change_request",
            numbering: Some(("CHG", 30001)),
            display_field: "number",
            fields: with_system(change, true),
            defaults: &[
                ("state", "-5"),
                ("impact", "3"),
                ("urgency", "3"),
                ("priority", "4"),
                ("risk", "3"),
                ("type", "normal"),
                ("active", "true"),
            ],
        },
        TableDef {
            name: "sc_task",
            numbering: Some(("SCTASK", 10001)),
            display_field: "number",
            fields: with_system(sc_task, true),
            defaults: &[
                ("state", "1"),
                ("impact", "3"),
                ("urgency", "3"),
                ("priority", "4"),
                ("active", "true"),
            ],
        },
        TableDef {
            name: "sys_user",
            numbering: None,
            display_field: "name",
            fields: with_system(
                vec![
                    f("user_name", String),
                    f("name", String),
                    f("first_name", String),
                    f("last_name", String),
                    f("email", String),
                    f("active", Boolean),
                ],
                true,
            ),
            defaults: &[("active", "true")],
        },
        TableDef {
            name: "sys_user_group",
            numbering: None,
            display_field: "name",
            fields: with_system(
                vec![
                    f("name", String),
                    f("description", String),
                    f("active", Boolean),
                ],
                false,
            ),
            defaults: &[("active", "true")],
        },
        TableDef {
            name: "sys_journal_field",
            numbering: None,
            display_field: "value",
            fields: with_system(
                vec![
                    f("name", String),
                    f("element", String),
                    f("element_id", String),
                    f("value", String),
                ],
                false,
            ),
            defaults: &[],
        },
        TableDef {
            name: "sys_attachment",
            numbering: None,
            display_field: "file_name",
            fields: with_system(
                vec![
                    f("file_name", String),
                    f("content_type", String),
                    f("size_bytes", Integer),
                    f("size_compressed", Integer),
                    f("compressed", Boolean),
                    f("hash", String),
                    f("table_name", String),
                    f("table_sys_id", String),
                    f("state", String),
                    f("download_link", String),
                ],
                false,
            ),
            defaults: &[("compressed", "false"), ("state", "available")],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_follows_the_impact_urgency_matrix() {
        assert_eq!(priority_for("1", "1"), Some("1"));
        assert_eq!(priority_for("1", "3"), Some("3"));
        assert_eq!(priority_for("2", "2"), Some("3"));
        assert_eq!(priority_for("3", "2"), Some("4"));
        assert_eq!(priority_for("3", "3"), Some("5"));
        assert_eq!(priority_for("0", "3"), None);
        assert_eq!(priority_for("", "3"), None);
    }

    #[test]
    fn every_table_has_system_fields_and_its_display_field() {
        for t in tables() {
            for (name, _) in SYSTEM {
                assert!(t.field(name).is_some(), "{} lacks {name}", t.name);
            }
            assert!(t.field(t.display_field).is_some(), "{}", t.name);
            for (name, _) in t.defaults {
                assert!(t.field(name).is_some(), "{} default {name}", t.name);
            }
        }
    }
}
