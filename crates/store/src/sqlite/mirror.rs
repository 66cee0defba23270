//! Mirror links (migration `0006_mirror`): which store item, comment or attachment mirrors which
//! record, journal entry or attachment of an external tracker, and the mirrored writes that
//! create a store object and its link in the writer's one transaction.
//!
//! A link names its item by (project, number), as twins do, and must be of an item that exists
//! (a foreign key to `items`, checked first so that a missing item is `NotFound`). Deleting a
//! comment or attachment deletes the links to it (triggers of the migration), since SQLite may
//! hand its id out again; a link that names no comment or attachment all the same is stale, and
//! a mirrored write replaces it.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_model::{
    Actor, Attachment, Comment, Item, ItemKey, MirrorKind, MirrorLink, NewAttachment, NewComment,
    NewItem, ProjectKey,
};

use super::{comments, items};
use crate::{Result, StoreError};

const COLUMNS: &str = "tracker, kind, external_id, project, number, local_id";

/// An item's links are listed by kind in declaration order (record, comment, attachment), then
/// by local id.
const KIND_ORDER: &str = "CASE kind WHEN 'record' THEN 0 WHEN 'comment' THEN 1 \
     WHEN 'attachment' THEN 2 ELSE 3 END";

/// A link row as SQLite has it, before its values are checked.
struct Stored {
    tracker: String,
    kind: String,
    external_id: String,
    project: String,
    number: i64,
    local_id: i64,
}

impl Stored {
    /// Reads a row of [`COLUMNS`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Stored> {
        Ok(Stored {
            tracker: row.get(0)?,
            kind: row.get(1)?,
            external_id: row.get(2)?,
            project: row.get(3)?,
            number: row.get(4)?,
            local_id: row.get(5)?,
        })
    }

    fn into_link(self) -> Result<MirrorLink> {
        let damaged = |what: String| {
            StoreError::Database(format!(
                "the stored mirror link {} {} {} is damaged: {what}",
                self.tracker, self.kind, self.external_id
            ))
        };
        let kind = MirrorKind::parse(&self.kind)
            .ok_or_else(|| damaged(format!("unknown kind {:?}", self.kind)))?;
        let project: ProjectKey = self.project.parse().map_err(|e| {
            damaged(format!(
                "project {:?} is not a project key ({e})",
                self.project
            ))
        })?;
        Ok(MirrorLink {
            tracker: self.tracker,
            kind,
            external_id: self.external_id,
            item: ItemKey {
                project,
                number: self.number,
            },
            local_id: self.local_id,
        })
    }
}

pub(super) fn link(
    conn: &Connection,
    tracker: &str,
    kind: MirrorKind,
    external_id: &str,
) -> Result<Option<MirrorLink>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM mirror_links \
         WHERE tracker = ?1 AND kind = ?2 AND external_id = ?3"
    ))?
    .query_row(
        params![tracker, kind.as_str(), external_id],
        Stored::from_row,
    )
    .optional()?
    .map(Stored::into_link)
    .transpose()
}

/// The item's links on the tracker, served by the index `mirror_links_by_item`.
pub(super) fn links_of_item(
    conn: &Connection,
    tracker: &str,
    item: &ItemKey,
) -> Result<Vec<MirrorLink>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM mirror_links \
         WHERE project = ?1 AND number = ?2 AND tracker = ?3 \
         ORDER BY {KIND_ORDER}, local_id, external_id"
    ))?;
    let rows = stmt.query_map(
        params![item.project.as_str(), item.number, tracker],
        Stored::from_row,
    )?;
    rows.map(|row| row?.into_link()).collect()
}

pub(super) fn links_of_kind(
    conn: &Connection,
    tracker: &str,
    kind: MirrorKind,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<MirrorLink>> {
    // The primary key's order: a range scan.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM mirror_links \
         WHERE tracker = ?1 AND kind = ?2 AND external_id > ?3 \
         ORDER BY external_id LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![tracker, kind.as_str(), after.unwrap_or(""), limit],
        Stored::from_row,
    )?;
    rows.map(|row| row?.into_link()).collect()
}

