//! Twins, and the comment and attachment twins under them.
//!
//! A twin names its local item by (project, number) and must be of an item that exists (a
//! foreign key to `items`, checked first so that a missing item is `NotFound`). Comment and
//! attachment twins hang off their item's twin: recording one needs the twin, and deleting the
//! twin, or its connection, deletes them (`ON DELETE CASCADE`).

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tandem_model::{Actor, FieldClocks, Item, ItemKey, NewItem, Side, Twin, TwinState};
use uuid::Uuid;

use super::{Checked, connection_name};
use crate::sqlite::{connections, is_unique_violation, items, millis};
use crate::{Result, StoreError};

const COLUMNS: &str = "connection_id, project, number, remote_key, state, last_sent, \
     last_received, created, last_sync, clock, leads, remote_display_key, display_key_sent";

/// A twin row as SQLite has it, before its values are checked.
struct Stored {
    connection_id: String,
    project: String,
    number: i64,
    remote_key: Option<String>,
    state: String,
    last_sent: Option<String>,
    last_received: Option<String>,
    created: i64,
    last_sync: Option<i64>,
    clock: String,
    leads: bool,
    remote_display_key: Option<String>,
    display_key_sent: Option<String>,
}

impl Stored {
    /// Reads a row of [`COLUMNS`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Stored> {
        Ok(Stored {
            connection_id: row.get(0)?,
            project: row.get(1)?,
            number: row.get(2)?,
            remote_key: row.get(3)?,
            state: row.get(4)?,
            last_sent: row.get(5)?,
            last_received: row.get(6)?,
            created: row.get(7)?,
            last_sync: row.get(8)?,
            clock: row.get(9)?,
            leads: row.get(10)?,
            remote_display_key: row.get(11)?,
            display_key_sent: row.get(12)?,
        })
    }

    fn into_twin(self) -> Result<Twin> {
        let row = Checked(format!(
            "twin {}-{} of connection {}",
            self.project, self.number, self.connection_id
        ));
        Ok(Twin {
            connection_id: row.uuid("connection_id", &self.connection_id)?,
            local_key: row.key(&self.project, self.number)?,
            state: TwinState::parse(&self.state)
                .ok_or_else(|| row.damaged(format!("unknown state {:?}", self.state)))?,
            created: row.time("created", self.created)?,
            last_sync: row.opt_time("last_sync", self.last_sync)?,
            remote_key: self.remote_key,
            last_sent: self.last_sent,
            last_received: self.last_received,
            clock: serde_json::from_str(&self.clock)
                .map_err(|e| e.to_string())
                .and_then(|v| FieldClocks::from_json(&v))
                .map_err(|e| row.damaged(format!("field versions: {e}")))?,
            leads: self.leads,
            remote_display_key: self.remote_display_key,
            display_key_sent: self.display_key_sent,
        })
    }
}

fn collect(rows: impl Iterator<Item = rusqlite::Result<Stored>>) -> Result<Vec<Twin>> {
    rows.map(|row| row?.into_twin()).collect()
}

/// How a twin is named in `NotFound`: "twin OPS-1 on connection … does not exist".
fn twin_key(connection_id: Uuid, local_key: &ItemKey) -> String {
    format!("{local_key} on connection {connection_id}")
}

fn exists(conn: &Connection, connection_id: Uuid, local_key: &ItemKey) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM twins \
             WHERE connection_id = ?1 AND project = ?2 AND number = ?3)",
        )?
        .query_row(
            params![
                connections::id_text(connection_id),
                local_key.project.as_str(),
                local_key.number
            ],
            |row| row.get(0),
        )?)
}

fn require(conn: &Connection, connection_id: Uuid, local_key: &ItemKey) -> Result<()> {
    if exists(conn, connection_id, local_key)? {
        Ok(())
    } else {
        Err(StoreError::not_found(
            "twin",
            twin_key(connection_id, local_key),
        ))
    }
}

