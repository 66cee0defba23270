//! How a record is shown: raw values, display values or both (`sysparm_display_value`),
//! reference fields with or without `link` (`sysparm_exclude_reference_link`), and the field
//! selection (`sysparm_fields`). tracker-apis.md §1.4 and §1.6.

use serde_json::{Map, Value, json};

use super::journal;
use super::records::{Instance, Record, val};
use super::schema::{FieldDef, FieldType, TableDef};

/// `sysparm_display_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DisplayMode {
    /// `false` (default): raw database values.
    #[default]
    Raw,
    /// `true`: display values.
    Display,
    /// `all`: `{"display_value", "value"}` per field.
    All,
}

impl DisplayMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "false" | "" => Some(Self::Raw),
            "true" => Some(Self::Display),
            "all" => Some(Self::All),
            _ => None,
        }
    }
}

/// The rendering parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    pub mode: DisplayMode,
    pub exclude_reference_link: bool,
    /// `sysparm_fields`; `None` = every field.
    pub fields: Option<Vec<String>>,
    /// `http://host:port`, for reference links.
    pub base_url: String,
}

/// Renders one record as the JSON object the Table API returns.
pub fn render(instance: &Instance, def: &TableDef, record: &Record, opts: &RenderOptions) -> Value {
    let mut out = Map::new();
    let selected: Vec<&FieldDef> = match &opts.fields {
        Some(names) => names.iter().filter_map(|n| def.field(n)).collect(),
        None => def.fields.iter().collect(),
    };
    for field in selected {
        out.insert(
            field.name.to_owned(),
            render_field(instance, def, record, field, opts),
        );
    }
    Value::Object(out)
}

fn render_field(
    instance: &Instance,
    def: &TableDef,
    record: &Record,
    field: &FieldDef,
    opts: &RenderOptions,
) -> Value {
    let raw = val(record, field.name);
    if let FieldType::Reference(target) = field.ty {
        return render_reference(instance, target, raw, opts);
    }
    let display = || -> String {
        match field.ty {
            FieldType::Journal | FieldType::JournalList => {
                journal::display_text(instance, def.name, val(record, "sys_id"), field.name)
            }
            _ if !field.choices.is_empty() => field
                .choices
                .iter()
                .find(|(v, _)| *v == raw)
                .map_or_else(|| raw.to_owned(), |(_, label)| (*label).to_owned()),
            FieldType::Integer => group_thousands(raw),
            _ => raw.to_owned(),
        }
    };
    match opts.mode {
        DisplayMode::Raw => json!(raw),
        DisplayMode::Display => json!(display()),
        DisplayMode::All => json!({ "display_value": display(), "value": raw }),
    }
}

fn render_reference(instance: &Instance, target: &str, raw: &str, opts: &RenderOptions) -> Value {
    let link = format!("{}/api/now/table/{target}/{raw}", opts.base_url);
    let display = || {
        instance
            .table(target)
            .ok()
            .and_then(|t| {
                t.rows
                    .get(raw)
                    .map(|r| val(r, t.def.display_field).to_owned())
            })
            .unwrap_or_default()
    };
    if raw.is_empty() {
        return match opts.mode {
            DisplayMode::All => json!({ "display_value": "", "value": "" }),
            _ => json!(""),
        };
    }
    match (opts.mode, opts.exclude_reference_link) {
        (DisplayMode::Raw, true) => json!(raw),
        (DisplayMode::Raw, false) => json!({ "link": link, "value": raw }),
        (DisplayMode::Display, true) => json!(display()),
        (DisplayMode::Display, false) => json!({ "display_value": display(), "link": link }),
        (DisplayMode::All, true) => json!({ "display_value": display(), "value": raw }),
        (DisplayMode::All, false) => {
            json!({ "display_value": display(), "link": link, "value": raw })
        }
    }
}

/// `12345` → `12,345`, as ServiceNow displays integers; anything else unchanged.
fn group_thousands(raw: &str) -> String {
    let (sign, digits) = raw.strip_prefix('-').map_or(("", raw), |d| ("-", d));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return raw.to_owned();
    }
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{sign}{out}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_display_with_thousands_separators() {
        assert_eq!(group_thousands("1234567"), "1,234,567");
        assert_eq!(group_thousands("-1000"), "-1,000");
        assert_eq!(group_thousands("12"), "12");
        assert_eq!(group_thousands("x1"), "x1");
        assert_eq!(group_thousands(""), "");
    }
}
