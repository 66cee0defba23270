//! Comments and attachments. Adding, editing or removing one is a change to its item: it bumps
//! the item's version and `updated`, and writes a history row (field `comment` or `attachment`)
//! and an outbox event, all in the writer's transaction.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sha2::{Digest, Sha256};
use tandem_model::{
    Actor, Attachment, Comment, CommentOrigin, EventKind, FieldChange, ItemKey, NewAttachment,
    NewComment,
};

use super::items::{Event, item_ref, person_at, record, touch};
use super::{millis, opt_time_at, time_at};
use crate::{Result, StoreError};

/// The columns `comment_from_row` reads, in its order, for a `SELECT` (with a table alias and
/// its dot, or `""`).
pub(super) fn comment_columns(alias: &str) -> String {
    [
        "id",
        "author_name",
        "author_email",
        "body",
        "internal",
        "created",
        "edited",
        "synced_from",
        "origin_author_name",
        "origin_author_email",
    ]
    .iter()
    .map(|c| format!("{alias}{c}"))
    .collect::<Vec<_>>()
    .join(", ")
}

/// Reads `comment_columns()` from `start` on.
pub(super) fn comment_from_row(row: &Row<'_>, start: usize) -> rusqlite::Result<Comment> {
    let origin = row
        .get::<_, Option<String>>(start + 7)?
        .map(|synced_from| -> rusqlite::Result<CommentOrigin> {
            Ok(CommentOrigin {
                synced_from,
                author: person_at(row, start + 8)?,
            })
        })
        .transpose()?;
    Ok(Comment {
        id: row.get(start)?,
        author: person_at(row, start + 1)?.unwrap_or_default(),
        body: row.get(start + 3)?,
        internal: row.get(start + 4)?,
        created: time_at(row, start + 5)?,
        edited: opt_time_at(row, start + 6)?,
        origin,
    })
}

/// Reads `id, filename, mime_type, size, sha256, author_name, author_email, created` from
/// `start` on.
pub(super) fn attachment_from_row(row: &Row<'_>, start: usize) -> rusqlite::Result<Attachment> {
    Ok(Attachment {
        id: row.get(start)?,
        filename: row.get(start + 1)?,
        mime_type: row.get(start + 2)?,
        size: row.get(start + 3)?,
        sha256: row.get(start + 4)?,
        author: person_at(row, start + 5)?.unwrap_or_default(),
        created: time_at(row, start + 7)?,
    })
}

/// The next id of `table` (comments or attachments): never one handed out before, even when
/// the newest row was deleted — sync links name these ids (migration 0009).
fn next_id(conn: &Connection, table: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("UPDATE id_high SET last = last + 1 WHERE name = ?1 RETURNING last")?
        .query_row(params![table], |row| row.get(0))?)
}

pub(super) fn add_comment(
    conn: &Connection,
    key: &ItemKey,
    new: NewComment,
    actor: &Actor,
    now: Timestamp,
) -> Result<Comment> {
    let (item_id, _) = item_ref(conn, key)?;
    let id = next_id(conn, "comments")?;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO comments (id, item_id, author_name, author_email, body, internal, \
             created, synced_from, origin_author_name, origin_author_email) \
             VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6, ?8, ?9, ?10) RETURNING id",
        )?
        .query_row(
            params![
                item_id,
                new.author.name,
                new.author.email,
                new.body,
                new.internal,
                millis(now),
                id,
                new.origin.as_ref().map(|o| o.synced_from.as_str()),
                new.origin
                    .as_ref()
                    .and_then(|o| o.author.as_ref())
                    .map(|a| a.name.as_str()),
                new.origin
                    .as_ref()
                    .and_then(|o| o.author.as_ref())
                    .and_then(|a| a.email.as_deref()),
            ],
            |row| row.get(0),
        )?;
    let version = touch(conn, item_id, now)?;
    let change = FieldChange {
        field: "comment".into(),
        from: None,
        to: Some(new.body.clone()),
    };
    let event = Event {
        item_id,
        key,
        kind: EventKind::CommentAdded,
        actor,
        at: now,
        version,
    };
    record(conn, &event, &[change])?;
    Ok(Comment {
        id,
        author: new.author,
        body: new.body,
        internal: new.internal,
        created: now,
        edited: None,
        origin: new.origin,
    })
}