/// Turns a unique-constraint failure on writing `t` into `AlreadyExists` naming the clash.
/// `new` says whether `t` was being created (so another twin of its item may be the clash).
fn clash(conn: &Connection, t: &Twin, new: bool, e: rusqlite::Error) -> StoreError {
    if !is_unique_violation(&e) {
        return e.into();
    }
    let name = match connection_name(conn, t.connection_id) {
        Ok(name) => name,
        Err(e) => return e,
    };
    if new {
        match exists(conn, t.connection_id, &t.local_key) {
            Ok(true) => {
                return StoreError::AlreadyExists(format!(
                    "{} already has a twin on connection {name}",
                    t.local_key
                ));
            }
            Ok(false) => {}
            Err(e) => return e,
        }
    }
    let Some(remote_key) = t.remote_key.as_deref() else {
        return e.into();
    };
    match by_remote(conn, t.connection_id, remote_key) {
        Ok(Some(holder)) => StoreError::AlreadyExists(format!(
            "remote item {remote_key} is already linked to {} on connection {name}",
            holder.local_key
        )),
        Ok(None) => e.into(),
        Err(e) => e,
    }
}

pub(in crate::sqlite) fn create(conn: &Connection, t: &Twin) -> Result<Twin> {
    connections::require(conn, t.connection_id)?;
    items::item_ref(conn, &t.local_key)?;
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO twins ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             RETURNING {COLUMNS}"
        ))?
        .query_row(
            params![
                connections::id_text(t.connection_id),
                t.local_key.project.as_str(),
                t.local_key.number,
                t.remote_key,
                t.state.as_str(),
                t.last_sent,
                t.last_received,
                millis(t.created),
                t.last_sync.map(millis),
                t.clock.to_json().to_string(),
                t.leads,
                t.remote_display_key,
                t.display_key_sent,
            ],
            Stored::from_row,
        );
    let twin = match inserted {
        Ok(stored) => stored.into_twin()?,
        Err(e) => return Err(clash(conn, t, true, e)),
    };
    conn.prepare_cached(
        "INSERT INTO twin_months (month, made) \
         VALUES (strftime('%Y-%m', ?1 / 1000, 'unixepoch'), 1) \
         ON CONFLICT (month) DO UPDATE SET made = made + 1",
    )?
    .execute(params![millis(t.created)])?;
    Ok(twin)
}

/// How many twins were made in the calendar month (UTC) of `at`.
pub(in crate::sqlite) fn made_in_month(conn: &Connection, at: Timestamp) -> Result<u64> {
    let made: Option<i64> = conn
        .prepare_cached(
            "SELECT made FROM twin_months WHERE month = strftime('%Y-%m', ?1 / 1000, 'unixepoch')",
        )?
        .query_row(params![millis(at)], |row| row.get(0))
        .optional()?;
    Ok(made.map_or(0, |n| n.max(0) as u64))
}

pub(in crate::sqlite) fn by_local(
    conn: &Connection,
    connection_id: Uuid,
    local_key: &ItemKey,
) -> Result<Option<Twin>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM twins WHERE connection_id = ?1 AND project = ?2 AND number = ?3"
    ))?
    .query_row(
        params![
            connections::id_text(connection_id),
            local_key.project.as_str(),
            local_key.number
        ],
        Stored::from_row,
    )
    .optional()?
    .map(Stored::into_twin)
    .transpose()
}

/// Served by the partial index `twins_by_remote` (`remote_key = ?` implies it is not NULL).
pub(in crate::sqlite) fn by_remote(
    conn: &Connection,
    connection_id: Uuid,
    remote_key: &str,
) -> Result<Option<Twin>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM twins WHERE connection_id = ?1 AND remote_key = ?2"
    ))?
    .query_row(
        params![connections::id_text(connection_id), remote_key],
        Stored::from_row,
    )
    .optional()?
    .map(Stored::into_twin)
    .transpose()
}

/// Active twins with nothing sent and no remote key, oldest first (rowid breaks ties). Read
/// once at start-up: a scan, with no index of its own to keep up on every write.
pub(in crate::sqlite) fn unsent(conn: &Connection) -> Result<Vec<Twin>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM twins \
         WHERE state = 'active' AND remote_key IS NULL AND last_sent IS NULL \
         ORDER BY created, rowid"
    ))?;
    collect(stmt.query_map([], Stored::from_row)?)
}

