//! Projects and items: reading them (fully loaded, children in one query per table), creating
//! and updating them, and the history rows and outbox events every change writes.

use std::collections::HashMap;
use std::str::FromStr;

use jiff::Timestamp;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_model::query::Query;
use tandem_model::{
    Actor, Attachment, Change, CustomFields, EventKind, FieldChange, Item, ItemKey, ItemPatch,
    ItemType, NewItem, NewProject, Person, Priority, Project, ProjectKey, Status, TrackerEvent,
    normalize_labels,
};

use super::{bad_column, is_unique_violation, millis, query, time_at};
use crate::{MAX_PAGE, Page, Result, SearchResult, StoreError};

// --- projects -------------------------------------------------------------------------------

pub(super) fn create_project(
    conn: &Connection,
    new: &NewProject,
    now: Timestamp,
) -> Result<Project> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO projects (key, name, description, created, item_count) \
             VALUES (?1, ?2, ?3, ?4, 0)",
        )?
        .execute(params![
            new.key.as_str(),
            new.name,
            new.description,
            millis(now)
        ]);
    match inserted {
        Ok(_) => Ok(Project {
            key: new.key.clone(),
            name: new.name.clone(),
            description: new.description.clone(),
            created: now,
            item_count: 0,
        }),
        Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists(format!(
            "project {} already exists",
            new.key
        ))),
        Err(e) => Err(e.into()),
    }
}

const PROJECT_COLUMNS: &str = "key, name, description, created, item_count";

fn project_from_row(row: &Row<'_>) -> rusqlite::Result<Project> {
    let key: String = row.get(0)?;
    Ok(Project {
        key: ProjectKey::from_str(&key).map_err(|e| bad_column(0, Type::Text, e))?,
        name: row.get(1)?,
        description: row.get(2)?,
        created: time_at(row, 3)?,
        item_count: row.get(4)?,
    })
}

pub(super) fn projects(conn: &Connection) -> Result<Vec<Project>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY key"
    ))?;
    let rows = stmt.query_map([], project_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn project(conn: &Connection, key: &ProjectKey) -> Result<Option<Project>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects WHERE key = ?1"
    ))?;
    Ok(stmt
        .query_row([key.as_str()], project_from_row)
        .optional()?)
}

// --- reading items --------------------------------------------------------------------------

/// The columns [`item_from_row`] reads, over `items i`.
pub(super) const ITEM_COLUMNS: &str = "i.id, i.project, i.number, i.summary, i.description, \
     i.status, i.priority, i.assignee_name, i.assignee_email, i.reporter_name, i.reporter_email, \
     i.labels, i.custom_fields, i.created, i.updated, i.version, i.item_type, i.parent";

/// Priority as stored: an urgency rank, 5 for Highest down to 1 for Lowest.
pub(super) fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Highest => 5,
        Priority::High => 4,
        Priority::Medium => 3,
        Priority::Low => 2,
        Priority::Lowest => 1,
    }
}

fn priority_from_rank(rank: i64) -> Option<Priority> {
    Priority::ALL
        .iter()
        .copied()
        .find(|p| priority_rank(*p) == rank)
}