/// Inserts the link, or replaces the one the tracker object had. `NotFound` for an unknown
/// item.
pub(super) fn set_link(conn: &Connection, link: &MirrorLink) -> Result<()> {
    items::item_ref(conn, &link.item)?;
    // An upsert, not a REPLACE: a record's snapshot stays with its link.
    conn.prepare_cached(&format!(
        "INSERT INTO mirror_links ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tracker, kind, external_id) DO UPDATE
         SET project = excluded.project, number = excluded.number, local_id = excluded.local_id"
    ))?
    .execute(params![
        link.tracker,
        link.kind.as_str(),
        link.external_id,
        link.item.project.as_str(),
        link.item.number,
        link.local_id,
    ])?;
    Ok(())
}

/// The snapshot of a record link, if the link exists and has one.
pub(super) fn snapshot(
    conn: &Connection,
    tracker: &str,
    external_id: &str,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT snapshot FROM mirror_links WHERE tracker = ?1 AND kind = 'record' AND external_id = ?2",
        )?
        .query_row(params![tracker, external_id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// Stores the snapshot of a record link; `NotFound` when the record has no link.
pub(super) fn set_snapshot(
    conn: &Connection,
    tracker: &str,
    external_id: &str,
    snapshot: &str,
) -> Result<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE mirror_links SET snapshot = ?3 WHERE tracker = ?1 AND kind = 'record' AND external_id = ?2",
        )?
        .execute(params![tracker, external_id, snapshot])?;
    if changed == 0 {
        return Err(StoreError::not_found(
            "mirrored record",
            format!("{tracker} {external_id}"),
        ));
    }
    Ok(())
}

/// Deletes the link if there is one.
pub(super) fn delete_link(
    conn: &Connection,
    tracker: &str,
    kind: MirrorKind,
    external_id: &str,
) -> Result<()> {
    conn.prepare_cached(
        "DELETE FROM mirror_links WHERE tracker = ?1 AND kind = ?2 AND external_id = ?3",
    )?
    .execute(params![tracker, kind.as_str(), external_id])?;
    Ok(())
}

/// Creates the item through `items::create_item` (numbering, history, the event with the
/// actor) and the record link of `(tracker, external_id)` to it, in the caller's one transaction. The writer runs one job at a
/// time, so the check for an existing link and the insert cannot interleave with another
/// create.
pub(super) fn create_mirrored_item(
    conn: &Connection,
    (tracker, external_id): (&str, &str),
    new: NewItem,
    actor: &Actor,
    now: Timestamp,
) -> Result<(Item, bool)> {
    if let Some(existing) = link(conn, tracker, MirrorKind::Record, external_id)? {
        // The foreign key keeps the item of a link.
        let (_, item) = items::load_item(conn, &existing.item)?.ok_or_else(|| {
            StoreError::Database(format!(
                "the stored mirror link {tracker} record {external_id} is damaged: its item {} \
                 does not exist",
                existing.item
            ))
        })?;
        return Ok((item, false));
    }
    let item = items::create_item(conn, new, actor, now)?;
    set_link(
        conn,
        &MirrorLink {
            tracker: tracker.to_owned(),
            kind: MirrorKind::Record,
            external_id: external_id.to_owned(),
            item: item.key.clone(),
            local_id: 0,
        },
    )?;
    Ok((item, true))
}

