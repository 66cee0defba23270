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

/// The `task` table's own state choices, which requests and requested items keep
/// (inference: the reference lists none for them; these are the out-of-box `task.state`
/// choices, Closed Skipped being 7 there).
const TASK_STATE: &[(&str, &str)] = &[
    ("-5", "Pending"),
    ("1", "Open"),
    ("2", "Work in Progress"),
    ("3", "Closed Complete"),
    ("4", "Closed Incomplete"),
    ("7", "Closed Skipped"),
];
/// `sc_request.request_state` (inference: the out-of-box choices).
const REQUEST_STATE: &[(&str, &str)] = &[
    ("requested", "Pending Approval"),
    ("in_process", "Approved"),
    ("closed_complete", "Closed Complete"),
    ("closed_incomplete", "Closed Incomplete"),
    ("closed_cancelled", "Closed Cancelled"),
    ("closed_rejected", "Closed Rejected"),
    ("closed_skipped", "Closed Skipped"),
];
/// `approval` on task tables (inference: the out-of-box choices).
const APPROVAL: &[(&str, &str)] = &[
    ("not requested", "Not Yet Requested"),
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("cancelled", "Cancelled"),
    ("not_required", "No Longer Required"),
];

/// A state whose records are no longer `active`, per table.
pub fn inactive_states(table: &str) -> &'static [&'static str] {
    match table {
        "incident" => &["7", "8"],
        "problem" => &["107"],
        "change_request" => &["3", "4"],
        "sc_task" => &["3", "4", "5"],
        "sc_request" | "sc_req_item" => &["3", "4", "7"],
        _ => &[],
    }
}

/// The task tables: they extend `task`, so `sys_class_nameINSTANCEOFtask` matches them.
const TASK_TABLES: &[&str] = &[
    "incident",
    "problem",
    "change_request",
    "sc_task",
    "sc_request",
    "sc_req_item",
];

/// Whether a record of `table` is an instance of `class`: the same table, or one that
/// extends it (`INSTANCEOF`).
pub fn is_instance_of(table: &str, class: &str) -> bool {
    table == class || (class == "task" && TASK_TABLES.contains(&table))
}

/// A custom column (`u_…`) an instance admin added to a table; the emulator keeps it as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomColumn {
    pub table: String,
    pub column: String,
}

impl std::str::FromStr for CustomColumn {
    type Err = String;

    /// `incident.u_tier`: a table and a column whose name starts with `u_`, as ServiceNow
    /// names the columns admins add.
    fn from_str(s: &str) -> Result<Self, String> {
        let (table, column) = s
            .split_once('.')
            .ok_or_else(|| format!("`{s}` is not TABLE.COLUMN, e.g. incident.u_tier"))?;
        let name = |n: &str| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !name(table) {
            return Err(format!("`{table}` is not a table name (e.g. incident)"));
        }
        if !column.starts_with("u_") || column.len() < 3 || !name(column) {
            return Err(format!(
                "`{column}` is not a custom column name: lower-case letters, digits and _, starting with u_ (e.g. u_tier)"
            ));
        }
        Ok(Self {
            table: table.to_owned(),
            column: column.to_owned(),
        })
    }
}

