//! Connections, and what the node-to-node protocol keeps for each: the outbox of messages for
//! the remote, the last seq handled from it, recent request nonces, and the accept proofs an
//! initiator took.
//!
//! Deleting a connection deletes its outbox, inbox, nonce and accept proof rows, and everything the sync
//! engine keeps for it (module `sync`), through `ON DELETE CASCADE` (the writer's connection has
//! `foreign_keys` on).

use std::sync::LazyLock;

use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use tandem_model::{
    Connection, ConnectionRole, ConnectionStatus, InvitationState, Mode, RemoteNode, Scope,
};
use uuid::Uuid;

use super::{is_unique_violation, millis};
use crate::{AcceptanceRecord, OutboundMessage, Result, StoreError};

/// Expired nonces deleted by one `remember_nonce`, at most. Each call adds at most one row, so
/// the sweep keeps up, and a backlog (after a long stop) never makes one write slow.
const NONCE_SWEEP: i64 = 64;

/// The columns a connection is written from, in the order of [`values`]: `?1` is `id`, and so
/// on. `version` is not among them: the store sets it.
const FIELDS: [&str; 25] = [
    "id",
    "name",
    "description",
    "mode",
    "role",
    "local_short_name",
    "remote_short_name",
    "remote_node_id",
    "remote_name",
    "remote_url",
    "remote_tracker",
    "remote_public_key",
    "private",
    "status",
    "status_reason",
    "remote_paused",
    "invitation_expires",
    "invitation_used",
    "sealed_root",
    "outgoing_script",
    "incoming_script",
    "created",
    "updated",
    "last_sync",
    "target_project",
];

/// What a connection is read from: [`FIELDS`], then `version`. See [`Stored`].
static COLUMNS: LazyLock<String> = LazyLock::new(|| format!("{}, version", FIELDS.join(", ")));

static INSERT: LazyLock<String> = LazyLock::new(|| {
    let params: Vec<String> = (1..=FIELDS.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO connections ({}, version) VALUES ({}, 1) RETURNING {}",
        FIELDS.join(", "),
        params.join(", "),
        *COLUMNS
    )
});

/// Sets every field but `id` and `created` when the version is still the one read (the last
/// parameter), and bumps it.
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = FIELDS
        .iter()
        .enumerate()
        .filter(|(_, f)| !matches!(**f, "id" | "created"))
        .map(|(i, f)| format!("{f} = ?{}", i + 1))
        .collect();
    format!(
        "UPDATE connections SET {}, version = version + 1 \
         WHERE id = ?1 AND version = ?{} RETURNING {}",
        sets.join(", "),
        FIELDS.len() + 1,
        *COLUMNS
    )
});

/// The connection's fields as bound to [`FIELDS`].
fn values(c: &Connection) -> [Value; FIELDS.len()] {
    let text = |s: &str| Value::Text(s.to_owned());
    let opt_text = |s: Option<&str>| s.map_or(Value::Null, text);
    let time = |t: Timestamp| Value::Integer(millis(t));
    let opt_time = |t: Option<Timestamp>| t.map_or(Value::Null, time);
    let flag = |b: bool| Value::Integer(i64::from(b));
    let remote = c.remote.as_ref();
    [
        Value::Text(c.id.to_string()),
        text(&c.name),
        text(&c.description),
        text(c.mode.as_str()),
        text(c.role.as_str()),
        text(&c.local_short_name),
        text(&c.remote_short_name),
        remote.map_or(Value::Null, |r| Value::Text(r.node_id.to_string())),
        opt_text(remote.map(|r| r.name.as_str())),
        opt_text(remote.and_then(|r| r.url.as_deref())),
        opt_text(remote.map(|r| r.tracker.as_str())),
        opt_text(remote.map(|r| r.public_key.as_str())),
        flag(c.private),
        text(c.status.as_str()),
        opt_text(c.status_reason.as_deref()),
        flag(c.remote_paused),
        opt_time(c.invitation.as_ref().map(|i| i.expires)),
        opt_time(c.invitation.as_ref().and_then(|i| i.used)),
        opt_text(c.sealed_root.as_deref()),
        text(&c.outgoing_script),
        text(&c.incoming_script),
        time(c.created),
        time(c.updated),
        opt_time(c.last_sync),
        opt_text(c.target_project.as_deref()),
    ]
}

