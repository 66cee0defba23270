//! The replica: the neutral JSON document one side's outgoing rules fill for one item and the
//! other side's incoming rules apply.
//!
//! Scripts may set any key, so a [`Replica`] stays a general JSON object; typed accessors read
//! the standard keys (`summary`, `status`, `comments`, …) leniently and report a malformed
//! entry as a [`ReplicaError`] that names the key and index. [`Replica::same_content`] is the
//! canonical comparison the engine uses to send nothing when nothing changed, and the
//! [`delta`] module computes what changed in comments and attachments since the previous
//! replica.

pub mod delta;

use jiff::Timestamp;
use serde_json::{Map, Number, Value};

pub use delta::{AttachmentDelta, CommentDelta, attachment_delta, comment_delta};

/// The reserved top-level key under which the engine keeps its own metadata; never compared.
pub const SYNC_KEY: &str = "_sync";

/// A replica entry that does not have the shape its key promises.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicaError {
    #[error(
        "a replica must be a JSON object, not {found}: the outgoing rules fill `replica.<field>`"
    )]
    NotAnObject { found: &'static str },
    #[error("{path} is missing: the outgoing rules must set it on every entry")]
    Missing { path: String },
    #[error("{path} is not {expected} (found {found}): fix the outgoing rules that fill it")]
    WrongType {
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{path} is not an RFC 3339 time ('{value}'): use a form like 2026-11-20T09:30:00Z")]
    BadTime { path: String, value: String },
    #[error("{path} is not a SHA-256 hash ('{value}'): expected 64 hexadecimal digits")]
    BadHash { path: String, value: String },
    #[error("{path} repeats the id '{id}' of an earlier entry: ids must be unique in a replica")]
    DuplicateId { path: String, id: String },
}

/// A person as a replica carries them: either part may be absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplicaUser {
    pub display_name: Option<String>,
    pub email: Option<String>,
}

impl ReplicaUser {
    /// The name to show: the display name, else the email.
    pub fn name(&self) -> Option<&str> {
        self.display_name.as_deref().or(self.email.as_deref())
    }

    /// The person, named by the display name, else the email; `None` when neither is known.
    pub fn person(&self) -> Option<crate::Person> {
        let name = self.name().filter(|n| !n.trim().is_empty())?;
        Some(crate::Person {
            name: name.to_owned(),
            email: self.email.clone().filter(|e| !e.trim().is_empty()),
        })
    }
}

/// One entry of `replica.comments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaComment {
    /// The comment's id on the sending side; a numeric id is kept as its decimal text.
    pub id: String,
    pub body: String,
    pub author: Option<ReplicaUser>,
    pub created: Option<Timestamp>,
    /// Visible to the team only; `false` when the replica does not say.
    pub internal: bool,
}

/// One entry of `replica.attachments` (metadata only; the bytes are fetched by hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaAttachment {
    /// The attachment's id on the sending side; a numeric id is kept as its decimal text.
    pub id: String,
    pub filename: String,
    /// `application/octet-stream` when the replica does not say.
    pub mimetype: String,
    pub filesize: Option<u64>,
    /// Lower-case hex SHA-256 of the bytes.
    pub hash: String,
}

/// The document one side sends for one item: a JSON object with standard and free keys.
///
/// `==` is strict JSON equality; [`Replica::same_content`] is the question "did anything
/// change?".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replica(Map<String, Value>);

impl From<Map<String, Value>> for Replica {
    fn from(map: Map<String, Value>) -> Self {
        Replica(map)
    }
}

impl Replica {
    /// An empty replica, as the outgoing rules receive it.
    pub fn new() -> Self {
        Replica::default()
    }

    /// Wraps a JSON value, which must be an object.
    pub fn from_json(value: Value) -> Result<Replica, ReplicaError> {
        match value {
            Value::Object(map) => Ok(Replica(map)),
            other => Err(ReplicaError::NotAnObject {
                found: kind(&other),
            }),
        }
    }

    /// The replica as a JSON object (keys in the order they were set).
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// The underlying object, without copying.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The value under a top-level key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Sets a top-level key, returning the value it replaces.
    pub fn set(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.0.insert(key.into(), value)
    }

