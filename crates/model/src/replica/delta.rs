//! What changed in a replica's comments and attachments since the previous one: the receiving
//! node computes these and scripts see them as `replica.addedComments`, `changedComments`,
//! `removedComments`, `addedAttachments` and `removedAttachments`.

use super::{Replica, ReplicaAttachment, ReplicaComment, ReplicaError};

/// Comments added, changed and removed between two replicas of one item, matched by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommentDelta {
    /// In the current replica and not the previous one, in the current replica's order.
    pub added: Vec<ReplicaComment>,
    /// In both, with a different body or internal flag; as the current replica has them.
    pub changed: Vec<ReplicaComment>,
    /// In the previous replica and not the current one, as the previous replica had them.
    pub removed: Vec<ReplicaComment>,
}

/// Attachments added and removed between two replicas of one item, matched by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttachmentDelta {
    /// In the current replica and not the previous one (or there with different bytes).
    pub added: Vec<ReplicaAttachment>,
    /// In the previous replica and not the current one (or replaced by different bytes).
    pub removed: Vec<ReplicaAttachment>,
}

/// The comment changes from `previous` (None on the first sync: every comment is added) to
/// `current`. An author or creation time that differs does not make a comment changed.
pub fn comment_delta(
    previous: Option<&Replica>,
    current: &Replica,
) -> Result<CommentDelta, ReplicaError> {
    let before = match previous {
        Some(previous) => previous.comments()?,
        None => Vec::new(),
    };
    let now = current.comments()?;
    let mut delta = CommentDelta::default();
    for comment in &now {
        match before.iter().find(|old| old.id == comment.id) {
            None => delta.added.push(comment.clone()),
            Some(old) if old.body != comment.body || old.internal != comment.internal => {
                delta.changed.push(comment.clone());
            }
            Some(_) => {}
        }
    }
    delta.removed = before
        .into_iter()
        .filter(|old| !now.iter().any(|c| c.id == old.id))
        .collect();
    Ok(delta)
}

/// The attachment changes from `previous` (None on the first sync: every attachment is
/// added) to `current`. The same id with a different hash counts as removed and added, since
/// the bytes must be fetched again. Malformed attachments are an error, as for comments.
pub fn attachment_delta(
    previous: Option<&Replica>,
    current: &Replica,
) -> Result<AttachmentDelta, ReplicaError> {
    let before = match previous {
        Some(previous) => previous.attachments()?,
        None => Vec::new(),
    };
    let now = current.attachments()?;
    let same = |a: &ReplicaAttachment, b: &ReplicaAttachment| a.id == b.id && a.hash == b.hash;
    Ok(AttachmentDelta {
        added: now
            .iter()
            .filter(|a| !before.iter().any(|old| same(old, a)))
            .cloned()
            .collect(),
        removed: before
            .iter()
            .filter(|old| !now.iter().any(|a| same(old, a)))
            .cloned()
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn replica(value: Value) -> Replica {
        Replica::from_json(value).unwrap()
    }

    fn ids<T>(entries: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
        entries.iter().map(|e| id(e).to_owned()).collect()
    }

    fn comment_ids(entries: &[ReplicaComment]) -> Vec<String> {
        ids(entries, |c| &c.id)
    }

    fn attachment_ids(entries: &[ReplicaAttachment]) -> Vec<String> {
        ids(entries, |a| &a.id)
    }

    fn hash(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    #[test]
    fn first_sync_adds_every_comment_in_order() {
        let current = replica(json!({"comments": [
            {"id": 2, "body": "b"}, {"id": 1, "body": "a"},
        ]}));
        let delta = comment_delta(None, &current).unwrap();
        assert_eq!(comment_ids(&delta.added), ["2", "1"]);
        assert!(delta.changed.is_empty() && delta.removed.is_empty());
    }

    #[test]
    fn comments_are_matched_by_id_and_compared_by_body_and_visibility() {
        let previous = replica(json!({"comments": [
            {"id": 1, "body": "same", "author": "Ann"},
            {"id": 2, "body": "old"},
            {"id": 3, "body": "public"},
            {"id": 4, "body": "gone"},
        ]}));
        let current = replica(json!({"comments": [
            {"id": 5, "body": "new"},
            {"id": "3", "body": "public", "internal": true},
            {"id": 2, "body": "edited"},
            {"id": 1, "body": "same", "author": "Someone else"},
        ]}));
        let delta = comment_delta(Some(&previous), &current).unwrap();
        assert_eq!(comment_ids(&delta.added), ["5"]);
        assert_eq!(comment_ids(&delta.changed), ["3", "2"]);
        assert_eq!(delta.changed[1].body, "edited");
        assert_eq!(comment_ids(&delta.removed), ["4"]);
        assert_eq!(delta.removed[0].body, "gone");
    }

    #[test]
    fn an_unchanged_replica_has_an_empty_delta() {
        let r = replica(json!({"comments": [{"id": 1, "body": "a"}],
            "attachments": [{"id": 1, "filename": "f", "hash": hash(1)}]}));
        assert_eq!(
            comment_delta(Some(&r), &r).unwrap(),
            CommentDelta::default()
        );
        assert_eq!(
            attachment_delta(Some(&r), &r).unwrap(),
            AttachmentDelta::default()
        );
    }

    #[test]
    fn a_malformed_previous_or_current_replica_is_an_error() {
        let bad = replica(json!({"comments": [{"id": 1}], "attachments": [{"id": 1}]}));
        let good = Replica::new();
        assert!(comment_delta(Some(&bad), &good).is_err());
        assert!(comment_delta(None, &bad).is_err());
        assert!(attachment_delta(Some(&bad), &good).is_err());
        assert!(attachment_delta(None, &bad).is_err());
    }

    #[test]
    fn attachments_are_added_and_removed_by_id() {
        let previous = replica(json!({"attachments": [
            {"id": 1, "filename": "kept", "hash": hash(1)},
            {"id": 2, "filename": "gone", "hash": hash(2)},
        ]}));
        let current = replica(json!({"attachments": [
            {"id": 3, "filename": "new", "hash": hash(3)},
            {"id": 1, "filename": "kept", "hash": hash(1)},
        ]}));
        let delta = attachment_delta(Some(&previous), &current).unwrap();
        assert_eq!(attachment_ids(&delta.added), ["3"]);
        assert_eq!(attachment_ids(&delta.removed), ["2"]);
        let first = attachment_delta(None, &current).unwrap();
        assert_eq!(attachment_ids(&first.added), ["3", "1"]);
    }

    #[test]
    fn new_bytes_under_the_same_attachment_id_are_removed_and_added() {
        let previous =
            replica(json!({"attachments": [{"id": 1, "filename": "f", "hash": hash(1)}]}));
        let current =
            replica(json!({"attachments": [{"id": 1, "filename": "f", "hash": hash(9)}]}));
        let delta = attachment_delta(Some(&previous), &current).unwrap();
        assert_eq!(delta.removed[0].hash, hash(1));
        assert_eq!(delta.added[0].hash, hash(9));
    }
}
