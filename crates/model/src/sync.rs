//! The pure rules of synchronisation: which fields a replica changed, how two concurrent edits
//! of one field are settled, and (in [`merge`]) how remote comments and attachments become
//! operations on the local item.
//!
//! Nothing here does I/O: the engine gathers replicas, twins and local state, asks these
//! functions what to do, and carries it out.

pub mod clock;
pub mod merge;

use serde_json::Value;

use crate::replica::{Replica, SYNC_KEY, same_value};

pub use clock::{Decision, FieldClock, FieldClocks, Precedence};

pub use merge::{
    AttachmentOp, AttachmentTwin, CommentOp, CommentSpec, CommentTwin, LocalAttachment,
    LocalComment, default_comment_format, merge_attachments, merge_comments,
};

/// One of the two ends of a connection, as seen from the node evaluating a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Local,
    Remote,
}

impl Side {
    /// The other end.
    pub fn opposite(self) -> Side {
        match self {
            Side::Local => Side::Remote,
            Side::Remote => Side::Local,
        }
    }
}

/// The top-level keys whose values differ between `previous` (None: nothing was sent, so every
/// key of `current` counts) and `current`, compared as [`Replica::same_content`] does and
/// ignoring [`SYNC_KEY`]: `current`'s keys in its order, then keys `current` no longer has.
///
/// A key set to `null` differs from a missing key, so the list is empty exactly when the two
/// replicas have the same content.
pub fn changed_fields(previous: Option<&Replica>, current: &Replica) -> Vec<String> {
    let Some(previous) = previous else {
        return current
            .as_map()
            .keys()
            .filter(|k| *k != SYNC_KEY)
            .cloned()
            .collect();
    };
    let changed = current
        .as_map()
        .iter()
        .filter(|(k, v)| *k != SYNC_KEY && previous.get(k).is_none_or(|old| !same_value(old, v)));
    let removed = previous
        .as_map()
        .iter()
        .filter(|(k, _)| *k != SYNC_KEY && current.get(k).is_none());
    changed.chain(removed).map(|(k, _)| k.clone()).collect()
}

/// Both sides changed one field to different values since they last agreed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The replica key, or `customFields.<name>` for one custom field.
    pub field: String,
    /// What this side's outgoing rules produce now (`null` when they no longer set it).
    pub local_value: Value,
    /// What the incoming replica says (`null` when it no longer sets it).
    pub remote_value: Value,
    /// Whose value both nodes keep: the greater field version ([`clock`]).
    pub kept: Side,
}

/// Keys that are not fields compared for conflicts: the engine's metadata, the item's own key
/// (different on each side by nature), and comments and attachments, which are merged entry by
/// entry rather than kept whole.
const NOT_CONFLICTING: [&str; 9] = [
    SYNC_KEY,
    "key",
    "comments",
    "attachments",
    "addedComments",
    "changedComments",
    "removedComments",
    "addedAttachments",
    "removedAttachments",
];

/// How one field of an incoming replica is settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// The replica key, or `customFields.<name>` for one custom field.
    pub field: String,
    /// Whose value the field ends with on both sides.
    pub kept: Side,
    /// Both sides hold the same version of the field: neither has a change for the other.
    pub same: bool,
    /// Both sides changed the field concurrently to different values: the value that lost.
    pub conflict: Option<Conflict>,
}

/// Settles every field of `incoming` (and every field the remote's clocks name, so a field the
/// remote cleared counts) against this side's item by the field versions of both sides.
///
/// `local_now` is what this side's outgoing rules produce from the local item now, after its
/// own changes were stamped in `local`. Fields only this side maps are left out: the incoming
/// rules cannot touch them. A conflict is reported when both sides changed the field without
/// seeing the other's change and their values differ (the same change on both sides is
/// agreement).
pub fn settle(
    local: &FieldClocks,
    remote: &FieldClocks,
    local_now: &Replica,
    incoming: &Replica,
    me: Precedence,
) -> Vec<Settled> {
    let ours = fields(local_now);
    let theirs = fields(incoming);
    let mut names: Vec<&str> = theirs.iter().map(|(n, _)| n.as_str()).collect();
    for (name, _) in remote.fields() {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let decision = local.decide(remote, name, me);
            let local_value = value(&ours, name);
            let remote_value = value(&theirs, name);
            let conflict =
                (decision.conflict && differs(local_value, remote_value)).then(|| Conflict {
                    field: name.to_owned(),
                    local_value: local_value.cloned().unwrap_or(Value::Null),
                    remote_value: remote_value.cloned().unwrap_or(Value::Null),
                    kept: decision.kept,
                });
            Settled {
                field: name.to_owned(),
                kept: decision.kept,
                same: decision.same,
                conflict,
            }
        })
        .collect()
}

/// The versioned fields whose values differ between `previous` (None: nothing was sent, so
/// every field of `current` counts) and `current`: `customFields` one by one, and a cleared
/// field counts as changed. These are what a local edit stamps.
pub fn changed_versioned_fields(previous: Option<&Replica>, current: &Replica) -> Vec<String> {
    let before = previous.map(fields).unwrap_or_default();
    let now = fields(current);
    let mut changed: Vec<String> = now
        .iter()
        .filter(|(name, v)| differs(value(&before, name), Some(v)))
        .map(|(name, _)| name.clone())
        .collect();
    changed.extend(
        before
            .iter()
            .filter(|(name, _)| value(&now, name).is_none())
            .map(|(name, _)| name.clone()),
    );
    changed
}