    /// Removes a top-level key, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.shift_remove(key)
    }

    /// Whether two replicas say the same thing: equal as JSON ignoring object key order,
    /// comparing numbers by value (`1 == 1.0`) and ignoring the engine's [`SYNC_KEY`].
    pub fn same_content(&self, other: &Replica) -> bool {
        let mine = self.0.iter().filter(|(k, _)| *k != SYNC_KEY);
        let theirs = other.0.keys().filter(|k| *k != SYNC_KEY).count();
        mine.clone().count() == theirs
            && mine.into_iter().all(|(k, v)| match other.0.get(k) {
                Some(w) => same_value(v, w),
                None => false,
            })
    }

    /// `replica.key`: the item's key on the sending side (e.g. `OPS-12`).
    pub fn key(&self) -> Result<Option<&str>, ReplicaError> {
        self.text("key")
    }

    /// `replica.summary`.
    pub fn summary(&self) -> Result<Option<&str>, ReplicaError> {
        self.text("summary")
    }

    /// `replica.description`.
    pub fn description(&self) -> Result<Option<&str>, ReplicaError> {
        self.text("description")
    }

    /// `replica.status.name`; a bare string is accepted as the name.
    pub fn status(&self) -> Result<Option<&str>, ReplicaError> {
        self.named("status")
    }

    /// `replica.priority.name`; a bare string is accepted as the name.
    pub fn priority(&self) -> Result<Option<&str>, ReplicaError> {
        self.named("priority")
    }

    /// `replica.labels`; empty when absent or null.
    pub fn labels(&self) -> Result<Vec<&str>, ReplicaError> {
        list(&self.0, "labels")?
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.as_str()),
                other => Err(wrong(format!("labels[{i}]"), "a string", other)),
            })
            .collect()
    }

    /// `replica.assignee` (`{"displayName", "email"}`; a bare string is the display name).
    pub fn assignee(&self) -> Result<Option<ReplicaUser>, ReplicaError> {
        user("assignee", self.0.get("assignee"))
    }

    /// `replica.reporter` (`{"displayName", "email"}`; a bare string is the display name).
    pub fn reporter(&self) -> Result<Option<ReplicaUser>, ReplicaError> {
        user("reporter", self.0.get("reporter"))
    }

    /// `replica.customFields`: custom field name → any JSON value.
    pub fn custom_fields(&self) -> Result<Option<&Map<String, Value>>, ReplicaError> {
        match self.0.get("customFields") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(wrong("customFields".into(), "an object", other)),
        }
    }

    /// `replica.comments`, in the replica's order; empty when absent or null.
    pub fn comments(&self) -> Result<Vec<ReplicaComment>, ReplicaError> {
        let entries = list(&self.0, "comments")?;
        let mut comments = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let at = |field: &str| format!("comments[{i}].{field}");
            let fields = entry_object("comments", i, entry)?;
            let id = id(&at("id"), fields.get("id"))?;
            if comments.iter().any(|c: &ReplicaComment| c.id == id) {
                return Err(ReplicaError::DuplicateId { path: at("id"), id });
            }
            comments.push(ReplicaComment {
                id,
                body: required_text(&at("body"), fields.get("body"))?.to_owned(),
                author: user(&at("author"), fields.get("author"))?,
                created: time(&at("created"), fields.get("created"))?,
                internal: match fields.get("internal") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(other) => return Err(wrong(at("internal"), "true or false", other)),
                },
            });
        }
        Ok(comments)
    }

    /// `replica.attachments`, in the replica's order; empty when absent or null.
    pub fn attachments(&self) -> Result<Vec<ReplicaAttachment>, ReplicaError> {
        let entries = list(&self.0, "attachments")?;
        let mut attachments = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let at = |field: &str| format!("attachments[{i}].{field}");
            let fields = entry_object("attachments", i, entry)?;
            let id = id(&at("id"), fields.get("id"))?;
            if attachments.iter().any(|a: &ReplicaAttachment| a.id == id) {
                return Err(ReplicaError::DuplicateId { path: at("id"), id });
            }
            let hash = required_text(&at("hash"), fields.get("hash"))?;
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ReplicaError::BadHash {
                    path: at("hash"),
                    value: hash.to_owned(),
                });
            }
            attachments.push(ReplicaAttachment {
                id,
                filename: required_text(&at("filename"), fields.get("filename"))?.to_owned(),
                mimetype: optional_text(&at("mimetype"), fields.get("mimetype"))?
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
                filesize: match fields.get("filesize") {
                    None | Some(Value::Null) => None,
                    Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
                    Some(other) => {
                        return Err(wrong(at("filesize"), "a whole number of bytes", other));
                    }
                },
                hash: hash.to_ascii_lowercase(),
            });
        }
        Ok(attachments)
    }

    fn text(&self, key: &str) -> Result<Option<&str>, ReplicaError> {
        optional_text(key, self.0.get(key))
    }

    fn named(&self, key: &str) -> Result<Option<&str>, ReplicaError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Object(fields)) => {
                optional_text(&format!("{key}.name"), fields.get("name"))
            }
            Some(other) => Err(wrong(key.into(), "an object with a name", other)),
        }
    }
}