/// A person from a name column and an email column; no name means no person.
pub(super) fn person_at(row: &Row<'_>, name: usize) -> rusqlite::Result<Option<Person>> {
    let Some(name_value) = row.get::<_, Option<String>>(name)? else {
        return Ok(None);
    };
    Ok(Some(Person {
        name: name_value,
        email: row.get(name + 1)?,
    }))
}

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<(i64, Item)> {
    let project: String = row.get(1)?;
    let status: String = row.get(5)?;
    let rank: i64 = row.get(6)?;
    let labels: String = row.get(11)?;
    let fields: String = row.get(12)?;
    let item_type: String = row.get(16)?;
    let parent: Option<String> = row.get(17)?;
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&fields).map_err(|e| bad_column(12, Type::Text, e))?;
    let item = Item {
        key: ItemKey {
            project: ProjectKey::from_str(&project).map_err(|e| bad_column(1, Type::Text, e))?,
            number: row.get(2)?,
        },
        summary: row.get(3)?,
        description: row.get(4)?,
        status: Status::from_str(&status).map_err(|e| bad_column(5, Type::Text, e))?,
        priority: priority_from_rank(rank)
            .ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(6, rank))?,
        assignee: person_at(row, 7)?,
        reporter: person_at(row, 9)?,
        labels: serde_json::from_str(&labels).map_err(|e| bad_column(11, Type::Text, e))?,
        custom_fields: fields.into_iter().collect(),
        item_type: ItemType::from_str(&item_type).map_err(|e| bad_column(16, Type::Text, e))?,
        parent: parent
            .as_deref()
            .map(ItemKey::from_str)
            .transpose()
            .map_err(|e| bad_column(17, Type::Text, e))?,
        comments: Vec::new(),
        attachments: Vec::new(),
        created: time_at(row, 13)?,
        updated: time_at(row, 14)?,
        version: row.get(15)?,
    };
    Ok((row.get(0)?, item))
}

/// Fills in the comments and attachment metadata of `items`, one query per child table.
fn load_children(conn: &Connection, items: &mut [(i64, Item)]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let index: HashMap<i64, usize> = items
        .iter()
        .enumerate()
        .map(|(at, (id, _))| (*id, at))
        .collect();
    let ids =
        serde_json::Value::from(items.iter().map(|(id, _)| *id).collect::<Vec<_>>()).to_string();

    let mut stmt = conn.prepare_cached(&format!(
        "SELECT item_id, {} FROM comments WHERE item_id IN (SELECT value FROM json_each(?1)) \
         ORDER BY item_id, id",
        super::comments::comment_columns("")
    ))?;
    let mut rows = stmt.query([&ids])?;
    while let Some(row) = rows.next()? {
        let item_id: i64 = row.get(0)?;
        let comment = super::comments::comment_from_row(row, 1)?;
        if let Some(&at) = index.get(&item_id) {
            items[at].1.comments.push(comment);
        }
    }

    let mut stmt = conn.prepare_cached(
        "SELECT item_id, id, filename, mime_type, size, sha256, author_name, author_email, created \
         FROM attachments WHERE item_id IN (SELECT value FROM json_each(?1)) ORDER BY item_id, id",
    )?;
    let mut rows = stmt.query([&ids])?;
    while let Some(row) = rows.next()? {
        let item_id: i64 = row.get(0)?;
        let attachment: Attachment = super::comments::attachment_from_row(row, 1)?;
        if let Some(&at) = index.get(&item_id) {
            items[at].1.attachments.push(attachment);
        }
    }
    Ok(())
}

/// The item with this key and its row id, fully loaded.
pub(super) fn load_item(conn: &Connection, key: &ItemKey) -> Result<Option<(i64, Item)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ITEM_COLUMNS} FROM items i WHERE i.project = ?1 AND i.number = ?2"
    ))?;
    let Some(found) = stmt
        .query_row(params![key.project.as_str(), key.number], item_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let mut one = [found];
    load_children(conn, &mut one)?;
    let [found] = one;
    Ok(Some(found))
}

/// The row id and version of the item with this key; `NotFound` when there is none.
pub(super) fn item_ref(conn: &Connection, key: &ItemKey) -> Result<(i64, i64)> {
    conn.prepare_cached("SELECT id, version FROM items WHERE project = ?1 AND number = ?2")?
        .query_row(params![key.project.as_str(), key.number], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::not_found("item", key))
}