/// The live link of a comment or attachment: `Some` when the link exists and its object is
/// still there, which must be on `key` (`AlreadyExists` when it is of another item). A stale
/// link, whose object was deleted, is deleted and `None` returned, so that the caller adds the
/// object anew.
fn live_child<T>(
    conn: &Connection,
    tracker: &str,
    kind: MirrorKind,
    key: &ItemKey,
    external_id: &str,
    load: impl FnOnce(&Connection, &ItemKey, i64) -> Result<Option<T>>,
) -> Result<Option<T>> {
    let Some(existing) = link(conn, tracker, kind, external_id)? else {
        return Ok(None);
    };
    match load(conn, &existing.item, existing.local_id)? {
        Some(_) if existing.item != *key => Err(StoreError::AlreadyExists(format!(
            "{kind} {external_id} of {tracker} is already mirrored by {kind} {} of {}, not of \
             {key}",
            existing.local_id, existing.item
        ))),
        Some(found) => Ok(Some(found)),
        None => {
            delete_link(conn, tracker, kind, external_id)?;
            Ok(None)
        }
    }
}

/// The comment `id` of the item with this key.
fn comment(conn: &Connection, key: &ItemKey, id: i64) -> Result<Option<Comment>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {} FROM comments c JOIN items i ON i.id = c.item_id \
             WHERE c.id = ?1 AND i.project = ?2 AND i.number = ?3",
            comments::comment_columns("c.")
        ))?
        .query_row(params![id, key.project.as_str(), key.number], |row| {
            comments::comment_from_row(row, 0)
        })
        .optional()?)
}

/// The metadata of attachment `id` of the item with this key (its bytes are not read).
fn attachment(conn: &Connection, key: &ItemKey, id: i64) -> Result<Option<Attachment>> {
    Ok(conn
        .prepare_cached(
            "SELECT a.id, a.filename, a.mime_type, a.size, a.sha256, a.author_name, \
             a.author_email, a.created \
             FROM attachments a JOIN items i ON i.id = a.item_id \
             WHERE a.id = ?1 AND i.project = ?2 AND i.number = ?3",
        )?
        .query_row(params![id, key.project.as_str(), key.number], |row| {
            comments::attachment_from_row(row, 0)
        })
        .optional()?)
}

/// Adds the comment through `comments::add_comment` (history, the event with the actor) and its
/// comment link, in the caller's one transaction; when the journal entry is mirrored already,
/// returns that comment and `false`.
pub(super) fn add_mirrored_comment(
    conn: &Connection,
    (tracker, external_id): (&str, &str),
    key: &ItemKey,
    new: NewComment,
    actor: &Actor,
    now: Timestamp,
) -> Result<(Comment, bool)> {
    let kind = MirrorKind::Comment;
    if let Some(found) = live_child(conn, tracker, kind, key, external_id, comment)? {
        return Ok((found, false));
    }
    let added = comments::add_comment(conn, key, new, actor, now)?;
    link_child(conn, (tracker, external_id), kind, key, added.id)?;
    Ok((added, true))
}

/// Links a comment or attachment just added to the tracker object it mirrors.
fn link_child(
    conn: &Connection,
    (tracker, external_id): (&str, &str),
    kind: MirrorKind,
    key: &ItemKey,
    local_id: i64,
) -> Result<()> {
    set_link(
        conn,
        &MirrorLink {
            tracker: tracker.to_owned(),
            kind,
            external_id: external_id.to_owned(),
            item: key.clone(),
            local_id,
        },
    )
}

/// [`add_mirrored_comment`] for an attachment whose SHA-256 (`sha256`) the caller computed off
/// the writer thread.
pub(super) fn add_mirrored_attachment(
    conn: &Connection,
    (tracker, external_id): (&str, &str),
    key: &ItemKey,
    new: NewAttachment,
    sha256: String,
    actor: &Actor,
    now: Timestamp,
) -> Result<(Attachment, bool)> {
    let kind = MirrorKind::Attachment;
    if let Some(found) = live_child(conn, tracker, kind, key, external_id, attachment)? {
        return Ok((found, false));
    }
    let added = comments::add_attachment(conn, key, new, sha256, actor, now)?;
    link_child(conn, (tracker, external_id), kind, key, added.id)?;
    Ok((added, true))
}