/// rowid breaks ties in creation order.
pub(in crate::sqlite) fn of_item(conn: &Connection, local_key: &ItemKey) -> Result<Vec<Twin>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM twins WHERE project = ?1 AND number = ?2 ORDER BY created, rowid"
    ))?;
    let rows = stmt.query_map(
        params![local_key.project.as_str(), local_key.number],
        Stored::from_row,
    )?;
    collect(rows)
}

/// A page in (project, number) order, read straight off the `UNIQUE (connection_id, project,
/// number)` index; the row-value comparison continues after `after`.
pub(in crate::sqlite) fn page(
    conn: &Connection,
    connection_id: Uuid,
    after: Option<&ItemKey>,
    limit: u32,
) -> Result<Vec<Twin>> {
    let id = connections::id_text(connection_id);
    match after {
        None => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM twins WHERE connection_id = ?1 \
                 ORDER BY project, number LIMIT ?2"
            ))?;
            collect(stmt.query_map(params![id, limit], Stored::from_row)?)
        }
        Some(after) => {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM twins \
                 WHERE connection_id = ?1 AND (project, number) > (?2, ?3) \
                 ORDER BY project, number LIMIT ?4"
            ))?;
            collect(stmt.query_map(
                params![id, after.project.as_str(), after.number, limit],
                Stored::from_row,
            )?)
        }
    }
}

pub(in crate::sqlite) fn count(conn: &Connection, connection_id: Uuid) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM twins WHERE connection_id = ?1")?
        .query_row([connections::id_text(connection_id)], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(in crate::sqlite) fn count_active(conn: &Connection, connection_id: Uuid) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM twins WHERE connection_id = ?1 AND state = 'active'")?
        .query_row([connections::id_text(connection_id)], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(in crate::sqlite) fn update(conn: &Connection, t: &Twin) -> Result<Twin> {
    let updated = conn
        .prepare_cached(&format!(
            "UPDATE twins SET remote_key = ?4, state = ?5, last_sent = ?6, last_received = ?7, \
             last_sync = ?8, clock = ?9, leads = ?10, remote_display_key = ?11, \
             display_key_sent = ?12 \
             WHERE connection_id = ?1 AND project = ?2 AND number = ?3 \
             RETURNING {COLUMNS}"
        ))?
        .query_row(
            params![
                connections::id_text(t.connection_id),
                t.local_key.project.as_str(),
                t.local_key.number,
                t.remote_key,
                t.state.as_str(),
                t.last_sent,
                t.last_received,
                t.last_sync.map(millis),
                t.clock.to_json().to_string(),
                t.leads,
                t.remote_display_key,
                t.display_key_sent,
            ],
            Stored::from_row,
        )
        .optional();
    match updated {
        Ok(Some(stored)) => stored.into_twin(),
        Ok(None) => Err(StoreError::not_found(
            "twin",
            twin_key(t.connection_id, &t.local_key),
        )),
        Err(e) => Err(clash(conn, t, false, e)),
    }
}

/// The comment and attachment twins go with it (`ON DELETE CASCADE`).
pub(in crate::sqlite) fn delete(
    conn: &Connection,
    connection_id: Uuid,
    local_key: &ItemKey,
) -> Result<()> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM twins WHERE connection_id = ?1 AND project = ?2 AND number = ?3",
        )?
        .execute(params![
            connections::id_text(connection_id),
            local_key.project.as_str(),
            local_key.number
        ])?;
    if deleted == 0 {
        return Err(StoreError::not_found(
            "twin",
            twin_key(connection_id, local_key),
        ));
    }
    Ok(())
}

/// [`delete`], and the twin no longer counts in the month it was made.
pub(in crate::sqlite) fn withdraw(
    conn: &Connection,
    connection_id: Uuid,
    local_key: &ItemKey,
) -> Result<()> {
    let created: Option<i64> = conn
        .prepare_cached(
            "DELETE FROM twins WHERE connection_id = ?1 AND project = ?2 AND number = ?3 \
             RETURNING created",
        )?
        .query_row(
            params![
                connections::id_text(connection_id),
                local_key.project.as_str(),
                local_key.number
            ],
            |row| row.get(0),
        )
        .optional()?;
    let Some(created) = created else {
        return Err(StoreError::not_found(
            "twin",
            twin_key(connection_id, local_key),
        ));
    };
    conn.prepare_cached(
        "UPDATE twin_months SET made = max(made - 1, 0) \
         WHERE month = strftime('%Y-%m', ?1 / 1000, 'unixepoch')",
    )?
    .execute(params![created])?;
    Ok(())
}