/// A connection row as SQLite has it, before its values are checked: reading a row cannot
/// fail on a value that is merely wrong, so that [`Stored::into_connection`] can say what is
/// wrong with which connection.
struct Stored {
    id: String,
    name: String,
    description: String,
    mode: String,
    role: String,
    local_short_name: String,
    remote_short_name: String,
    remote_node_id: Option<String>,
    remote_name: Option<String>,
    remote_url: Option<String>,
    remote_tracker: Option<String>,
    remote_public_key: Option<String>,
    private: bool,
    status: String,
    status_reason: Option<String>,
    remote_paused: bool,
    invitation_expires: Option<i64>,
    invitation_used: Option<i64>,
    sealed_root: Option<String>,
    outgoing_script: String,
    incoming_script: String,
    created: i64,
    updated: i64,
    last_sync: Option<i64>,
    target_project: Option<String>,
    version: i64,
}

impl Stored {
    /// Reads a row of [`COLUMNS`].
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Stored> {
        Ok(Stored {
            id: row.get(0)?,
            name: row.get(1)?,
            description: row.get(2)?,
            mode: row.get(3)?,
            role: row.get(4)?,
            local_short_name: row.get(5)?,
            remote_short_name: row.get(6)?,
            remote_node_id: row.get(7)?,
            remote_name: row.get(8)?,
            remote_url: row.get(9)?,
            remote_tracker: row.get(10)?,
            remote_public_key: row.get(11)?,
            private: row.get(12)?,
            status: row.get(13)?,
            status_reason: row.get(14)?,
            remote_paused: row.get(15)?,
            invitation_expires: row.get(16)?,
            invitation_used: row.get(17)?,
            sealed_root: row.get(18)?,
            outgoing_script: row.get(19)?,
            incoming_script: row.get(20)?,
            created: row.get(21)?,
            updated: row.get(22)?,
            last_sync: row.get(23)?,
            target_project: row.get(24)?,
            version: row.get(25)?,
        })
    }

    fn into_connection(self) -> Result<Connection> {
        let damaged = |what: String| {
            StoreError::Database(format!(
                "the stored connection {} ({}) is damaged: {what}",
                self.id, self.name
            ))
        };
        let uuid = |column: &str, text: &str| {
            Uuid::try_parse(text)
                .map_err(|e| damaged(format!("{column} {text:?} is not a uuid ({e})")))
        };
        let time = |column: &str, ms: i64| {
            Timestamp::from_millisecond(ms)
                .map_err(|e| damaged(format!("{column} {ms} is not a time ({e})")))
        };
        let opt_time = |column: &str, ms: Option<i64>| ms.map(|ms| time(column, ms)).transpose();

        let remote = match (
            &self.remote_node_id,
            &self.remote_name,
            &self.remote_tracker,
            &self.remote_public_key,
        ) {
            (Some(node_id), Some(name), Some(tracker), Some(public_key)) => Some(RemoteNode {
                node_id: uuid("remote_node_id", node_id)?,
                name: name.clone(),
                url: self.remote_url.clone(),
                tracker: tracker.clone(),
                public_key: public_key.clone(),
            }),
            (None, None, None, None) if self.remote_url.is_none() => None,
            _ => {
                return Err(damaged(
                    "it has some of the remote node's fields but not all".into(),
                ));
            }
        };
        let invitation = match (self.invitation_expires, self.invitation_used) {
            (Some(expires), used) => Some(InvitationState {
                expires: time("invitation_expires", expires)?,
                used: opt_time("invitation_used", used)?,
            }),
            (None, None) => None,
            (None, Some(_)) => {
                return Err(damaged(
                    "its invitation has a time of use but no expiry".into(),
                ));
            }
        };
        Ok(Connection {
            id: uuid("id", &self.id)?,
            mode: Mode::parse(&self.mode)
                .ok_or_else(|| damaged(format!("unknown mode {:?}", self.mode)))?,
            role: ConnectionRole::parse(&self.role)
                .ok_or_else(|| damaged(format!("unknown role {:?}", self.role)))?,
            status: ConnectionStatus::parse(&self.status)
                .ok_or_else(|| damaged(format!("unknown status {:?}", self.status)))?,
            remote,
            invitation,
            created: time("created", self.created)?,
            updated: time("updated", self.updated)?,
            last_sync: opt_time("last_sync", self.last_sync)?,
            name: self.name.clone(),
            description: self.description,
            local_short_name: self.local_short_name,
            remote_short_name: self.remote_short_name,
            private: self.private,
            status_reason: self.status_reason,
            remote_paused: self.remote_paused,
            sealed_root: self.sealed_root,
            outgoing_script: self.outgoing_script,
            incoming_script: self.incoming_script,
            target_project: self.target_project,
            version: self.version,
        })
    }
}

