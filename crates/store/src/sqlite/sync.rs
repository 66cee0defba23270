//! What the sync engine keeps (migration `0004_sync`): twins and the comment and attachment
//! twins under them (`twins`), requests received from remotes (`requests`), and sync errors,
//! conflicts and triggers (`records`).
//!
//! Rows are read as SQLite has them and then checked, as in `connections`: a damaged value is a
//! [`StoreError::Database`] naming the row, never a panic or a bare conversion error.

use std::fmt::Display;

use jiff::Timestamp;
use tandem_model::{ItemKey, ProjectKey};
use uuid::Uuid;

use crate::{Result, StoreError};

pub(super) mod jobs;
pub(super) mod records;
pub(super) mod requests;
pub(super) mod twins;

/// Names a stored row while its values are checked: `the stored {0} is damaged: …`.
struct Checked(String);

impl Checked {
    fn damaged(&self, what: impl Display) -> StoreError {
        StoreError::Database(format!("the stored {} is damaged: {what}", self.0))
    }

    fn uuid(&self, column: &str, text: &str) -> Result<Uuid> {
        Uuid::try_parse(text)
            .map_err(|e| self.damaged(format!("{column} {text:?} is not a uuid ({e})")))
    }

    fn time(&self, column: &str, ms: i64) -> Result<Timestamp> {
        Timestamp::from_millisecond(ms)
            .map_err(|e| self.damaged(format!("{column} {ms} is not a time ({e})")))
    }

    fn opt_time(&self, column: &str, ms: Option<i64>) -> Result<Option<Timestamp>> {
        ms.map(|ms| self.time(column, ms)).transpose()
    }

    fn key(&self, project: &str, number: i64) -> Result<ItemKey> {
        let project: ProjectKey = project
            .parse()
            .map_err(|e| self.damaged(format!("project {project:?} is not a project key ({e})")))?;
        Ok(ItemKey { project, number })
    }

    fn count(&self, column: &str, n: i64) -> Result<u32> {
        u32::try_from(n).map_err(|_| self.damaged(format!("{column} {n} is not a count")))
    }
}

/// The name of connection `id` for messages: its name, or its id when it has none (gone).
fn connection_name(conn: &rusqlite::Connection, id: Uuid) -> Result<String> {
    use rusqlite::OptionalExtension as _;
    Ok(conn
        .prepare_cached("SELECT name FROM connections WHERE id = ?1")?
        .query_row([id.to_string()], |row| row.get(0))
        .optional()?
        .unwrap_or_else(|| id.to_string()))
}