/// Records the twin's replica as sent, with the field versions that stamp it and the display
/// key told with it, and queues the message through `connections::enqueue`, which alone numbers
/// a connection's messages. Both in the caller's one transaction.
pub(in crate::sqlite) fn queue_sync(
    conn: &Connection,
    t: &Twin,
    (kind, payload): (&str, &str),
    now: Timestamp,
) -> Result<i64> {
    let (connection_id, local_key) = (t.connection_id, &t.local_key);
    let updated = conn
        .prepare_cached(
            "UPDATE twins SET last_sent = ?4, clock = ?5, display_key_sent = ?6 \
             WHERE connection_id = ?1 AND project = ?2 AND number = ?3",
        )?
        .execute(params![
            connections::id_text(connection_id),
            local_key.project.as_str(),
            local_key.number,
            t.last_sent,
            t.clock.to_json().to_string(),
            t.display_key_sent,
        ])?;
    if updated == 0 {
        return Err(StoreError::not_found(
            "twin",
            twin_key(connection_id, local_key),
        ));
    }
    connections::enqueue(conn, connection_id, kind, payload, now)
}

/// Creates the item through `items::create_item` (numbering, history, the event with the
/// actor) and its active twin, in the caller's one transaction. The writer runs one job at a
/// time, so the check for an existing twin and the insert cannot interleave with another
/// create; the unique index on remote keys would refuse a second twin regardless.
///
/// The new twin's `last_sync` is `now`: creating the item is applying the remote's create.
pub(in crate::sqlite) fn create_twinned_item(
    conn: &Connection,
    connection_id: Uuid,
    remote_key: &str,
    new: NewItem,
    actor: &Actor,
    now: Timestamp,
) -> Result<(Item, bool)> {
    connections::require(conn, connection_id)?;
    if let Some(existing) = by_remote(conn, connection_id, remote_key)? {
        let (_, item) = items::load_item(conn, &existing.local_key)?.ok_or_else(|| {
            StoreError::Database(format!(
                "the stored twin {} of connection {connection_id} is damaged: its item does not \
                 exist",
                existing.local_key
            ))
        })?;
        return Ok((item, false));
    }
    let item = items::create_item(conn, new, actor, now)?;
    let twin = Twin {
        connection_id,
        local_key: item.key.clone(),
        remote_key: Some(remote_key.to_owned()),
        state: TwinState::Active,
        last_sent: None,
        last_received: None,
        created: now,
        last_sync: Some(now),
        clock: FieldClocks::default(),
        leads: false,
        remote_display_key: None,
        display_key_sent: None,
    };
    create(conn, &twin)?;
    Ok((item, true))
}

// --- comment and attachment twins -------------------------------------------------------------

/// Which child of an item a link is of. Both kinds have the same shape and rules, in tables of
/// their own.
#[derive(Clone, Copy, Debug)]
pub(in crate::sqlite) enum Child {
    Comment,
    Attachment,
}

impl Child {
    fn table(self) -> &'static str {
        match self {
            Child::Comment => "comment_twins",
            Child::Attachment => "attachment_twins",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Child::Comment => "comment",
            Child::Attachment => "attachment",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Child::Comment => "comment twin",
            Child::Attachment => "attachment twin",
        }
    }
}

/// A comment or attachment twin; the store turns it into `CommentLink` or `AttachmentLink`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::sqlite) struct Link {
    pub connection_id: Uuid,
    pub local_key: ItemKey,
    pub local_id: i64,
    pub remote_id: String,
    pub origin: Side,
}

fn origin_text(side: Side) -> &'static str {
    match side {
        Side::Local => "local",
        Side::Remote => "remote",
    }
}

