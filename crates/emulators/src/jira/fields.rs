//! The field catalogue (`GET /rest/api/3/field`): Jira's system fields an integration writes
//! and reads, and custom fields of the kinds the issue asks for (select list, cascading select,
//! number, date, user picker, multi-user picker, single-line text, paragraph). Each field knows
//! its JSON schema, whether it is on the create and edit screens, and how a written value is
//! checked and kept.

use serde_json::{Value, json};

/// What a field holds; decides how writes are checked and how reads render.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Single-line text (summary, text custom fields).
    Text,
    /// Rich text: ADF in v3, wiki markup in v2 (description, environment, paragraph fields).
    Rich,
    Number,
    /// `yyyy-MM-dd`.
    Date,
    User,
    MultiUser,
    /// A select list with these options.
    Select(Vec<SelectOption>),
    /// A cascading select: parent options with children.
    Cascading(Vec<SelectOption>),
    Labels,
    Priority,
    Components,
    Versions,
    Parent,
    Resolution,
    IssueType,
    Project,
    /// Read only: set by Jira (status, created, updated, key, …).
    ReadOnly,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SelectOption {
    pub id: String,
    pub value: String,
    pub children: Vec<SelectOption>,
}

fn opt(id: &str, value: &str) -> SelectOption {
    SelectOption {
        id: id.into(),
        value: value.into(),
        children: Vec::new(),
    }
}

#[derive(Debug, Clone)]
pub struct FieldDef {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    /// The JSON schema's `type` and `items`.
    pub schema_type: &'static str,
    pub items: Option<&'static str>,
    /// `schema.system` for system fields, `schema.custom` for custom ones.
    pub type_key: &'static str,
    pub searchable: bool,
    pub orderable: bool,
}

impl FieldDef {
    pub fn custom(&self) -> bool {
        self.id.starts_with("customfield_")
    }

    /// The number in `customfield_NNNNN`.
    pub fn custom_id(&self) -> Option<u64> {
        self.id.strip_prefix("customfield_")?.parse().ok()
    }

    /// On the create and edit screens.
    pub fn settable(&self) -> bool {
        !matches!(self.kind, Kind::ReadOnly | Kind::Resolution)
    }

    /// The edit operations Jira lists in metadata.
    pub fn operations(&self) -> Vec<&'static str> {
        match self.kind {
            Kind::Labels | Kind::Components | Kind::Versions | Kind::MultiUser => {
                vec!["add", "set", "remove"]
            }
            _ => vec!["set"],
        }
    }

    /// `schema` as `JsonTypeBean`.
    pub fn schema(&self) -> Value {
        let mut s = json!({ "type": self.schema_type });
        if let Some(items) = self.items {
            s["items"] = json!(items);
        }
        match self.custom_id() {
            Some(n) => {
                s["custom"] = json!(self.type_key);
                s["customId"] = json!(n);
            }
            None => s["system"] = json!(self.type_key),
        }
        s
    }

    /// Names JQL accepts for it.
    pub fn clause_names(&self) -> Vec<String> {
        match self.custom_id() {
            Some(n) => vec![format!("cf[{n}]"), self.name.clone()],
            None => match self.id.as_str() {
                "issuetype" => vec!["issuetype".into(), "type".into()],
                "duedate" => vec!["duedate".into(), "due".into()],
                "components" => vec!["component".into()],
                "fixVersions" => vec!["fixVersion".into()],
                "resolutiondate" => vec!["resolutiondate".into(), "resolved".into()],
                "created" => vec!["created".into(), "createdDate".into()],
                "updated" => vec!["updated".into(), "updatedDate".into()],
                "comment" => vec!["comment".into()],
                "attachment" => vec!["attachments".into()],
                id => vec![id.to_owned()],
            },
        }
    }
}

fn field(
    id: &str,
    name: &str,
    kind: Kind,
    schema_type: &'static str,
    items: Option<&'static str>,
    type_key: &'static str,
) -> FieldDef {
    FieldDef {
        id: id.into(),
        name: name.into(),
        kind,
        schema_type,
        items,
        type_key,
        searchable: true,
        orderable: true,
    }
}

