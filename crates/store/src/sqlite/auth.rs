//! Node settings, console users, login sessions and API tokens.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{is_unique_violation, millis, opt_time_at, time_at};
use crate::{ApiToken, NewSession, Result, Session, StoreError, TokenScope, User};

/// How stale a token's `last_used` may get before a use writes it again. Keeps a busy API
/// client from turning every request into a write.
pub(super) const LAST_USED_PRECISION: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

// --- settings -------------------------------------------------------------------------------

pub(super) fn setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()?)
}

pub(super) fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

pub(super) fn set_setting_if_absent(conn: &Connection, key: &str, value: &str) -> Result<String> {
    conn.prepare_cached(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute([key, value])?;
    setting(conn, key)?.ok_or_else(|| StoreError::Database(format!("setting {key} vanished")))
}

pub(super) fn delete_setting(conn: &Connection, key: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM settings WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

/// Deletes the setting only if it still holds `value`; whether this call did. The writer runs
/// one statement at a time, so of racing callers exactly one sees the row.
pub(super) fn take_setting(conn: &Connection, key: &str, value: &str) -> Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM settings WHERE key = ?1 AND value = ?2")?
        .execute([key, value])?;
    Ok(deleted == 1)
}

// --- users and sessions ---------------------------------------------------------------------

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        password_hash: row.get(2)?,
        created: time_at(row, 3)?,
    })
}

pub(super) fn upsert_user(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<User> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO users (username, password_hash, created) VALUES (?1, ?2, ?3) \
             ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash \
             RETURNING id, username, password_hash, created",
        )?
        .query_row(params![username, password_hash, millis(now)], user_from_row)?)
}

pub(super) fn create_user(
    conn: &Connection,
    username: &str,
    password_hash: &str,
    now: Timestamp,
) -> Result<User> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO users (username, password_hash, created) VALUES (?1, ?2, ?3) \
             RETURNING id, username, password_hash, created",
        )?
        .query_row(params![username, password_hash, millis(now)], user_from_row);
    match inserted {
        Ok(user) => Ok(user),
        Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists(format!(
            "a user named '{username}' already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn users(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, username, password_hash, created FROM users ORDER BY username",
    )?;
    let rows = stmt.query_map([], user_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn user_by_name(conn: &Connection, username: &str) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, username, password_hash, created FROM users WHERE username = ?1",
        )?
        .query_row([username], user_from_row)
        .optional()?)
}

pub(super) fn user_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM users")?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Stores the session, and sweeps out sessions that have expired.
pub(super) fn create_session(
    conn: &Connection,
    session: &NewSession,
    now: Timestamp,
) -> Result<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE expires <= ?1")?
        .execute([millis(now)])?;
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")?
        .query_row([session.user_id], |row| row.get(0))?;
    if !exists {
        return Err(StoreError::not_found("user", session.user_id));
    }
    let inserted = conn
        .prepare_cached(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created, expires) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            session.id_hash,
            session.user_id,
            session.csrf_token,
            millis(now),
            millis(session.expires)
        ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists(
            "a session with this id already exists".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn session(conn: &Connection, id_hash: &str, now: Timestamp) -> Result<Option<Session>> {
    Ok(conn
        .prepare_cached(
            "SELECT s.id_hash, s.user_id, u.username, s.csrf_token, s.created, s.expires \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = ?1 AND s.expires > ?2",
        )?
        .query_row(params![id_hash, millis(now)], |row| {
            Ok(Session {
                id_hash: row.get(0)?,
                user_id: row.get(1)?,
                username: row.get(2)?,
                csrf_token: row.get(3)?,
                created: time_at(row, 4)?,
                expires: time_at(row, 5)?,
            })
        })
        .optional()?)
}

pub(super) fn delete_session(conn: &Connection, id_hash: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")?
        .execute([id_hash])?;
    Ok(())
}

// --- API tokens -----------------------------------------------------------------------------

const TOKEN_COLUMNS: &str = "id, name, token_hash, created_by, created, last_used, revoked, scope";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: row.get(0)?,
        name: row.get(1)?,
        token_hash: row.get(2)?,
        created_by: row.get(3)?,
        created: time_at(row, 4)?,
        last_used: opt_time_at(row, 5)?,
        revoked: opt_time_at(row, 6)?,
        scope: {
            let text: String = row.get(7)?;
            TokenScope::parse(&text).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    7,
                    rusqlite::types::Type::Text,
                    format!("unknown API token scope '{text}'").into(),
                )
            })?
        },
    })
}

pub(super) fn create_api_token(
    conn: &Connection,
    name: &str,
    token_hash: &str,
    created_by: &str,
    scope: TokenScope,
    now: Timestamp,
) -> Result<ApiToken> {
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO api_tokens (name, token_hash, created_by, created, scope) \
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {TOKEN_COLUMNS}"
        ))?
        .query_row(
            params![name, token_hash, created_by, millis(now), scope.as_str()],
            token_from_row,
        );
    match inserted {
        Ok(token) => Ok(token),
        Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists(
            "an API token with this hash already exists".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn api_tokens(conn: &Connection) -> Result<Vec<ApiToken>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created DESC, id DESC"
    ))?;
    let rows = stmt.query_map([], token_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The unrevoked token with this hash (a read; the caller decides whether `last_used` needs
/// writing).
pub(super) fn live_token(conn: &Connection, token_hash: &str) -> Result<Option<ApiToken>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?1 AND revoked IS NULL"
        ))?
        .query_row([token_hash], token_from_row)
        .optional()?)
}

/// Records a use of the unrevoked token with this hash.
pub(super) fn mark_token_used(
    conn: &Connection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<ApiToken>> {
    Ok(conn
        .prepare_cached(&format!(
            "UPDATE api_tokens SET last_used = max(coalesce(last_used, 0), ?2) \
             WHERE token_hash = ?1 AND revoked IS NULL RETURNING {TOKEN_COLUMNS}"
        ))?
        .query_row(params![token_hash, millis(now)], token_from_row)
        .optional()?)
}

pub(super) fn revoke_api_token(conn: &Connection, id: i64, now: Timestamp) -> Result<()> {
    let changed = conn
        .prepare_cached("UPDATE api_tokens SET revoked = coalesce(revoked, ?2) WHERE id = ?1")?
        .execute(params![id, millis(now)])?;
    if changed == 0 {
        return Err(StoreError::not_found("API token", id));
    }
    Ok(())
}