/// The tables with the custom columns added (as text fields); an unknown table is refused.
pub fn tables_with(custom: &[CustomColumn]) -> Result<Vec<TableDef>, String> {
    let mut tables = tables();
    for c in custom {
        let Some(t) = tables.iter_mut().find(|t| t.name == c.table) else {
            return Err(format!(
                "custom column {}.{}: the emulator has no table {} (it has {})",
                c.table,
                c.column,
                c.table,
                tables.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
            ));
        };
        if t.field(&c.column).is_none() {
            // Field names are `&'static str` like every built-in one; a custom column lives
            // as long as the emulator's configuration, a few bytes once per column declared.
            let name: &'static str = Box::leak(c.column.clone().into_boxed_str());
            t.fields.push(f(name, FieldType::String));
        }
    }
    Ok(tables)
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
    sc_task.push(f("request_item", Reference("sc_req_item")));
    let mut sc_request = task_fields(TASK_STATE);
    sc_request.extend([
        f("requested_for", Reference("sys_user")),
        c("request_state", String, REQUEST_STATE),
        c("approval", String, APPROVAL),
        f("stage", String),
        f("price", String),
        f("due_date", DateTime),
        f("special_instructions", String),
    ]);
    let mut sc_req_item = task_fields(TASK_STATE);
    sc_req_item.extend([
        f("request", Reference("sc_request")),
        // A reference to sc_cat_item, which the emulator does not have: kept as the sys_id.
        f("cat_item", String),
        f("requested_for", Reference("sys_user")),
        f("quantity", Integer),
        c("approval", String, APPROVAL),
        f("stage", String),
        f("price", String),
        f("due_date", DateTime),
    ]);
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
            name: "sc_request",
            numbering: Some(("REQ", 10001)),
            display_field: "number",
            fields: with_system(sc_request, true),
            defaults: &[
                ("state", "1"),
                ("request_state", "requested"),
                ("approval", "not requested"),
                ("impact", "3"),
                ("urgency", "3"),
                ("priority", "4"),
                ("active", "true"),
            ],
        },
        TableDef {
            name: "sc_req_item",
            numbering: Some(("RITM", 10001)),
            display_field: "number",
            fields: with_system(sc_req_item, true),
            defaults: &[
                ("state", "1"),
                ("approval", "not requested"),
                ("quantity", "1"),
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
        // The choice lists of every choice field, one row per choice, as clients read labels
        // (`name` is the table, `element` the column).
        TableDef {
            name: "sys_choice",
            numbering: None,
            display_field: "label",
            fields: with_system(
                vec![
                    f("name", String),
                    f("element", String),
                    f("value", String),
                    f("label", String),
                    f("sequence", Integer),
                    f("inactive", Boolean),
                    f("language", String),
                ],
                false,
            ),
            defaults: &[("inactive", "false"), ("language", "en")],
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
    fn custom_columns_are_u_columns_of_known_tables() {
        let tier: CustomColumn = "incident.u_tier".parse().expect("valid");
        let ritm: CustomColumn = "sc_req_item.u_cost_center".parse().expect("valid");
        let tables = tables_with(&[tier, ritm]).expect("known tables");
        let field = |t: &str, c: &str| {
            tables
                .iter()
                .find(|d| d.name == t)
                .and_then(|d| d.field(c))
                .map(|f| f.ty)
        };
        assert_eq!(field("incident", "u_tier"), Some(FieldType::String));
        assert_eq!(
            field("sc_req_item", "u_cost_center"),
            Some(FieldType::String)
        );
        assert_eq!(field("problem", "u_tier"), None);
        for bad in [
            "u_tier",
            "incident.tier",
            "incident.u_",
            "Incident.u_tier",
            "incident.u_Tier",
        ] {
            assert!(bad.parse::<CustomColumn>().is_err(), "{bad}");
        }
        let e = tables_with(&["nope.u_x".parse().expect("well-formed")]).unwrap_err();
        assert!(e.contains("no table nope"), "{e}");
    }

    #[test]
    fn requests_and_requested_items_are_numbered_task_tables() {
        let tables = tables();
        for (name, prefix) in [("sc_request", "REQ"), ("sc_req_item", "RITM")] {
            let t = tables.iter().find(|t| t.name == name).expect(name);
            assert!(t.is_task(), "{name}");
            assert_eq!(t.numbering.map(|n| n.0), Some(prefix));
            let states: Vec<&str> = t
                .field("state")
                .expect("state")
                .choices
                .iter()
                .map(|c| c.0)
                .collect();
            assert_eq!(states, ["-5", "1", "2", "3", "4", "7"], "{name}");
        }
    }

    #[test]
    fn the_task_tables_are_exactly_those_with_journals() {
        for t in tables() {
            assert_eq!(TASK_TABLES.contains(&t.name), t.is_task(), "{}", t.name);
            assert!(is_instance_of(t.name, t.name));
        }
        assert!(is_instance_of("incident", "task"));
        assert!(!is_instance_of("sys_user", "task"));
        assert!(!is_instance_of("task", "incident"));
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