/// A replica's conflict-comparable fields, in order, with `customFields` split per field.
fn fields(replica: &Replica) -> Vec<(String, &Value)> {
    let mut fields = Vec::new();
    for (key, value) in replica.as_map() {
        if NOT_CONFLICTING.contains(&key.as_str()) || value.is_null() {
            continue;
        }
        match (key.as_str(), value) {
            ("customFields", Value::Object(custom)) => fields.extend(
                custom
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(name, v)| (format!("customFields.{name}"), v)),
            ),
            _ => fields.push((key.clone(), value)),
        }
    }
    fields
}

fn value<'a>(fields: &[(String, &'a Value)], name: &str) -> Option<&'a Value> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

fn differs(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => !same_value(a, b),
        (None, None) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn replica(value: Value) -> Replica {
        Replica::from_json(value).unwrap()
    }

    proptest! {
        #[test]
        fn changed_fields_is_empty_exactly_for_same_content(
            a in prop::collection::vec(("[a-d]", 0i64..3), 0..5),
            b in prop::collection::vec(("[a-d]", 0i64..3), 0..5),
        ) {
            let to_replica = |pairs: Vec<(String, i64)>| {
                Replica::from(pairs.into_iter().map(|(k, v)| (k, json!(v))).collect::<serde_json::Map<_, _>>())
            };
            let (a, b) = (to_replica(a), to_replica(b));
            prop_assert_eq!(changed_fields(Some(&a), &b).is_empty(), a.same_content(&b));
        }
    }

    #[test]
    fn changed_fields_lists_current_order_then_removed_keys() {
        let previous = replica(json!({"a": 1, "gone": 1, "b": [1], "same": {"x": 1}, "_sync": 1}));
        let current = replica(json!({"new": 1, "b": [2], "same": {"x": 1.0}, "a": 2, "_sync": 2}));
        assert_eq!(
            changed_fields(Some(&previous), &current),
            ["new", "b", "a", "gone"]
        );
        assert_eq!(changed_fields(None, &current), ["new", "b", "same", "a"]);
        assert!(changed_fields(Some(&current), &current).is_empty());
        let nulled = replica(json!({"a": null}));
        assert_eq!(changed_fields(Some(&Replica::new()), &nulled), ["a"]);
    }

    fn clocks(pairs: &[(&str, i64, i64)]) -> FieldClocks {
        FieldClocks::from_json(&Value::Object(
            pairs
                .iter()
                .map(|(f, v, s)| ((*f).to_owned(), json!([v, s])))
                .collect(),
        ))
        .unwrap()
    }

    #[test]
    fn a_concurrent_change_to_different_values_is_a_conflict_kept_by_version() {
        // This side (second in precedence) wrote 2, the remote (first) wrote 3; neither saw
        // the other's.
        let found = settle(
            &clocks(&[("summary", 2, 0), ("status", 2, 0)]),
            &clocks(&[("summary", 3, 0), ("status", 2, 0)]),
            &replica(json!({"summary": "mine", "status": "Open"})),
            &replica(json!({"summary": "theirs", "status": "Open"})),
            Precedence::Second,
        );
        assert_eq!(
            found[0],
            Settled {
                field: "summary".into(),
                kept: Side::Remote,
                same: false,
                conflict: Some(Conflict {
                    field: "summary".into(),
                    local_value: json!("mine"),
                    remote_value: json!("theirs"),
                    kept: Side::Remote,
                }),
            }
        );
        // The same stamp on both sides: one value, kept here.
        assert_eq!(found[1].kept, Side::Local);
        assert!(found[1].same);
        assert_eq!(found[1].conflict, None);
    }

    #[test]
    fn the_same_change_on_both_sides_is_agreement() {
        let found = settle(
            &clocks(&[("labels", 2, 0)]),
            &clocks(&[("labels", 3, 0)]),
            &replica(json!({"labels": ["a", "b"]})),
            &replica(json!({"labels": ["a", "b"]})),
            Precedence::Second,
        );
        assert_eq!(found[0].conflict, None);
    }

    #[test]
    fn a_field_the_remote_cleared_is_settled_and_one_only_this_side_maps_is_not() {
        let found = settle(
            &clocks(&[("description", 2, 0), ("urgency", 2, 0)]),
            &clocks(&[("description", 5, 2)]),
            &replica(json!({"description": "d", "urgency": 1})),
            &replica(json!({"description": null})),
            Precedence::Second,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field, "description");
        assert_eq!(found[0].kept, Side::Remote);
        // The remote had seen this side's 2: an edit after it, not a conflict.
        assert_eq!(found[0].conflict, None);
    }

    #[test]
    fn changed_versioned_fields_splits_custom_fields_and_counts_clearing() {
        let before = replica(
            json!({"summary": "a", "customFields": {"Team": "Ops", "Tier": 1}, "comments": [1]}),
        );
        let now = replica(
            json!({"summary": "a", "customFields": {"Team": "Dev"}, "comments": [2], "description": "x"}),
        );
        assert_eq!(
            changed_versioned_fields(Some(&before), &now),
            ["customFields.Team", "description", "customFields.Tier"]
        );
        assert_eq!(
            changed_versioned_fields(None, &replica(json!({"key": "A-1", "summary": "a"}))),
            ["summary"]
        );
    }
}