const CF: &str = "com.atlassian.jira.plugin.system.customfieldtypes:";

/// The custom field types, by their Jira type keys.
fn cf_type(short: &str) -> &'static str {
    match short {
        "select" => "com.atlassian.jira.plugin.system.customfieldtypes:select",
        "cascadingselect" => "com.atlassian.jira.plugin.system.customfieldtypes:cascadingselect",
        "float" => "com.atlassian.jira.plugin.system.customfieldtypes:float",
        "datepicker" => "com.atlassian.jira.plugin.system.customfieldtypes:datepicker",
        "userpicker" => "com.atlassian.jira.plugin.system.customfieldtypes:userpicker",
        "multiuserpicker" => "com.atlassian.jira.plugin.system.customfieldtypes:multiuserpicker",
        "textfield" => "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
        _ => "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
    }
}

/// The site's fields: system ones, then the custom ones.
pub fn catalogue() -> Vec<FieldDef> {
    debug_assert!(cf_type("select").starts_with(CF));
    let mut f = vec![
        field("summary", "Summary", Kind::Text, "string", None, "summary"),
        field(
            "description",
            "Description",
            Kind::Rich,
            "string",
            None,
            "description",
        ),
        field(
            "environment",
            "Environment",
            Kind::Rich,
            "string",
            None,
            "environment",
        ),
        field(
            "project",
            "Project",
            Kind::Project,
            "project",
            None,
            "project",
        ),
        field(
            "issuetype",
            "Issue Type",
            Kind::IssueType,
            "issuetype",
            None,
            "issuetype",
        ),
        field(
            "priority",
            "Priority",
            Kind::Priority,
            "priority",
            None,
            "priority",
        ),
        field(
            "labels",
            "Labels",
            Kind::Labels,
            "array",
            Some("string"),
            "labels",
        ),
        field("assignee", "Assignee", Kind::User, "user", None, "assignee"),
        field("reporter", "Reporter", Kind::User, "user", None, "reporter"),
        field("duedate", "Due date", Kind::Date, "date", None, "duedate"),
        field(
            "components",
            "Components",
            Kind::Components,
            "array",
            Some("component"),
            "components",
        ),
        field(
            "fixVersions",
            "Fix versions",
            Kind::Versions,
            "array",
            Some("version"),
            "fixVersions",
        ),
        field(
            "parent",
            "Parent",
            Kind::Parent,
            "issuelink",
            None,
            "parent",
        ),
        field(
            "resolution",
            "Resolution",
            Kind::Resolution,
            "resolution",
            None,
            "resolution",
        ),
        field("status", "Status", Kind::ReadOnly, "status", None, "status"),
        field(
            "created",
            "Created",
            Kind::ReadOnly,
            "datetime",
            None,
            "created",
        ),
        field(
            "updated",
            "Updated",
            Kind::ReadOnly,
            "datetime",
            None,
            "updated",
        ),
        field(
            "resolutiondate",
            "Resolved",
            Kind::ReadOnly,
            "datetime",
            None,
            "resolutiondate",
        ),
        field(
            "creator",
            "Creator",
            Kind::ReadOnly,
            "user",
            None,
            "creator",
        ),
        field(
            "subtasks",
            "Sub-tasks",
            Kind::ReadOnly,
            "array",
            Some("issuelinks"),
            "subtasks",
        ),
        field(
            "comment",
            "Comment",
            Kind::ReadOnly,
            "comments-page",
            None,
            "comment",
        ),
        field(
            "attachment",
            "Attachment",
            Kind::ReadOnly,
            "array",
            Some("attachment"),
            "attachment",
        ),
        field(
            "issuekey",
            "Key",
            Kind::ReadOnly,
            "string",
            None,
            "issuekey",
        ),
        field(
            "customfield_10010",
            "Severity",
            Kind::Select(vec![
                opt("10100", "Sev 1"),
                opt("10101", "Sev 2"),
                opt("10102", "Sev 3"),
            ]),
            "option",
            None,
            cf_type("select"),
        ),
        field(
            "customfield_10011",
            "Location",
            Kind::Cascading(vec![
                SelectOption {
                    id: "10200".into(),
                    value: "EMEA".into(),
                    children: vec![opt("10201", "Berlin"), opt("10202", "London")],
                },
                SelectOption {
                    id: "10210".into(),
                    value: "Americas".into(),
                    children: vec![opt("10211", "Austin"), opt("10212", "Toronto")],
                },
            ]),
            "option-with-child",
            None,
            cf_type("cascadingselect"),
        ),
        field(
            "customfield_10012",
            "Story Points",
            Kind::Number,
            "number",
            None,
            cf_type("float"),
        ),
        field(
            "customfield_10013",
            "Target date",
            Kind::Date,
            "date",
            None,
            cf_type("datepicker"),
        ),
        field(
            "customfield_10014",
            "Reviewer",
            Kind::User,
            "user",
            None,
            cf_type("userpicker"),
        ),
        field(
            "customfield_10015",
            "Watch team",
            Kind::MultiUser,
            "array",
            Some("user"),
            cf_type("multiuserpicker"),
        ),
        field(
            "customfield_10016",
            "Customer reference",
            Kind::Text,
            "string",
            None,
            cf_type("textfield"),
        ),
        field(
            "customfield_10017",
            "Root cause",
            Kind::Rich,
            "string",
            None,
            cf_type("textarea"),
        ),
    ];
    for d in &mut f {
        if matches!(
            d.id.as_str(),
            "subtasks" | "comment" | "attachment" | "issuekey"
        ) {
            d.orderable = false;
        }
        if d.id == "parent" || d.id == "project" || d.id == "issuetype" {
            d.orderable = d.id != "parent";
        }
    }
    f
}

