//! A row as ServiceNow sends it: every value a string (`"state": "2"`, `"active": "true"`),
//! reference fields as `{"link", "value"}` (or a bare sys_id with
//! `sysparm_exclude_reference_link`), and with display values `{"display_value", "value"}`
//! (tracker-apis.md §1.6). Date-times are UTC, `YYYY-MM-DD HH:MM:SS`.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};

/// One row of a table, kept exactly as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Record(Map<String, Value>);

impl Record {
    pub fn new(fields: Map<String, Value>) -> Self {
        Self(fields)
    }

    /// The raw value of a column: a string, or the `value` of a reference or display-value
    /// object. Empty for an absent column, as ServiceNow shows an empty field.
    pub fn str(&self, column: &str) -> &str {
        match self.0.get(column) {
            Some(Value::String(s)) => s,
            Some(Value::Object(o)) => o.get("value").and_then(Value::as_str).unwrap_or(""),
            _ => "",
        }
    }

    /// The display value of a column read with `sysparm_display_value=all`, else its value.
    pub fn display(&self, column: &str) -> &str {
        match self.0.get(column) {
            Some(Value::Object(o)) => o
                .get("display_value")
                .and_then(Value::as_str)
                .unwrap_or_else(|| self.str(column)),
            _ => self.str(column),
        }
    }

    pub fn get(&self, column: &str) -> Option<&Value> {
        self.0.get(column)
    }

    pub fn sys_id(&self) -> &str {
        self.str("sys_id")
    }

    /// `sys_mod_count`: how many times the row was updated; -1 when absent or unreadable.
    pub fn mod_count(&self) -> i64 {
        self.str("sys_mod_count").parse().unwrap_or(-1)
    }

    /// `sys_updated_on`, when present and well-formed.
    pub fn updated_on(&self) -> Option<Timestamp> {
        parse_time(self.str("sys_updated_on"))
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_fields(self) -> Map<String, Value> {
        self.0
    }
}

/// Reads ServiceNow's `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    let dt: DateTime = DateTime::strptime("%Y-%m-%d %H:%M:%S", s.trim()).ok()?;
    TimeZone::UTC.to_timestamp(dt).ok()
}

/// Writes a time as ServiceNow's `YYYY-MM-DD HH:MM:SS` (UTC), whole seconds.
pub fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_references_and_display_values_read_as_strings() {
        let Value::Object(m) = json!({
            "sys_id": "a1",
            "state": "2",
            "caller_id": {"link": "https://i/api/now/table/sys_user/u1", "value": "u1"},
            "urgency": {"display_value": "1 - High", "value": "1"},
            "sys_mod_count": "4",
            "sys_updated_on": "2025-08-01 10:11:12",
        }) else {
            unreachable!()
        };
        let r = Record::new(m);
        assert_eq!(r.sys_id(), "a1");
        assert_eq!(r.str("state"), "2");
        assert_eq!(r.str("caller_id"), "u1");
        assert_eq!(r.str("urgency"), "1");
        assert_eq!(r.display("urgency"), "1 - High");
        assert_eq!(r.display("state"), "2");
        assert_eq!(r.str("missing"), "");
        assert_eq!(r.mod_count(), 4);
        let t = r.updated_on().expect("time");
        assert_eq!(format_time(t), "2025-08-01 10:11:12");
    }

    #[test]
    fn malformed_times_are_none() {
        for s in ["", "2025-08-01", "yesterday", "2025-13-01 00:00:00"] {
            assert_eq!(parse_time(s), None, "{s}");
        }
    }
}