pub(super) fn id_text(id: Uuid) -> String {
    id.to_string()
}

/// The name of the connection other than `except` whose name equals `name` (case-insensitively).
fn holder_of_name(conn: &rusqlite::Connection, name: &str, except: Uuid) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT name FROM connections WHERE name = ?1 AND id <> ?2")?
        .query_row(params![name, id_text(except)], |row| row.get(0))
        .optional()?)
}

fn exists(conn: &rusqlite::Connection, id: Uuid) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM connections WHERE id = ?1)")?
        .query_row([id_text(id)], |row| row.get(0))?)
}

pub(super) fn require(conn: &rusqlite::Connection, id: Uuid) -> Result<()> {
    if exists(conn, id)? {
        Ok(())
    } else {
        Err(StoreError::not_found("connection", id))
    }
}

/// Turns a unique-constraint failure on writing `c` into `AlreadyExists` naming the clash.
fn clash(conn: &rusqlite::Connection, c: &Connection, e: rusqlite::Error) -> StoreError {
    if !is_unique_violation(&e) {
        return e.into();
    }
    match holder_of_name(conn, &c.name, c.id) {
        Ok(Some(taken)) => {
            StoreError::AlreadyExists(format!("a connection named {taken} already exists"))
        }
        Ok(None) => {
            StoreError::AlreadyExists(format!("a connection with id {} already exists", c.id))
        }
        Err(e) => e,
    }
}

// --- connections ------------------------------------------------------------------------------

pub(super) fn create(conn: &rusqlite::Connection, c: &Connection) -> Result<Connection> {
    let inserted = conn
        .prepare_cached(&INSERT)?
        .query_row(params_from_iter(values(c)), Stored::from_row);
    match inserted {
        Ok(stored) => stored.into_connection(),
        Err(e) => Err(clash(conn, c, e)),
    }
}

pub(super) fn all(conn: &rusqlite::Connection) -> Result<Vec<Connection>> {
    // rowid breaks ties in creation order.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM connections ORDER BY created, rowid",
        *COLUMNS
    ))?;
    let rows = stmt
        .query_map([], Stored::from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(Stored::into_connection).collect()
}

pub(super) fn by_id(conn: &rusqlite::Connection, id: Uuid) -> Result<Option<Connection>> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM connections WHERE id = ?1",
        *COLUMNS
    ))?
    .query_row([id_text(id)], Stored::from_row)
    .optional()?
    .map(Stored::into_connection)
    .transpose()
}

/// The column's NOCASE collation makes `=` case-insensitive (for ASCII letters).
pub(super) fn by_name(conn: &rusqlite::Connection, name: &str) -> Result<Option<Connection>> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM connections WHERE name = ?1",
        *COLUMNS
    ))?
    .query_row([name], Stored::from_row)
    .optional()?
    .map(Stored::into_connection)
    .transpose()
}

pub(super) fn update(conn: &rusqlite::Connection, c: &Connection) -> Result<Connection> {
    let mut params: Vec<Value> = values(c).into();
    params.push(Value::Integer(c.version));
    let updated = conn
        .prepare_cached(&UPDATE)?
        .query_row(params_from_iter(params), Stored::from_row)
        .optional();
    match updated {
        Ok(Some(stored)) => stored.into_connection(),
        // Either the version moved on or the connection is gone.
        Ok(None) => {
            let stored_name: Option<String> = conn
                .prepare_cached("SELECT name FROM connections WHERE id = ?1")?
                .query_row([id_text(c.id)], |row| row.get(0))
                .optional()?;
            Err(match stored_name {
                // Named as it is stored now, which is how the others see it.
                Some(name) => StoreError::Changed {
                    what: "connection",
                    key: name,
                },
                None => StoreError::not_found("connection", c.id),
            })
        }
        Err(e) => Err(clash(conn, c, e)),
    }
}