/// Whether two JSON values are equal ignoring object key order, numbers compared by value.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => same_number(x, y),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| same_value(x, y)))
        }
        _ => a == b,
    }
}

fn same_number(x: &Number, y: &Number) -> bool {
    if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
        return x == y;
    }
    // Past this point one side is a float, or the two are integers of opposite sign.
    (x.is_f64() || y.is_f64()) && x.as_f64() == y.as_f64()
}

/// The JSON kind of a value, as an error message names it.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong(path: String, expected: &'static str, found: &Value) -> ReplicaError {
    ReplicaError::WrongType {
        path,
        expected,
        found: kind(found),
    }
}

fn list<'a>(map: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], ReplicaError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(wrong(key.into(), "a list", other)),
    }
}

fn entry_object<'a>(
    key: &str,
    index: usize,
    entry: &'a Value,
) -> Result<&'a Map<String, Value>, ReplicaError> {
    match entry {
        Value::Object(fields) => Ok(fields),
        other => Err(wrong(format!("{key}[{index}]"), "an object", other)),
    }
}

fn optional_text<'a>(
    path: &str,
    value: Option<&'a Value>,
) -> Result<Option<&'a str>, ReplicaError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong(path.into(), "a string", other)),
    }
}

fn required_text<'a>(path: &str, value: Option<&'a Value>) -> Result<&'a str, ReplicaError> {
    optional_text(path, value)?.ok_or_else(|| ReplicaError::Missing { path: path.into() })
}

/// An entry id: a non-empty string, or an integer kept as its decimal text.
fn id(path: &str, value: Option<&Value>) -> Result<String, ReplicaError> {
    match value {
        None | Some(Value::Null) => Err(ReplicaError::Missing { path: path.into() }),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(other) => Err(wrong(
            path.into(),
            "a non-empty string or an integer",
            other,
        )),
    }
}

fn time(path: &str, value: Option<&Value>) -> Result<Option<Timestamp>, ReplicaError> {
    match optional_text(path, value)? {
        None => Ok(None),
        Some(text) => text
            .parse::<Timestamp>()
            .map(Some)
            .map_err(|_| ReplicaError::BadTime {
                path: path.into(),
                value: text.into(),
            }),
    }
}

