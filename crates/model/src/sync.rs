//! The pure rules of synchronisation: which fields a replica changed, how two concurrent edits
//! of one field are settled, and (in [`merge`]) how remote comments and attachments become
//! operations on the local item.
//!
//! Nothing here does I/O: the engine gathers replicas, twins and local state, asks these
//! functions what to do, and carries it out.

pub mod merge;

use std::cmp::Ordering;

use serde_json::Value;

use crate::replica::{Replica, SYNC_KEY, same_value};

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

/// When and on which node an item was edited: what the conflict rule orders edits by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    pub at: jiff::Timestamp,
    pub node: uuid::Uuid,
}

/// Which of two concurrent edits of one field is kept: the later one; at the same instant, the
/// one from the node whose id is greater as bytes.
///
/// Both nodes evaluate the same pair with `local` and `remote` swapped, and the order is total,
/// so they always keep the same edit and converge. Two identical edits are one edit: `Local`.
pub fn winner(local: &Edit, remote: &Edit) -> Side {
    let rank = |edit: &Edit| (edit.at, *edit.node.as_bytes());
    match rank(local).cmp(&rank(remote)) {
        Ordering::Less => Side::Remote,
        Ordering::Equal | Ordering::Greater => Side::Local,
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
    /// Whose value both nodes keep, by [`winner`].
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

/// The fields where the incoming replica and this side's own edits collide.
///
/// - `base` is the last replica received from the remote for this twin: the remote's state
///   this side last agreed with (None before anything was received).
/// - `local_now` is what this side's outgoing rules produce from the local item now, and
///   `last_sent` the last replica this side sent (None before anything was sent).
/// - `incoming` is the replica being applied; `local_edit` and `remote_edit` date the local
///   item's latest change and the remote's.
///
/// A field conflicts when all three hold:
/// 1. the remote changed it: its value in `incoming` differs from `base`;
/// 2. this side changed it too: its value in `local_now` differs from `last_sent`;
/// 3. the two new values differ (both sides making the same change is agreement).
///
/// Fields are the top-level keys both sides' replicas carry (a key only one side maps cannot
/// collide), except those in `NOT_CONFLICTING`; `customFields` is split into one field
/// per custom field, `customFields.<name>`. Values compare whole (a list of labels is one
/// value) with [`same_value`], and a `null` counts as missing. Conflicts come in `incoming`'s
/// key order, then `base`'s. Every conflict names the side kept by [`winner`], which both
/// nodes compute alike; the engine applies or skips the field accordingly and records the
/// conflict. On the first sync, when the local item does not exist yet, there is nothing to
/// conflict with and the engine need not call this.
pub fn detect_conflicts(
    base: Option<&Replica>,
    local_now: &Replica,
    last_sent: Option<&Replica>,
    incoming: &Replica,
    local_edit: &Edit,
    remote_edit: &Edit,
) -> Vec<Conflict> {
    let base = base.map(fields).unwrap_or_default();
    let sent = last_sent.map(fields).unwrap_or_default();
    let ours = fields(local_now);
    let theirs = fields(incoming);

    let mut names: Vec<&str> = Vec::new();
    for (name, _) in theirs.iter().chain(&base) {
        let mapped_here = ours.iter().chain(&sent).any(|(n, _)| n == name);
        if mapped_here && !names.contains(&name.as_str()) {
            names.push(name);
        }
    }

    let kept = winner(local_edit, remote_edit);
    names
        .into_iter()
        .filter_map(|name| {
            let local_value = value(&ours, name);
            let remote_value = value(&theirs, name);
            let remote_changed = differs(value(&base, name), remote_value);
            let local_changed = differs(value(&sent, name), local_value);
            (remote_changed && local_changed && differs(local_value, remote_value)).then(|| {
                Conflict {
                    field: name.to_owned(),
                    local_value: local_value.cloned().unwrap_or(Value::Null),
                    remote_value: remote_value.cloned().unwrap_or(Value::Null),
                    kept,
                }
            })
        })
        .collect()
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
    use jiff::Timestamp;
    use proptest::prelude::*;
    use serde_json::json;
    use uuid::Uuid;

    fn replica(value: Value) -> Replica {
        Replica::from_json(value).unwrap()
    }

    fn edit(seconds: i64, node: u128) -> Edit {
        Edit {
            at: Timestamp::from_second(seconds).unwrap(),
            node: Uuid::from_u128(node),
        }
    }

    #[test]
    fn the_later_edit_wins() {
        assert_eq!(winner(&edit(10, 1), &edit(20, 2)), Side::Remote);
        assert_eq!(winner(&edit(20, 1), &edit(10, 2)), Side::Local);
    }

    #[test]
    fn at_the_same_instant_the_greater_node_id_wins() {
        assert_eq!(winner(&edit(10, 1), &edit(10, 2)), Side::Remote);
        assert_eq!(winner(&edit(10, 2), &edit(10, 1)), Side::Local);
        // Compared as bytes, i.e. big-endian: the first byte decides.
        assert_eq!(
            winner(&edit(10, 1 << 120), &edit(10, u128::from(u64::MAX))),
            Side::Local
        );
    }

    #[test]
    fn an_edit_against_itself_keeps_the_local_value() {
        assert_eq!(winner(&edit(10, 1), &edit(10, 1)), Side::Local);
    }

    proptest! {
        #[test]
        fn both_nodes_pick_the_same_edit(
            a in (0i64..4, 0u128..4), b in (0i64..4, 0u128..4)
        ) {
            let (a, b) = (edit(a.0, a.1), edit(b.0, b.1));
            prop_assume!(a != b);
            let here = winner(&a, &b);
            let there = winner(&b, &a);
            prop_assert_eq!(here == Side::Local, there == Side::Remote);
            prop_assert_eq!(there, here.opposite());
        }

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

    /// Runs the conflict rule with a local edit at t=20 on node 1 and a remote one at t=10
    /// on node 2, so that the local value is kept.
    fn conflicts(
        base: Value,
        local_now: Value,
        last_sent: Value,
        incoming: Value,
    ) -> Vec<Conflict> {
        detect_conflicts(
            Some(&replica(base)),
            &replica(local_now),
            Some(&replica(last_sent)),
            &replica(incoming),
            &edit(20, 1),
            &edit(10, 2),
        )
    }

    fn conflicting_fields(found: &[Conflict]) -> Vec<&str> {
        found.iter().map(|c| c.field.as_str()).collect()
    }

    #[test]
    fn both_sides_changing_a_field_differently_is_a_conflict() {
        let found = conflicts(
            json!({"summary": "A", "status": {"name": "To Do"}}),
            json!({"summary": "B", "status": {"name": "To Do"}}),
            json!({"summary": "A", "status": {"name": "To Do"}}),
            json!({"summary": "C", "status": {"name": "To Do"}}),
        );
        assert_eq!(
            found,
            [Conflict {
                field: "summary".into(),
                local_value: json!("B"),
                remote_value: json!("C"),
                kept: Side::Local,
            }]
        );
    }

    #[test]
    fn a_change_on_one_side_only_is_not_a_conflict() {
        let only_remote = conflicts(
            json!({"summary": "A"}),
            json!({"summary": "A"}),
            json!({"summary": "A"}),
            json!({"summary": "C"}),
        );
        let only_local = conflicts(
            json!({"summary": "A"}),
            json!({"summary": "B"}),
            json!({"summary": "A"}),
            json!({"summary": "A"}),
        );
        assert!(only_remote.is_empty() && only_local.is_empty());
    }

    #[test]
    fn both_sides_making_the_same_change_agree() {
        let found = conflicts(
            json!({"labels": ["a"]}),
            json!({"labels": ["a", "b"]}),
            json!({"labels": ["a"]}),
            json!({"labels": ["a", "b"]}),
        );
        assert!(found.is_empty());
    }

    #[test]
    fn lists_compare_whole_and_custom_fields_one_by_one() {
        let found = conflicts(
            json!({"labels": ["a"], "customFields": {"Tier": "Gold", "Team": "Ops", "Size": 1}}),
            json!({"labels": ["a", "b"], "customFields": {"Tier": "Silver", "Team": "Ops", "Size": 2}}),
            json!({"labels": ["a"], "customFields": {"Tier": "Gold", "Team": "Ops", "Size": 1}}),
            json!({"labels": ["a", "c"], "customFields": {"Tier": "Bronze", "Team": "Dev", "Size": 2.0}}),
        );
        assert_eq!(conflicting_fields(&found), ["labels", "customFields.Tier"]);
    }

    #[test]
    fn clearing_a_field_against_a_change_is_a_conflict() {
        let found = conflicts(
            json!({"description": "d"}),
            json!({"description": "mine"}),
            json!({"description": "d"}),
            json!({"description": null}),
        );
        assert_eq!(found[0].remote_value, Value::Null);
        assert_eq!(found[0].local_value, json!("mine"));
    }

    #[test]
    fn keys_only_one_side_maps_and_merged_lists_never_conflict() {
        let found = conflicts(
            json!({"key": "INC1", "comments": [], "urgency": 1}),
            json!({"key": "OPS-1", "comments": [{"id": 1, "body": "x"}], "_sync": 2}),
            json!({"key": "OPS-1", "comments": [], "_sync": 1}),
            json!({"key": "INC2", "comments": [{"id": 9, "body": "y"}], "urgency": 3}),
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn without_a_base_every_incoming_field_counts_as_changed() {
        // This side sent "A", then edited to "B"; the remote created its twin from "A" and
        // edited it to "C" before "B" arrived: its first replica conflicts with ours.
        let found = detect_conflicts(
            None,
            &replica(json!({"key": "OPS-1", "summary": "B", "priority": "Low"})),
            Some(&replica(
                json!({"key": "OPS-1", "summary": "A", "priority": "Low"}),
            )),
            &replica(json!({"key": "INC1", "summary": "C", "priority": "High"})),
            &edit(10, 1),
            &edit(20, 2),
        );
        assert_eq!(conflicting_fields(&found), ["summary"]);
        assert_eq!(found[0].kept, Side::Remote);
    }

    #[test]
    fn both_nodes_keep_the_same_value_for_a_conflict() {
        let (a, b) = (json!({"summary": "A"}), json!({"summary": "A"}));
        let (node_one, node_two) = (edit(30, 1), edit(30, 2));
        let on_one = detect_conflicts(
            Some(&replica(a.clone())),
            &replica(json!({"summary": "one"})),
            Some(&replica(b.clone())),
            &replica(json!({"summary": "two"})),
            &node_one,
            &node_two,
        );
        let on_two = detect_conflicts(
            Some(&replica(b)),
            &replica(json!({"summary": "two"})),
            Some(&replica(a)),
            &replica(json!({"summary": "one"})),
            &node_two,
            &node_one,
        );
        assert_eq!(on_one[0].kept, Side::Remote);
        assert_eq!(on_two[0].kept, Side::Local);
        // Both keep "two".
        assert_eq!(on_one[0].remote_value, on_two[0].local_value);
    }
}