fn parse_origin(text: &str) -> Option<Side> {
    match text {
        "local" => Some(Side::Local),
        "remote" => Some(Side::Remote),
        _ => None,
    }
}

/// Inserts the link; when a unique constraint refuses it, the same link already recorded is
/// success and any other link of either id is the clash. `NotFound` when the item has no twin
/// on the connection.
pub(in crate::sqlite) fn add_link(conn: &Connection, child: Child, link: &Link) -> Result<()> {
    require(conn, link.connection_id, &link.local_key)?;
    let id = connections::id_text(link.connection_id);
    let (project, number) = (link.local_key.project.as_str(), link.local_key.number);
    let table = child.table();
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO {table} (connection_id, project, number, local_id, remote_id, origin) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))?
        .execute(params![
            id,
            project,
            number,
            link.local_id,
            link.remote_id,
            origin_text(link.origin)
        ]);
    let e = match inserted {
        Ok(_) => return Ok(()),
        Err(e) if is_unique_violation(&e) => e,
        Err(e) => return Err(e.into()),
    };
    let linked_remote: Option<String> = conn
        .prepare_cached(&format!(
            "SELECT remote_id FROM {table} \
             WHERE connection_id = ?1 AND project = ?2 AND number = ?3 AND local_id = ?4"
        ))?
        .query_row(params![id, project, number, link.local_id], |row| {
            row.get(0)
        })
        .optional()?;
    let name = connection_name(conn, link.connection_id)?;
    let noun = child.noun();
    match linked_remote {
        Some(remote) if remote == link.remote_id => Ok(()),
        Some(remote) => Err(StoreError::AlreadyExists(format!(
            "{noun} {} of {} is already linked to remote {noun} {remote} on connection {name}",
            link.local_id, link.local_key
        ))),
        None => {
            let linked_local: Option<i64> = conn
                .prepare_cached(&format!(
                    "SELECT local_id FROM {table} \
                     WHERE connection_id = ?1 AND project = ?2 AND number = ?3 AND remote_id = ?4"
                ))?
                .query_row(params![id, project, number, link.remote_id], |row| {
                    row.get(0)
                })
                .optional()?;
            match linked_local {
                Some(local) => Err(StoreError::AlreadyExists(format!(
                    "remote {noun} {} of {} is already linked to {noun} {local} on connection \
                     {name}",
                    link.remote_id, link.local_key
                ))),
                None => Err(e.into()),
            }
        }
    }
}

/// The item's links on the connection, by local id.
pub(in crate::sqlite) fn links(
    conn: &Connection,
    child: Child,
    connection_id: Uuid,
    local_key: &ItemKey,
) -> Result<Vec<Link>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT local_id, remote_id, origin FROM {} \
         WHERE connection_id = ?1 AND project = ?2 AND number = ?3 ORDER BY local_id",
        child.table()
    ))?;
    let rows = stmt.query_map(
        params![
            connections::id_text(connection_id),
            local_key.project.as_str(),
            local_key.number
        ],
        |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        },
    )?;
    rows.map(|row| {
        let (local_id, remote_id, origin) = row?;
        let origin = parse_origin(&origin).ok_or_else(|| {
            StoreError::Database(format!(
                "the stored {} {local_id} of {local_key} is damaged: unknown origin \"{origin}\"",
                child.what()
            ))
        })?;
        Ok(Link {
            connection_id,
            local_key: local_key.clone(),
            local_id,
            remote_id,
            origin,
        })
    })
    .collect()
}

pub(in crate::sqlite) fn delete_link(
    conn: &Connection,
    child: Child,
    connection_id: Uuid,
    local_key: &ItemKey,
    local_id: i64,
) -> Result<()> {
    let deleted = conn
        .prepare_cached(&format!(
            "DELETE FROM {} \
             WHERE connection_id = ?1 AND project = ?2 AND number = ?3 AND local_id = ?4",
            child.table()
        ))?
        .execute(params![
            connections::id_text(connection_id),
            local_key.project.as_str(),
            local_key.number,
            local_id
        ])?;
    if deleted == 0 {
        return Err(StoreError::not_found(
            child.what(),
            format!("{local_id} of {local_key} on connection {connection_id}"),
        ));
    }
    Ok(())
}