pub(super) fn search(
    conn: &mut Connection,
    query: &Query,
    page: Page,
    now: Timestamp,
) -> Result<SearchResult> {
    let compiled = query::compile(query, now);
    // One read transaction, so that the count and the page agree.
    let tx = conn.transaction()?;
    let total: i64 = tx
        .prepare_cached(&format!(
            "SELECT count(*) FROM items i WHERE {}",
            compiled.filter
        ))?
        .query_row(rusqlite::params_from_iter(&compiled.filter_params), |row| {
            row.get(0)
        })?;
    let limit = page.limit.min(MAX_PAGE);
    let mut items = if limit == 0 || total <= i64::from(page.offset) {
        Vec::new()
    } else {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items i WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
            compiled.filter, compiled.order
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let paging = [
            rusqlite::types::Value::Integer(limit.into()),
            rusqlite::types::Value::Integer(page.offset.into()),
        ];
        let params = compiled
            .filter_params
            .iter()
            .chain(&compiled.order_params)
            .chain(&paging);
        let rows = stmt.query_map(rusqlite::params_from_iter(params), item_from_row)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    load_children(&tx, &mut items)?;
    Ok(SearchResult {
        items: items.into_iter().map(|(_, item)| item).collect(),
        total: u64::try_from(total).unwrap_or(0),
    })
}

// --- writing items --------------------------------------------------------------------------

fn labels_json(labels: &[String]) -> String {
    serde_json::to_string(labels).expect("a list of strings always serializes")
}

fn fields_json(fields: &CustomFields) -> String {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn name_of(p: &Option<Person>) -> Option<&str> {
    p.as_ref().map(|p| p.name.as_str())
}

fn email_of(p: &Option<Person>) -> Option<&str> {
    p.as_ref().and_then(|p| p.email.as_deref())
}

/// One change to an item, as the outbox records it.
#[derive(Clone, Copy)]
pub(super) struct Event<'a> {
    pub item_id: i64,
    pub key: &'a ItemKey,
    pub kind: EventKind,
    pub actor: &'a Actor,
    pub at: Timestamp,
    /// The item's version after the change.
    pub version: i64,
}

/// Writes the history rows and the outbox event of one change to an item.
pub(super) fn record(conn: &Connection, event: &Event<'_>, changes: &[FieldChange]) -> Result<()> {
    let Event {
        item_id,
        key,
        kind,
        actor,
        at,
        version,
    } = *event;
    if !changes.is_empty() {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO history (item_id, at, actor, field, from_value, to_value) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for change in changes {
            stmt.execute(params![
                item_id,
                millis(at),
                actor.name,
                change.field,
                change.from,
                change.to
            ])?;
        }
    }
    conn.prepare_cached(
        "INSERT INTO events (item_id, project, number, kind, at, actor, via_sync, version) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        item_id,
        key.project.as_str(),
        key.number,
        kind.as_str(),
        millis(at),
        actor.name,
        actor.via_sync,
        version
    ])?;
    Ok(())
}

/// Bumps the item's version and `updated` for a change to one of its children; returns the
/// new version.
pub(super) fn touch(conn: &Connection, item_id: i64, at: Timestamp) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "UPDATE items SET version = version + 1, updated = ?2 WHERE id = ?1 RETURNING version",
        )?
        .query_row(params![item_id, millis(at)], |row| row.get(0))?)
}

pub(super) fn create_item(
    conn: &Connection,
    new: NewItem,
    actor: &Actor,
    now: Timestamp,
) -> Result<Item> {
    let number: i64 = conn
        .prepare_cached(
            "UPDATE projects SET item_count = item_count + 1 WHERE key = ?1 RETURNING item_count",
        )?
        .query_row([new.project.as_str()], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::not_found("project", &new.project))?;
    let labels = normalize_labels(&new.labels);
    conn.prepare_cached(
        "INSERT INTO items (project, number, summary, description, status, priority, \
         assignee_name, assignee_email, reporter_name, reporter_email, labels, custom_fields, \
         created, updated, version, item_type, parent) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, 1, ?14, ?15)",
    )?
    .execute(params![
        new.project.as_str(),
        number,
        new.summary,
        new.description,
        new.status.as_str(),
        priority_rank(new.priority),
        name_of(&new.assignee),
        email_of(&new.assignee),
        name_of(&new.reporter),
        email_of(&new.reporter),
        labels_json(&labels),
        fields_json(&new.custom_fields),
        millis(now),
        new.item_type.as_str(),
        new.parent.as_ref().map(ToString::to_string),
    ])?;
    let id = conn.last_insert_rowid();
    let key = ItemKey {
        project: new.project,
        number,
    };
    let created = FieldChange {
        field: "created".into(),
        from: None,
        to: Some(new.summary.clone()),
    };
    let event = Event {
        item_id: id,
        key: &key,
        kind: EventKind::ItemCreated,
        actor,
        at: now,
        version: 1,
    };
    record(conn, &event, &[created])?;
    Ok(Item {
        key,
        summary: new.summary,
        description: new.description,
        status: new.status,
        priority: new.priority,
        assignee: new.assignee,
        reporter: new.reporter,
        labels,
        custom_fields: new.custom_fields,
        item_type: new.item_type,
        parent: new.parent,
        comments: Vec::new(),
        attachments: Vec::new(),
        created: now,
        updated: now,
        version: 1,
    })
}