fn user(path: &str, value: Option<&Value>) -> Result<Option<ReplicaUser>, ReplicaError> {
    let user = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(name)) => ReplicaUser {
            display_name: Some(name.clone()),
            email: None,
        },
        Some(Value::Object(fields)) => ReplicaUser {
            display_name: optional_text(&format!("{path}.displayName"), fields.get("displayName"))?
                .map(str::to_owned),
            email: optional_text(&format!("{path}.email"), fields.get("email"))?.map(str::to_owned),
        },
        Some(other) => return Err(wrong(path.into(), "an object with a displayName", other)),
    };
    Ok((user.display_name.is_some() || user.email.is_some()).then_some(user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn replica(value: Value) -> Replica {
        Replica::from_json(value).unwrap()
    }

    fn error_text(result: Result<impl std::fmt::Debug, ReplicaError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn only_an_object_is_a_replica() {
        assert_eq!(
            Replica::from_json(json!([1])),
            Err(ReplicaError::NotAnObject { found: "a list" })
        );
        let r = replica(json!({"summary": "s", "x": 1}));
        assert_eq!(r.to_json(), json!({"summary": "s", "x": 1}));
    }

    #[test]
    fn set_get_and_remove_keep_key_order() {
        let mut r = Replica::new();
        r.set("b", json!(1));
        r.set("a", json!(2));
        r.set("c", json!(3));
        assert_eq!(r.set("b", json!(4)), Some(json!(1)));
        assert_eq!(r.remove("a"), Some(json!(2)));
        assert_eq!(r.get("b"), Some(&json!(4)));
        let keys: Vec<_> = r.as_map().keys().collect();
        assert_eq!(keys, ["b", "c"]);
    }

    #[test]
    fn standard_scalar_keys_read_leniently() {
        let r = replica(json!({
            "key": "OPS-1", "summary": "Printer", "description": null,
            "status": {"name": "Done", "id": 3}, "priority": "High",
            "labels": ["a", "b"],
            "assignee": {"displayName": "Ann", "email": "ann@example.com"},
            "reporter": "Bob",
            "customFields": {"Tier": {"value": "Gold"}},
        }));
        assert_eq!(r.key().unwrap(), Some("OPS-1"));
        assert_eq!(r.summary().unwrap(), Some("Printer"));
        assert_eq!(r.description().unwrap(), None);
        assert_eq!(r.status().unwrap(), Some("Done"));
        assert_eq!(r.priority().unwrap(), Some("High"));
        assert_eq!(r.labels().unwrap(), ["a", "b"]);
        let ann = r.assignee().unwrap().unwrap();
        assert_eq!(ann.email.as_deref(), Some("ann@example.com"));
        assert_eq!(r.reporter().unwrap().unwrap().name(), Some("Bob"));
        assert_eq!(
            r.custom_fields().unwrap().unwrap()["Tier"],
            json!({"value": "Gold"})
        );
    }

    #[test]
    fn absent_standard_keys_read_as_nothing() {
        let r = Replica::new();
        assert_eq!(r.summary().unwrap(), None);
        assert_eq!(r.status().unwrap(), None);
        assert!(r.labels().unwrap().is_empty());
        assert_eq!(r.assignee().unwrap(), None);
        assert_eq!(r.custom_fields().unwrap(), None);
        assert!(r.comments().unwrap().is_empty());
        assert!(r.attachments().unwrap().is_empty());
        let empty_user = replica(json!({"assignee": {"displayName": null}}));
        assert_eq!(empty_user.assignee().unwrap(), None);
    }

    #[test]
    fn wrongly_typed_standard_keys_name_the_key() {
        let r = replica(json!({
            "summary": 3, "status": {"name": 1}, "priority": [1], "labels": ["a", 2],
            "assignee": {"email": false}, "customFields": [],
        }));
        assert_eq!(
            error_text(r.summary()),
            "summary is not a string (found a number): fix the outgoing rules that fill it"
        );
        assert!(error_text(r.status()).starts_with("status.name is not a string"));
        assert!(error_text(r.priority()).starts_with("priority is not an object with a name"));
        assert!(error_text(r.labels()).starts_with("labels[1] is not a string"));
        assert!(error_text(r.assignee()).starts_with("assignee.email is not a string"));
        assert!(error_text(r.custom_fields()).starts_with("customFields is not an object"));
    }

    #[test]
    fn comments_read_with_defaults_and_numeric_ids() {
        let r = replica(json!({"comments": [
            {"id": 7, "body": "hi", "author": {"displayName": "Ann"},
             "created": "2026-11-20T09:30:00Z", "internal": true},
            {"id": "c-8", "body": "", "extra": "kept in the JSON only"},
        ]}));
        let comments = r.comments().unwrap();
        assert_eq!(comments.len(), 2);
        assert_eq!(comments[0].id, "7");
        assert_eq!(comments[0].author.as_ref().unwrap().name(), Some("Ann"));
        assert_eq!(
            comments[0].created,
            Some("2026-11-20T09:30:00Z".parse().unwrap())
        );
        assert!(comments[0].internal);
        assert_eq!(comments[1].id, "c-8");
        assert_eq!(comments[1].author, None);
        assert_eq!(comments[1].created, None);
        assert!(!comments[1].internal);
    }

    #[test]
    fn malformed_comments_name_the_key_and_index() {
        let cases = [
            (json!("none"), "comments is not a list"),
            (json!([1]), "comments[0] is not an object"),
            (
                json!([{"id": 1, "body": "a"}, {"id": 2, "body": "b"}, {"id": 3, "body": 4}]),
                "comments[2].body is not a string",
            ),
            (json!([{"id": 1}]), "comments[0].body is missing"),
            (json!([{"body": "a"}]), "comments[0].id is missing"),
            (
                json!([{"id": 1.5, "body": "a"}]),
                "comments[0].id is not a non-empty string or an integer",
            ),
            (
                json!([{"id": 1, "body": "a", "created": "yesterday"}]),
                "comments[0].created is not an RFC 3339 time",
            ),
            (
                json!([{"id": 1, "body": "a", "internal": "yes"}]),
                "comments[0].internal is not true or false",
            ),
            (
                json!([{"id": 1, "body": "a"}, {"id": "1", "body": "b"}]),
                "comments[1].id repeats the id '1'",
            ),
        ];
        for (comments, expected) in cases {
            let message = error_text(replica(json!({ "comments": comments })).comments());
            assert!(message.starts_with(expected), "{message}");
        }
    }

    #[test]
    fn attachments_read_with_a_normalised_hash() {
        let hash = "AB".repeat(32);
        let r = replica(json!({"attachments": [
            {"id": 1, "filename": "a.png", "mimetype": "image/png", "filesize": 10, "hash": hash},
            {"id": "2", "filename": "b", "hash": "0".repeat(64)},
        ]}));
        let attachments = r.attachments().unwrap();
        assert_eq!(attachments[0].hash, "ab".repeat(32));
        assert_eq!(attachments[0].filesize, Some(10));
        assert_eq!(attachments[1].mimetype, "application/octet-stream");
        assert_eq!(attachments[1].filesize, None);
    }

    #[test]
    fn malformed_attachments_name_the_key_and_index() {
        let good = "0".repeat(64);
        let cases = [
            (
                json!([{"id": 1, "filename": "a", "hash": "abc"}]),
                "attachments[0].hash is not a SHA-256 hash ('abc')",
            ),
            (
                json!([{"id": 1, "hash": good}]),
                "attachments[0].filename is missing",
            ),
            (
                json!([{"id": 1, "filename": "a", "hash": good, "filesize": -1}]),
                "attachments[0].filesize is not a whole number of bytes",
            ),
            (
                json!([{"id": 1, "filename": "a", "hash": good, "mimetype": 1}]),
                "attachments[0].mimetype is not a string",
            ),
        ];
        for (attachments, expected) in cases {
            let message = error_text(replica(json!({ "attachments": attachments })).attachments());
            assert!(message.starts_with(expected), "{message}");
        }
    }

    #[test]
    fn same_content_ignores_key_order_sync_metadata_and_number_form() {
        let a = replica(json!({"summary": "s", "n": 1, "o": {"x": 1, "y": [1, 2.5]}, "_sync": 1}));
        let b = replica(json!({"o": {"y": [1.0, 2.5], "x": 1.0}, "n": 1.0, "summary": "s"}));
        assert!(a.same_content(&b));
        assert!(b.same_content(&a));
    }

    #[test]
    fn same_content_sees_real_differences() {
        let a = replica(json!({"summary": "s", "labels": ["a", "b"]}));
        for b in [
            json!({"summary": "s", "labels": ["b", "a"]}),
            json!({"summary": "s"}),
            json!({"summary": "s", "labels": ["a", "b"], "x": null}),
            json!({"summary": "S", "labels": ["a", "b"]}),
        ] {
            assert!(!a.same_content(&replica(b.clone())), "{b}");
        }
        // Only the top-level `_sync` is the engine's; a nested one is content.
        let nested = replica(json!({"o": {"_sync": 1}}));
        assert!(!nested.same_content(&replica(json!({"o": {}}))));
    }

    #[test]
    fn numbers_compare_by_value_without_losing_large_integers() {
        assert!(same_value(&json!(-3), &json!(-3.0)));
        assert!(!same_value(&json!(u64::MAX), &json!(-1)));
        assert!(!same_value(
            &json!(9_007_199_254_740_993_i64),
            &json!(9_007_199_254_740_992_i64)
        ));
        assert!(!same_value(&json!(1), &json!("1")));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-5i64..5).prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-d]", inner), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    /// The same value with every object's keys reversed and integers written as floats.
    fn reshuffled(value: &Value) -> Value {
        match value {
            Value::Number(n) => json!(n.as_f64().unwrap()),
            Value::Array(items) => Value::Array(items.iter().map(reshuffled).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .rev()
                    .map(|(k, v)| (k.clone(), reshuffled(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    proptest! {
        #[test]
        fn same_content_holds_across_key_order_and_number_form(
            fields in prop::collection::vec(("[a-e]", json_value()), 0..6)
        ) {
            let a = Replica::from(fields.into_iter().collect::<Map<_, _>>());
            let b = replica(reshuffled(&a.to_json()));
            prop_assert!(a.same_content(&b));
            prop_assert!(b.same_content(&a));
        }

        #[test]
        fn same_value_agrees_with_json_equality_for_integers(a in json_value(), b in json_value()) {
            prop_assert_eq!(same_value(&a, &b), a == b);
        }
    }
}
