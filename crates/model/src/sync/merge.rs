//! `commentHelper.mergeComments` and `attachmentHelper.mergeAttachments`: turning the remote's
//! comment and attachment deltas into operations on the local item.
//!
//! **Twins are recorded in both directions.** When this side adds a comment from the remote it
//! records `(new local id, remote id, origin Remote)`; when the remote acknowledges a comment
//! this side sent, this side records `(local id, the remote's new id, origin Local)`. So every
//! remote comment that is a copy of one of ours has its id among the twins, and the merge never
//! adds it back: that is the echo rule. The origin also says which comments the merge owns: it
//! edits and deletes only the copies it created (origin Remote), never a local original,
//! whatever the remote does to its copy. The same holds for attachments.
//!
//! The engine's side of the contract: record a twin as soon as an `Add` or `Link` is applied
//! (and before applying the next replica from that remote), and forget it once a `Delete` or
//! `Remove` is applied; then re-running a merge after a crash or retry changes nothing twice.

use super::Side;
use crate::replica::{AttachmentDelta, CommentDelta, ReplicaComment};

/// A comment on the local item, as the merge needs to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalComment {
    pub id: i64,
    pub body: String,
    pub internal: bool,
}

/// A local comment and its remote twin, and which side wrote the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentTwin {
    pub local_id: i64,
    pub remote_id: String,
    /// `Local`: this side's comment was sent and copied there; `Remote`: the merge created the
    /// local comment from the remote one.
    pub origin: Side,
}

/// How a remote comment should read locally: what a `mergeComments` closure decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentSpec {
    pub body: String,
    pub internal: bool,
}

/// One change the merge asks the engine to make to the local item's comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentOp {
    /// Create a comment, then record it as the twin of `remote_id` (origin Remote).
    Add {
        remote_id: String,
        body: String,
        internal: bool,
        /// Who the comment is written as: the remote author's name (display name, else
        /// email), or the local user the rules chose (`it.executor`).
        author: Option<String>,
        /// Who wrote the remote comment, as the replica named them: kept with the copy (its
        /// `CommentOrigin`) whoever it is written as.
        written_by: Option<crate::Person>,
    },
    /// Rewrite a comment the merge created.
    Edit {
        local_id: i64,
        body: String,
        internal: bool,
    },
    /// Delete a comment the merge created, then forget its twin.
    Delete { local_id: i64 },
}

/// `mergeComments` without a closure: `"<author> commented: <body>"`, or just the body when the
/// comment has no author name; the internal flag is copied.
pub fn default_comment_format(comment: &ReplicaComment) -> CommentSpec {
    let author = comment
        .author
        .as_ref()
        .and_then(|a| a.name())
        .filter(|name| !name.is_empty());
    CommentSpec {
        body: match author {
            Some(name) => format!("{name} commented: {}", comment.body),
            None => comment.body.clone(),
        },
        internal: comment.internal,
    }
}

/// The operations that bring the local comments in line with the remote's comment delta.
///
/// For each added or changed remote comment, in the delta's order:
/// - no twin: `format` it and `Add` it (a changed comment without a twin was never recorded,
///   e.g. it was skipped before, so it is added now);
/// - twinned with a local original (origin Local): nothing — this is our own comment coming
///   back (the echo rule) or the remote editing its copy, which never overwrites an original;
/// - twinned with a copy the merge created: `Edit` it when the formatted body or the internal
///   flag differs, so a retried add or a repeated change does nothing; if the copy has been
///   deleted here, nothing (a person removed it; it is not brought back).
///
/// Then for each removed remote comment twinned with a copy that still exists: `Delete`.
///
/// `format` returning None skips a comment. For a comment already copied here, that means the
/// rules no longer want it here (say it became internal and the closure drops internal ones),
/// so its copy is deleted rather than left behind.
pub fn merge_comments(
    local: &[LocalComment],
    twins: &[CommentTwin],
    delta: &CommentDelta,
    mut format: impl FnMut(&ReplicaComment) -> Option<CommentSpec>,
) -> Vec<CommentOp> {
    let twin_of = |remote_id: &str| twins.iter().find(|t| t.remote_id == remote_id);
    let copy_of = |twin: &CommentTwin| {
        (twin.origin == Side::Remote)
            .then(|| local.iter().find(|c| c.id == twin.local_id))
            .flatten()
    };
    let mut ops = Vec::new();
    for comment in delta.added.iter().chain(&delta.changed) {
        let Some(twin) = twin_of(&comment.id) else {
            if let Some(spec) = format(comment) {
                ops.push(CommentOp::Add {
                    remote_id: comment.id.clone(),
                    body: spec.body,
                    internal: spec.internal,
                    author: comment
                        .author
                        .as_ref()
                        .and_then(|a| a.name())
                        .map(str::to_owned),
                    written_by: comment.author.as_ref().and_then(|a| a.person()),
                });
            }
            continue;
        };
        let Some(copy) = copy_of(twin) else { continue };
        match format(comment) {
            Some(spec) if spec.body != copy.body || spec.internal != copy.internal => {
                ops.push(CommentOp::Edit {
                    local_id: copy.id,
                    body: spec.body,
                    internal: spec.internal,
                });
            }
            Some(_) => {}
            None => ops.push(CommentOp::Delete { local_id: copy.id }),
        }
    }
    for comment in &delta.removed {
        if let Some(copy) = twin_of(&comment.id).and_then(copy_of)
            && !ops.contains(&CommentOp::Delete { local_id: copy.id })
        {
            ops.push(CommentOp::Delete { local_id: copy.id });
        }
    }
    ops
}