pub(super) fn delete(conn: &rusqlite::Connection, id: Uuid) -> Result<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM connections WHERE id = ?1")?
        .execute([id_text(id)])?;
    if deleted == 0 {
        return Err(StoreError::not_found("connection", id));
    }
    Ok(())
}

// --- scope ------------------------------------------------------------------------------------

pub(super) fn scope(conn: &rusqlite::Connection, id: Uuid) -> Result<Option<Scope>> {
    require(conn, id)?;
    let row: Option<(Option<String>, Option<String>)> = conn
        .prepare_cached("SELECT projects, query FROM connection_scopes WHERE connection_id = ?1")?
        .query_row([id_text(id)], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let damaged = |what: String| {
        StoreError::Database(format!(
            "the stored scope of connection {id} is damaged: {what}"
        ))
    };
    match row {
        None => Ok(None),
        Some((Some(projects), None)) => serde_json::from_str::<Vec<String>>(&projects)
            .map(|p| Some(Scope::Projects(p)))
            .map_err(|e| damaged(format!("its projects {projects:?} are not a list ({e})"))),
        Some((None, Some(query))) => Ok(Some(Scope::Query(query))),
        Some(_) => Err(damaged(
            "it has both projects and a query, or neither".into(),
        )),
    }
}

pub(super) fn set_scope(
    conn: &rusqlite::Connection,
    id: Uuid,
    scope: Option<&Scope>,
) -> Result<()> {
    require(conn, id)?;
    let (projects, query) = match scope {
        None => {
            conn.prepare_cached("DELETE FROM connection_scopes WHERE connection_id = ?1")?
                .execute([id_text(id)])?;
            return Ok(());
        }
        Some(Scope::Projects(p)) => (
            Some(serde_json::to_string(p).map_err(|e| StoreError::Database(e.to_string()))?),
            None,
        ),
        Some(Scope::Query(q)) => (None, Some(q.clone())),
    };
    conn.prepare_cached(
        "INSERT INTO connection_scopes (connection_id, projects, query) VALUES (?1, ?2, ?3) \
         ON CONFLICT (connection_id) DO UPDATE SET projects = excluded.projects, query = excluded.query",
    )?
    .execute(params![id_text(id), projects, query])?;
    Ok(())
}

// --- messages ---------------------------------------------------------------------------------

pub(super) fn enqueue(
    conn: &rusqlite::Connection,
    id: Uuid,
    kind: &str,
    payload: &str,
    now: Timestamp,
) -> Result<i64> {
    let seq: i64 = conn
        .prepare_cached(
            "UPDATE connections SET last_outbound_seq = last_outbound_seq + 1 WHERE id = ?1 \
             RETURNING last_outbound_seq",
        )?
        .query_row([id_text(id)], |row| row.get(0))
        .optional()?
        .ok_or_else(|| StoreError::not_found("connection", id))?;
    conn.prepare_cached(
        "INSERT INTO connection_outbox (connection_id, seq, kind, payload, created) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id_text(id), seq, kind, payload, millis(now)])?;
    Ok(seq)
}

pub(super) fn outbound(
    conn: &rusqlite::Connection,
    id: Uuid,
    after: i64,
    limit: u32,
) -> Result<Vec<OutboundMessage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, kind, payload, created FROM connection_outbox \
         WHERE connection_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![id_text(id), after, limit], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, i64>(3)?,
        ))
    })?;
    rows.map(|row| {
        let (seq, kind, payload, created) = row?;
        let created = Timestamp::from_millisecond(created).map_err(|e| {
            StoreError::Database(format!(
                "the stored message {seq} of connection {id} is damaged: created {created} is \
                 not a time ({e})"
            ))
        })?;
        Ok(OutboundMessage {
            connection_id: id,
            seq,
            kind,
            payload,
            created,
        })
    })
    .collect()
}

pub(super) fn ack(conn: &rusqlite::Connection, id: Uuid, up_to: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM connection_outbox WHERE connection_id = ?1 AND seq <= ?2")?
        .execute(params![id_text(id), up_to])?;
    Ok(())
}