/// Replaces a comment's body. An edit to the same text changes nothing.
pub(super) fn edit_comment(
    conn: &Connection,
    key: &ItemKey,
    comment_id: i64,
    body: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<Comment> {
    let (item_id, _) = item_ref(conn, key)?;
    let mut comment = conn
        .prepare_cached(&format!(
            "SELECT {} FROM comments WHERE id = ?1 AND item_id = ?2",
            comment_columns("")
        ))?
        .query_row(params![comment_id, item_id], |row| comment_from_row(row, 0))
        .optional()?
        .ok_or_else(|| StoreError::not_found("comment", format!("{comment_id} on {key}")))?;
    if comment.body == body {
        return Ok(comment);
    }
    conn.prepare_cached("UPDATE comments SET body = ?2, edited = ?3 WHERE id = ?1")?
        .execute(params![comment_id, body, millis(now)])?;
    let version = touch(conn, item_id, now)?;
    let change = FieldChange {
        field: "comment".into(),
        from: Some(std::mem::replace(&mut comment.body, body.to_owned())),
        to: Some(body.to_owned()),
    };
    comment.edited = Some(now);
    let event = Event {
        item_id,
        key,
        kind: EventKind::CommentEdited,
        actor,
        at: now,
        version,
    };
    record(conn, &event, &[change])?;
    Ok(comment)
}

pub(super) fn delete_comment(
    conn: &Connection,
    key: &ItemKey,
    comment_id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<()> {
    let (item_id, _) = item_ref(conn, key)?;
    let body: String = conn
        .prepare_cached("SELECT body FROM comments WHERE id = ?1 AND item_id = ?2")?
        .query_row(params![comment_id, item_id], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::not_found("comment", format!("{comment_id} on {key}")))?;
    conn.prepare_cached("DELETE FROM comments WHERE id = ?1")?
        .execute(params![comment_id])?;
    let version = touch(conn, item_id, now)?;
    let change = FieldChange {
        field: "comment".into(),
        from: Some(body),
        to: None,
    };
    let event = Event {
        item_id,
        key,
        kind: EventKind::CommentDeleted,
        actor,
        at: now,
        version,
    };
    record(conn, &event, &[change])
}

/// Lower-case hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Stores an attachment whose SHA-256 (`sha256`) the caller computed off the writer thread.
pub(super) fn add_attachment(
    conn: &Connection,
    key: &ItemKey,
    new: NewAttachment,
    sha256: String,
    actor: &Actor,
    now: Timestamp,
) -> Result<Attachment> {
    let (item_id, _) = item_ref(conn, key)?;
    let size = i64::try_from(new.bytes.len()).expect("attachments are far smaller than 2^63 bytes");
    let id = next_id(conn, "attachments")?;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO attachments (id, item_id, filename, mime_type, size, sha256, \
             author_name, author_email, created) VALUES (?9, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             RETURNING id",
        )?
        .query_row(
            params![
                item_id,
                new.filename,
                new.mime_type,
                size,
                sha256,
                new.author.name,
                new.author.email,
                millis(now),
                id
            ],
            |row| row.get(0),
        )?;
    conn.prepare_cached("INSERT INTO attachment_bytes (attachment_id, bytes) VALUES (?1, ?2)")?
        .execute(params![id, new.bytes])?;
    let version = touch(conn, item_id, now)?;
    let change = FieldChange {
        field: "attachment".into(),
        from: None,
        to: Some(new.filename.clone()),
    };
    let event = Event {
        item_id,
        key,
        kind: EventKind::AttachmentAdded,
        actor,
        at: now,
        version,
    };
    record(conn, &event, &[change])?;
    Ok(Attachment {
        id,
        filename: new.filename,
        mime_type: new.mime_type,
        size,
        sha256,
        author: new.author,
        created: now,
    })
}

/// The attachment's metadata and bytes, if it belongs to the item with this key.
pub(super) fn attachment(
    conn: &Connection,
    key: &ItemKey,
    id: i64,
) -> Result<Option<(Attachment, Vec<u8>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT a.id, a.filename, a.mime_type, a.size, a.sha256, a.author_name, \
             a.author_email, a.created, b.bytes \
             FROM attachments a \
             JOIN items i ON i.id = a.item_id \
             JOIN attachment_bytes b ON b.attachment_id = a.id \
             WHERE a.id = ?1 AND i.project = ?2 AND i.number = ?3",
        )?
        .query_row(params![id, key.project.as_str(), key.number], |row| {
            Ok((attachment_from_row(row, 0)?, row.get(8)?))
        })
        .optional()?)
}

pub(super) fn remove_attachment(
    conn: &Connection,
    key: &ItemKey,
    id: i64,
    actor: &Actor,
    now: Timestamp,
) -> Result<()> {
    let (item_id, _) = item_ref(conn, key)?;
    let filename: String = conn
        .prepare_cached(
            "DELETE FROM attachments WHERE id = ?1 AND item_id = ?2 RETURNING filename",
        )?
        .query_row(params![id, item_id], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::not_found("attachment", format!("{id} on {key}")))?;
    let version = touch(conn, item_id, now)?;
    let change = FieldChange {
        field: "attachment".into(),
        from: Some(filename),
        to: None,
    };
    let event = Event {
        item_id,
        key,
        kind: EventKind::AttachmentRemoved,
        actor,
        at: now,
        version,
    };
    record(conn, &event, &[change])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