/// Checks a date literal as Jira's date fields take it.
pub fn date(v: &Value) -> Result<String, String> {
    let s = v
        .as_str()
        .ok_or("Date value must be a string in the format yyyy-MM-dd.")?;
    jiff::civil::Date::strptime("%Y-%m-%d", s)
        .map(|d| d.to_string())
        .map_err(|_| format!("Error parsing date string: {s}"))
}

/// Finds a select option from `{"value": …}` or `{"id": …}`.
pub fn find_option<'a>(options: &'a [SelectOption], v: &Value) -> Option<&'a SelectOption> {
    let by_id = v.get("id").and_then(Value::as_str);
    let by_value = v.get("value").and_then(Value::as_str);
    options
        .iter()
        .find(|o| Some(o.id.as_str()) == by_id || Some(o.value.as_str()) == by_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_each_custom_kind_once_and_unique_ids() {
        let c = catalogue();
        let mut ids: Vec<&str> = c.iter().map(|f| f.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), c.len());
        for t in [
            "select",
            "cascadingselect",
            "float",
            "datepicker",
            "userpicker",
            "multiuserpicker",
        ] {
            assert_eq!(
                c.iter().filter(|f| f.type_key == cf_type(t)).count(),
                1,
                "{t}"
            );
        }
        let sev = c.iter().find(|f| f.name == "Severity").expect("Severity");
        assert_eq!(sev.schema()["customId"], 10010);
        assert_eq!(sev.clause_names(), ["cf[10010]", "Severity"]);
        assert!(
            !c.iter()
                .find(|f| f.id == "status")
                .expect("status")
                .settable()
        );
    }

    #[test]
    fn dates_and_options_are_checked() {
        assert_eq!(date(&json!("2025-02-28")), Ok("2025-02-28".into()));
        assert!(date(&json!("2025-02-30")).is_err());
        assert!(date(&json!(20250228)).is_err());
        let opts = vec![opt("1", "A"), opt("2", "B")];
        assert_eq!(
            find_option(&opts, &json!({"value": "B"})).map(|o| o.id.as_str()),
            Some("2")
        );
        assert_eq!(
            find_option(&opts, &json!({"id": "1"})).map(|o| o.value.as_str()),
            Some("A")
        );
        assert!(find_option(&opts, &json!({"value": "C"})).is_none());
    }
}