/// The read-modify-write of an update, run on the writer so that no concurrent change is lost.
pub(super) fn update_item(
    conn: &Connection,
    key: &ItemKey,
    patch: &ItemPatch,
    actor: &Actor,
    now: Timestamp,
) -> Result<Item> {
    let (id, mut item) = load_item(conn, key)?.ok_or_else(|| StoreError::not_found("item", key))?;
    if let Some(expected) = patch.expected_version
        && expected != item.version
    {
        return Err(StoreError::VersionConflict {
            key: key.to_string(),
            expected,
            actual: item.version,
        });
    }
    let changes = patch.apply(&mut item);
    if changes.is_empty() {
        return Ok(item);
    }
    item.version += 1;
    item.updated = now;
    conn.prepare_cached(
        "UPDATE items SET summary = ?2, description = ?3, status = ?4, priority = ?5, \
         assignee_name = ?6, assignee_email = ?7, reporter_name = ?8, reporter_email = ?9, \
         labels = ?10, custom_fields = ?11, updated = ?12, version = ?13, item_type = ?14, \
         parent = ?15 WHERE id = ?1",
    )?
    .execute(params![
        id,
        item.summary,
        item.description,
        item.status.as_str(),
        priority_rank(item.priority),
        name_of(&item.assignee),
        email_of(&item.assignee),
        name_of(&item.reporter),
        email_of(&item.reporter),
        labels_json(&item.labels),
        fields_json(&item.custom_fields),
        millis(now),
        item.version,
        item.item_type.as_str(),
        item.parent.as_ref().map(ToString::to_string),
    ])?;
    let event = Event {
        item_id: id,
        key,
        kind: EventKind::ItemUpdated,
        actor,
        at: now,
        version: item.version,
    };
    record(conn, &event, &changes)?;
    Ok(item)
}

// --- history and events ---------------------------------------------------------------------

pub(super) fn history(conn: &Connection, key: &ItemKey) -> Result<Vec<Change>> {
    let (id, _) = item_ref(conn, key)?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, at, actor, field, from_value, to_value FROM history WHERE item_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([id], |row| {
        Ok(Change {
            id: row.get(0)?,
            at: time_at(row, 1)?,
            actor: row.get(2)?,
            change: FieldChange {
                field: row.get(3)?,
                from: row.get(4)?,
                to: row.get(5)?,
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn events_after(conn: &Connection, after: i64, limit: u32) -> Result<Vec<TrackerEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, project, number, kind, at, actor, via_sync, version FROM events \
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit], |row| {
        let project: String = row.get(1)?;
        let kind: String = row.get(3)?;
        Ok(TrackerEvent {
            seq: row.get(0)?,
            item: ItemKey {
                project: ProjectKey::from_str(&project)
                    .map_err(|e| bad_column(1, Type::Text, e))?,
                number: row.get(2)?,
            },
            kind: EventKind::parse(&kind).ok_or_else(|| {
                bad_column(
                    3,
                    Type::Text,
                    StoreError::Database(format!("unknown event kind '{kind}'")),
                )
            })?,
            at: time_at(row, 4)?,
            actor: row.get(5)?,
            via_sync: row.get(6)?,
            version: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