/// An attachment on the local item, as the merge needs to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAttachment {
    pub id: i64,
    pub filename: String,
    /// Hex SHA-256 of the bytes (compared without regard to case).
    pub hash: String,
}

/// A local attachment and its remote twin, and which side holds the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentTwin {
    pub local_id: i64,
    pub remote_id: String,
    /// `Local`: this side's file was sent and copied there; `Remote`: the merge created (or
    /// linked) the local file from the remote one.
    pub origin: Side,
}

/// One change the merge asks the engine to make to the local item's attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentOp {
    /// Fetch the remote file, check its hash, attach it, then record the twin (origin Remote).
    Add {
        remote_id: String,
        filename: String,
        mimetype: String,
        hash: String,
    },
    /// The file is already here, untwinned (e.g. an add whose twin was never recorded): record
    /// the twin (origin Remote) instead of attaching it twice.
    Link { local_id: i64, remote_id: String },
    /// Remove an attachment the merge created, then forget its twin.
    Remove { local_id: i64 },
}

/// The operations that bring the local attachments in line with the remote's attachment
/// delta. Removals come first, so that a file replaced under the same remote id (which the
/// delta reports as removed and added) is removed before its new version is added.
///
/// - a removed remote attachment twinned with a copy that still exists: `Remove`;
/// - an added one without a twin: `Link` to an untwinned local attachment with the same
///   filename and hash if there is one, else `Add`;
/// - an added one twinned with a local original: nothing (the echo rule, as for comments);
/// - an added one twinned with an existing copy: nothing when the hash matches (a retry),
///   else `Remove` the old copy (if not already removed) and `Add` the new bytes;
/// - an added one whose copy was deleted here: nothing (it is not brought back).
pub fn merge_attachments(
    local: &[LocalAttachment],
    twins: &[AttachmentTwin],
    delta: &AttachmentDelta,
) -> Vec<AttachmentOp> {
    let twin_of = |remote_id: &str| twins.iter().find(|t| t.remote_id == remote_id);
    let copy_of = |twin: &AttachmentTwin| {
        (twin.origin == Side::Remote)
            .then(|| local.iter().find(|a| a.id == twin.local_id))
            .flatten()
    };
    let mut ops = Vec::new();
    let remove = |ops: &mut Vec<AttachmentOp>, local_id: i64| {
        if !ops.contains(&AttachmentOp::Remove { local_id }) {
            ops.push(AttachmentOp::Remove { local_id });
        }
    };
    for attachment in &delta.removed {
        if let Some(copy) = twin_of(&attachment.id).and_then(copy_of) {
            remove(&mut ops, copy.id);
        }
    }
    // Local attachments that already stand for some remote one (or just got linked to one).
    let mut taken: Vec<i64> = twins.iter().map(|t| t.local_id).collect();
    for attachment in &delta.added {
        let add = AttachmentOp::Add {
            remote_id: attachment.id.clone(),
            filename: attachment.filename.clone(),
            mimetype: attachment.mimetype.clone(),
            hash: attachment.hash.clone(),
        };
        match twin_of(&attachment.id) {
            None => {
                let same_file = local.iter().find(|a| {
                    !taken.contains(&a.id)
                        && a.filename == attachment.filename
                        && a.hash.eq_ignore_ascii_case(&attachment.hash)
                });
                match same_file {
                    Some(file) => {
                        taken.push(file.id);
                        ops.push(AttachmentOp::Link {
                            local_id: file.id,
                            remote_id: attachment.id.clone(),
                        });
                    }
                    None => ops.push(add),
                }
            }
            Some(twin) => {
                if let Some(copy) = copy_of(twin)
                    && !copy.hash.eq_ignore_ascii_case(&attachment.hash)
                {
                    remove(&mut ops, copy.id);
                    ops.push(add);
                }
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::{
        Replica, ReplicaAttachment, ReplicaUser, attachment_delta, comment_delta,
    };
    use serde_json::{Value, json};

    fn remote(id: &str, body: &str) -> ReplicaComment {
        ReplicaComment {
            id: id.into(),
            body: body.into(),
            author: Some(ReplicaUser {
                display_name: Some("Ann".into()),
                email: None,
            }),
            created: None,
            internal: false,
        }
    }

    fn mine(id: i64, body: &str) -> LocalComment {
        LocalComment {
            id,
            body: body.into(),
            internal: false,
        }
    }

    fn twin(local_id: i64, remote_id: &str, origin: Side) -> CommentTwin {
        CommentTwin {
            local_id,
            remote_id: remote_id.into(),
            origin,
        }
    }

    fn merge(
        local: &[LocalComment],
        twins: &[CommentTwin],
        delta: &CommentDelta,
    ) -> Vec<CommentOp> {
        merge_comments(local, twins, delta, |c| Some(default_comment_format(c)))
    }

    fn added(comments: Vec<ReplicaComment>) -> CommentDelta {
        CommentDelta {
            added: comments,
            ..CommentDelta::default()
        }
    }

    #[test]
    fn the_default_format_prefixes_the_author_name() {
        let mut comment = remote("1", "Printer is on fire");
        assert_eq!(
            default_comment_format(&comment).body,
            "Ann commented: Printer is on fire"
        );
        comment.author = Some(ReplicaUser {
            display_name: None,
            email: Some("ann@example.com".into()),
        });
        assert_eq!(
            default_comment_format(&comment).body,
            "ann@example.com commented: Printer is on fire"
        );
        comment.author = None;
        comment.internal = true;
        assert_eq!(
            default_comment_format(&comment),
            CommentSpec {
                body: "Printer is on fire".into(),
                internal: true
            }
        );
    }

    #[test]
    fn a_new_remote_comment_is_added_with_its_author() {
        let ops = merge(&[], &[], &added(vec![remote("r1", "hi")]));
        assert_eq!(
            ops,
            [CommentOp::Add {
                remote_id: "r1".into(),
                body: "Ann commented: hi".into(),
                internal: false,
                author: Some("Ann".into()),
                written_by: Some(crate::Person {
                    name: "Ann".into(),
                    email: None
                }),
            }]
        );
    }

    #[test]
    fn a_retried_add_adds_nothing_twice() {
        let local = [mine(5, "Ann commented: hi")];
        let twins = [twin(5, "r1", Side::Remote)];
        assert!(merge(&local, &twins, &added(vec![remote("r1", "hi")])).is_empty());
    }

    #[test]
    fn a_twinned_added_comment_that_reads_differently_is_edited() {
        let local = [mine(5, "hi")];
        let twins = [twin(5, "r1", Side::Remote)];
        let ops = merge(&local, &twins, &added(vec![remote("r1", "hi")]));
        assert_eq!(
            ops,
            [CommentOp::Edit {
                local_id: 5,
                body: "Ann commented: hi".into(),
                internal: false
            }]
        );
    }

    #[test]
    fn our_own_comment_coming_back_is_not_added_or_edited() {
        // Local comment 7 was sent; the remote's copy r9 comes back, reworded by its merge.
        let local = [mine(7, "hi")];
        let twins = [twin(7, "r9", Side::Local)];
        let copy = remote("r9", "Bob commented: hi");
        assert!(merge(&local, &twins, &added(vec![copy.clone()])).is_empty());
        let changed = CommentDelta {
            changed: vec![copy.clone()],
            ..CommentDelta::default()
        };
        assert!(merge(&local, &twins, &changed).is_empty());
        let removed = CommentDelta {
            removed: vec![copy],
            ..CommentDelta::default()
        };
        assert!(merge(&local, &twins, &removed).is_empty());
    }

    #[test]
    fn a_changed_remote_comment_edits_its_copy_or_is_added_when_untwinned() {
        let local = [mine(5, "Ann commented: old")];
        let twins = [twin(5, "r1", Side::Remote)];
        let delta = CommentDelta {
            changed: vec![remote("r1", "new"), remote("r2", "never twinned")],
            ..CommentDelta::default()
        };
        let ops = merge(&local, &twins, &delta);
        assert_eq!(ops.len(), 2);
        assert_eq!(
            ops[0],
            CommentOp::Edit {
                local_id: 5,
                body: "Ann commented: new".into(),
                internal: false
            }
        );
        assert!(matches!(&ops[1], CommentOp::Add { remote_id, .. } if remote_id == "r2"));
    }

    #[test]
    fn a_comment_turned_internal_edits_the_copy() {
        let local = [mine(5, "Ann commented: x")];
        let twins = [twin(5, "r1", Side::Remote)];
        let mut comment = remote("r1", "x");
        comment.internal = true;
        let delta = CommentDelta {
            changed: vec![comment],
            ..CommentDelta::default()
        };
        let ops = merge(&local, &twins, &delta);
        assert!(matches!(
            ops[..],
            [CommentOp::Edit {
                local_id: 5,
                internal: true,
                ..
            }]
        ));
    }

    #[test]
    fn a_copy_deleted_here_is_not_brought_back() {
        let twins = [twin(5, "r1", Side::Remote)];
        let delta = CommentDelta {
            added: vec![remote("r1", "a")],
            changed: vec![],
            removed: vec![remote("r1", "a")],
        };
        assert!(merge(&[], &twins, &delta).is_empty());
    }

    #[test]
    fn a_removed_remote_comment_deletes_its_copy_only() {
        let local = [mine(5, "copy"), mine(6, "unrelated")];
        let twins = [twin(5, "r1", Side::Remote)];
        let delta = CommentDelta {
            removed: vec![remote("r1", "x"), remote("r2", "never copied")],
            ..CommentDelta::default()
        };
        assert_eq!(
            merge(&local, &twins, &delta),
            [CommentOp::Delete { local_id: 5 }]
        );
    }

    #[test]
    fn a_closure_can_reword_or_skip_comments() {
        let delta = added(vec![remote("r1", "keep"), remote("r2", "secret")]);
        let ops = merge_comments(&[], &[], &delta, |c| {
            (c.body != "secret").then(|| CommentSpec {
                body: c.body.to_uppercase(),
                internal: true,
            })
        });
        assert!(
            matches!(&ops[..], [CommentOp::Add { body, internal: true, .. }] if body == "KEEP")
        );
    }

    #[test]
    fn a_copied_comment_the_rules_now_skip_is_deleted() {
        let local = [mine(5, "Ann commented: x")];
        let twins = [twin(5, "r1", Side::Remote)];
        let delta = CommentDelta {
            changed: vec![remote("r1", "x")],
            removed: vec![],
            added: vec![],
        };
        let ops = merge_comments(&local, &twins, &delta, |_| None);
        assert_eq!(ops, [CommentOp::Delete { local_id: 5 }]);
    }

    #[test]
    fn merging_the_computed_delta_twice_changes_nothing_the_second_time() {
        let previous = Replica::from_json(json!({"comments": [{"id": 1, "body": "a"}]})).unwrap();
        let current = Replica::from_json(json!({"comments": [
            {"id": 2, "body": "b", "author": {"displayName": "Ann"}},
        ]}))
        .unwrap();
        let delta = comment_delta(Some(&previous), &current).unwrap();
        let mut local = vec![mine(10, "a")];
        let mut twins = vec![twin(10, "1", Side::Remote)];
        let first = merge(&local, &twins, &delta);
        assert_eq!(first.len(), 2);
        // Apply as the engine would: add and record, delete and forget.
        for op in &first {
            match op {
                CommentOp::Add {
                    remote_id, body, ..
                } => {
                    local.push(mine(11, body));
                    twins.push(twin(11, remote_id, Side::Remote));
                }
                CommentOp::Delete { local_id } => {
                    local.retain(|c| c.id != *local_id);
                    twins.retain(|t| t.local_id != *local_id);
                }
                CommentOp::Edit { .. } => unreachable!("nothing was edited"),
            }
        }
        assert!(merge(&local, &twins, &delta).is_empty());
    }

    fn hash(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    fn file(id: &str, filename: &str, hash_of: u8) -> ReplicaAttachment {
        ReplicaAttachment {
            id: id.into(),
            filename: filename.into(),
            mimetype: "text/plain".into(),
            filesize: None,
            hash: hash(hash_of),
        }
    }

    fn local_file(id: i64, filename: &str, hash_of: u8) -> LocalAttachment {
        LocalAttachment {
            id,
            filename: filename.into(),
            hash: hash(hash_of),
        }
    }

    fn file_twin(local_id: i64, remote_id: &str, origin: Side) -> AttachmentTwin {
        AttachmentTwin {
            local_id,
            remote_id: remote_id.into(),
            origin,
        }
    }

    fn new_files(files: Vec<ReplicaAttachment>) -> AttachmentDelta {
        AttachmentDelta {
            added: files,
            removed: vec![],
        }
    }

    #[test]
    fn a_new_remote_attachment_is_added() {
        let ops = merge_attachments(&[], &[], &new_files(vec![file("r1", "a.txt", 1)]));
        assert_eq!(
            ops,
            [AttachmentOp::Add {
                remote_id: "r1".into(),
                filename: "a.txt".into(),
                mimetype: "text/plain".into(),
                hash: hash(1)
            }]
        );
    }

    #[test]
    fn the_same_file_already_here_is_linked_not_duplicated() {
        let mut local = vec![local_file(3, "a.txt", 1), local_file(4, "a.txt", 1)];
        local[1].hash = local[1].hash.to_uppercase();
        let twins = [file_twin(3, "r0", Side::Remote)];
        let delta = new_files(vec![
            file("r1", "a.txt", 1),
            file("r2", "a.txt", 1),
            file("r3", "b.txt", 1),
        ]);
        let ops = merge_attachments(&local, &twins, &delta);
        assert_eq!(ops.len(), 3);
        assert_eq!(
            ops[0],
            AttachmentOp::Link {
                local_id: 4,
                remote_id: "r1".into()
            }
        );
        // Local 4 is taken now, and r3 has another name: both are added.
        assert!(matches!(&ops[1], AttachmentOp::Add { remote_id, .. } if remote_id == "r2"));
        assert!(matches!(&ops[2], AttachmentOp::Add { remote_id, .. } if remote_id == "r3"));
    }

    #[test]
    fn a_retried_or_echoed_attachment_adds_nothing() {
        let local = [local_file(3, "copy", 1), local_file(4, "ours", 2)];
        let twins = [
            file_twin(3, "r1", Side::Remote),
            file_twin(4, "r2", Side::Local),
        ];
        let delta = new_files(vec![file("r1", "copy", 1), file("r2", "ours", 7)]);
        assert!(merge_attachments(&local, &twins, &delta).is_empty());
    }

    #[test]
    fn a_removed_remote_attachment_removes_its_copy_but_never_an_original() {
        let local = [local_file(3, "copy", 1), local_file(4, "ours", 2)];
        let twins = [
            file_twin(3, "r1", Side::Remote),
            file_twin(4, "r2", Side::Local),
        ];
        let delta = AttachmentDelta {
            added: vec![],
            removed: vec![
                file("r1", "copy", 1),
                file("r2", "ours", 2),
                file("r3", "x", 3),
            ],
        };
        assert_eq!(
            merge_attachments(&local, &twins, &delta),
            [AttachmentOp::Remove { local_id: 3 }]
        );
    }

    #[test]
    fn new_bytes_under_the_same_remote_id_replace_the_copy() {
        let local = [local_file(3, "f", 1)];
        let twins = [file_twin(3, "r1", Side::Remote)];
        let previous = Replica::from_json(attachments_json(&[("r1", 1)])).unwrap();
        let current = Replica::from_json(attachments_json(&[("r1", 2)])).unwrap();
        let delta = attachment_delta(Some(&previous), &current).unwrap();
        let ops = merge_attachments(&local, &twins, &delta);
        assert_eq!(ops[0], AttachmentOp::Remove { local_id: 3 });
        assert!(matches!(&ops[1..], [AttachmentOp::Add { hash: h, .. }] if *h == hash(2)));
        // Without the removal in the delta (e.g. a replayed add), the copy is still replaced once.
        let replay = merge_attachments(&local, &twins, &new_files(delta.added.clone()));
        assert_eq!(replay, ops);
    }

    fn attachments_json(files: &[(&str, u8)]) -> Value {
        let entries: Vec<Value> = files
            .iter()
            .map(|(id, h)| json!({"id": id, "filename": "f", "hash": hash(*h)}))
            .collect();
        json!({ "attachments": entries })
    }
}
