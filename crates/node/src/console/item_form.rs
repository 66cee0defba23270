//! The item form: what the create and edit pages post, kept as typed text so a refused form
//! comes back exactly as it was typed, and its translation into domain values.

use serde::Deserialize;
use tandem_model::{CustomFields, Item, Person, Priority, Status};

/// The item form's fields, as text, so a refused form comes back exactly as it was typed.
#[derive(Deserialize, Default, Clone)]
pub struct ItemForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub assignee_name: String,
    #[serde(default)]
    pub assignee_email: String,
    #[serde(default)]
    pub reporter_name: String,
    #[serde(default)]
    pub reporter_email: String,
    /// Space- or comma-separated.
    #[serde(default)]
    pub labels: String,
    /// One `Name: value` per line.
    #[serde(default)]
    pub custom_fields: String,
    #[serde(default)]
    pub version: Option<i64>,
}

impl ItemForm {
    pub fn from_item(item: &Item) -> Self {
        let (assignee_name, assignee_email) = person_fields(&item.assignee);
        let (reporter_name, reporter_email) = person_fields(&item.reporter);
        ItemForm {
            csrf: String::new(),
            project: item.key.project.to_string(),
            summary: item.summary.clone(),
            description: item.description.clone(),
            status: item.status.to_string(),
            priority: item.priority.to_string(),
            assignee_name,
            assignee_email,
            reporter_name,
            reporter_email,
            labels: item.labels.join(" "),
            custom_fields: item
                .custom_fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", json_text(v)))
                .collect::<Vec<_>>()
                .join("\n"),
            version: Some(item.version),
        }
    }

    pub fn person(name: &str, email: &str) -> Option<Person> {
        let name = name.trim();
        let email = email.trim();
        if name.is_empty() && email.is_empty() {
            return None;
        }
        Some(Person {
            name: if name.is_empty() { email } else { name }.to_owned(),
            email: (!email.is_empty()).then(|| email.to_owned()),
        })
    }

    pub fn labels(&self) -> Vec<String> {
        let labels: Vec<String> = self
            .labels
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        tandem_model::normalize_labels(&labels)
    }

    /// `Name: value` lines; numbers stay numbers, the rest is text.
    pub fn custom_fields(&self) -> Result<CustomFields, String> {
        let mut fields = CustomFields::new();
        for (n, line) in self.custom_fields.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (name, value) = line.split_once(':').ok_or_else(|| {
                format!(
                    "custom fields, line {}: write 'Name: value' (found '{line}')",
                    n + 1
                )
            })?;
            let value = value.trim();
            let json = match value.parse::<serde_json::Number>() {
                Ok(num) => serde_json::Value::Number(num),
                Err(_) => serde_json::Value::String(value.to_owned()),
            };
            fields.insert(name.trim().to_owned(), json);
        }
        Ok(fields)
    }

    pub fn status(&self) -> Result<Status, String> {
        self.status
            .parse()
            .map_err(|e: tandem_model::ValidationError| e.to_string())
    }

    pub fn priority(&self) -> Result<Priority, String> {
        self.priority
            .parse()
            .map_err(|e: tandem_model::ValidationError| e.to_string())
    }
}

fn person_fields(p: &Option<Person>) -> (String, String) {
    p.as_ref().map_or_else(Default::default, |p| {
        (p.name.clone(), p.email.clone().unwrap_or_default())
    })
}

pub fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
