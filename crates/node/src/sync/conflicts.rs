//! A connection's conflicts as operators see them — newest first, both values and the winner —
//! and Restore: the value a conflict overwrote written back to the local item as a normal edit
//! (so it syncs out like any other change), the conflict marked restored.
//!
//! A conflict names the replica's field (`summary`, `status`, `customFields.Tier`); Restore
//! writes the value to the item's field of that name, as the default rules map them. A field
//! the item does not have under that name (rules that map it elsewhere) is refused with the
//! reason, never guessed.

use serde_json::Value;
use tandem_model::{Actor, ConflictRecord, Connection, Item};
use tandem_store::StoreError;

use super::item_json::FieldError;
use crate::state::AppState;

/// The most conflicts one page holds.
pub const MAX_PAGE: u32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("connection {connection} has no conflict {id}")]
    NotFound { connection: String, id: i64 },
    #[error("conflict {id} is about {item}, which no longer exists")]
    ItemGone { id: i64, item: String },
    #[error(
        "conflict {id} is about the field '{field}', which {item} has no field of that name for: the rules map it elsewhere, so restore the value by hand"
    )]
    NoSuchField {
        id: i64,
        field: String,
        item: String,
    },
    #[error("conflict {id}'s losing value cannot be written to {item}: {source}")]
    Invalid {
        id: i64,
        item: String,
        #[source]
        source: FieldError,
    },
}

/// A page of the connection's conflicts, newest first: those with ids below `before`.
pub async fn list(
    state: &AppState,
    connection: &Connection,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<ConflictRecord>, StoreError> {
    state
        .store()
        .connection_conflicts(connection.id, before, limit.clamp(1, MAX_PAGE))
        .await
}

/// Writes the conflict's losing value to its item as `actor`'s edit and marks the conflict
/// restored; returns both as they are now. A value the item holds already changes nothing
/// but the mark.
pub async fn restore(
    state: &AppState,
    connection: &Connection,
    id: i64,
    actor: &Actor,
) -> Result<(ConflictRecord, Item), RestoreError> {
    let store = state.store();
    let conflict = match store.conflict(id).await? {
        Some(c) if c.connection_id == connection.id => c,
        _ => {
            return Err(RestoreError::NotFound {
                connection: connection.name.clone(),
                id,
            });
        }
    };
    let key = conflict.local_key.clone();
    let item = store
        .item(&key)
        .await?
        .ok_or_else(|| RestoreError::ItemGone {
            id,
            item: key.to_string(),
        })?;
    let value: Value = serde_json::from_str(conflict.losing_value()).unwrap_or(Value::Null);
    let mut json = state.view().item_json(&item);
    let no_field = || RestoreError::NoSuchField {
        id,
        field: conflict.field.clone(),
        item: key.to_string(),
    };
    let slot = match conflict.field.strip_prefix("customFields.") {
        Some(name) => {
            let fields = json
                .get_mut("customFields")
                .and_then(Value::as_object_mut)
                .ok_or_else(no_field)?;
            fields.entry(name.to_owned()).or_insert(Value::Null)
        }
        None => json
            .get_mut(conflict.field.as_str())
            .filter(|_| !matches!(conflict.field.as_str(), "key" | "projectKey"))
            .ok_or_else(no_field)?,
    };
    *slot = value;
    let patch = state
        .view()
        .patch_from_json(&item, &json)
        .map_err(|source| RestoreError::Invalid {
            id,
            item: key.to_string(),
            source,
        })?;
    let item = store.update_item(&key, patch, actor).await?;
    let conflict = store.mark_conflict_restored(id).await?;
    tracing::info!(connection = %connection.name, item = %key, field = %conflict.field, conflict = id, "Restored a conflict's losing value.");
    Ok((conflict, item))
}