/// Turns the queued messages of `kinds` into `void` ones (same place in the sequence, no
/// payload), so the remote skips them; returns how many.
pub(super) fn void_queued(
    conn: &rusqlite::Connection,
    id: Uuid,
    kinds: &[String],
    void: &str,
) -> Result<u64> {
    let mut voided = 0;
    let mut statement = conn.prepare_cached(
        "UPDATE connection_outbox SET kind = ?3, payload = '{}' \
         WHERE connection_id = ?1 AND kind = ?2",
    )?;
    for kind in kinds {
        voided += statement.execute(params![id_text(id), kind, void])?;
    }
    Ok(voided as u64)
}

pub(super) fn queued_count(conn: &rusqlite::Connection, id: Uuid) -> Result<u64> {
    let count: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM connection_outbox WHERE connection_id = ?1")?
        .query_row([id_text(id)], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub(super) fn outbound_seq(conn: &rusqlite::Connection, id: Uuid) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT last_outbound_seq FROM connections WHERE id = ?1")?
        .query_row([id_text(id)], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

pub(super) fn inbound_seq(conn: &rusqlite::Connection, id: Uuid) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT last_seq FROM connection_inbox WHERE connection_id = ?1")?
        .query_row([id_text(id)], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Moves the recorded seq forward only; no row counts as 0, so a `seq` of 0 or less never
/// advances.
pub(super) fn advance_inbound_seq(conn: &rusqlite::Connection, id: Uuid, seq: i64) -> Result<bool> {
    require(conn, id)?;
    if seq <= 0 {
        return Ok(false);
    }
    Ok(conn
        .prepare_cached(
            "INSERT INTO connection_inbox (connection_id, last_seq) VALUES (?1, ?2) \
             ON CONFLICT (connection_id) DO UPDATE SET last_seq = excluded.last_seq \
             WHERE excluded.last_seq > connection_inbox.last_seq \
             RETURNING 1",
        )?
        .query_row(params![id_text(id), seq], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Runs on the writer, so no other acceptance of the connection is recorded between the checks
/// and the insert.
pub(super) fn record_acceptance(
    conn: &rusqlite::Connection,
    id: Uuid,
    proof_id: &[u8; 32],
    descriptor: &[u8; 32],
    now: Timestamp,
) -> Result<AcceptanceRecord> {
    require(conn, id)?;
    let seen = conn
        .prepare_cached(
            "SELECT 1 FROM connection_accept_proofs WHERE connection_id = ?1 AND proof_id = ?2",
        )?
        .query_row(params![id_text(id), &proof_id[..]], |_| Ok(()))
        .optional()?
        .is_some();
    if seen {
        return Ok(AcceptanceRecord::ProofSeen);
    }
    let other = conn
        .prepare_cached(
            "SELECT 1 FROM connection_accept_proofs \
             WHERE connection_id = ?1 AND descriptor <> ?2 LIMIT 1",
        )?
        .query_row(params![id_text(id), &descriptor[..]], |_| Ok(()))
        .optional()?
        .is_some();
    if other {
        return Ok(AcceptanceRecord::OtherDescriptor);
    }
    conn.prepare_cached(
        "INSERT INTO connection_accept_proofs (connection_id, proof_id, descriptor, received) \
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        id_text(id),
        &proof_id[..],
        &descriptor[..],
        millis(now)
    ])?;
    Ok(AcceptanceRecord::Recorded)
}

/// One statement decides: a new nonce is inserted, an expired one is renewed, and a live one
/// is left alone (the upsert's `WHERE` fails, so no row comes back). Then sweeps a few expired
/// nonces of any connection.
pub(super) fn remember_nonce(
    conn: &rusqlite::Connection,
    id: Uuid,
    nonce: &str,
    expires: Timestamp,
    now: Timestamp,
) -> Result<bool> {
    require(conn, id)?;
    let fresh = conn
        .prepare_cached(
            "INSERT INTO connection_nonces (connection_id, nonce, expires) VALUES (?1, ?2, ?3) \
             ON CONFLICT (connection_id, nonce) DO UPDATE SET expires = excluded.expires \
             WHERE connection_nonces.expires <= ?4 \
             RETURNING 1",
        )?
        .query_row(
            params![id_text(id), nonce, millis(expires), millis(now)],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    conn.prepare_cached(
        "DELETE FROM connection_nonces WHERE rowid IN \
         (SELECT rowid FROM connection_nonces WHERE expires <= ?1 ORDER BY expires LIMIT ?2)",
    )?
    .execute(params![millis(now), NONCE_SWEEP])?;
    Ok(fresh)
}
