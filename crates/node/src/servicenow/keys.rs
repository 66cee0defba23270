//! Mirror keys as an admin reads and types them. A mirrored record is a store item such as
//! INC-9, and that key stays what twins, mirror links, history and the remote side name it by;
//! but the admin knows the record by its number, INC0010005. So on a node that serves
//! ServiceNow the console shows the number as the item's key and the console, the API (and the
//! CLI through it) take either. The number also travels to the other side of a connection
//! (a twin's `display_key`), which shows it for the remote item and takes it in a Connect.

use std::collections::HashMap;

use tandem_model::query::{Query, QueryError};
use tandem_model::{Item, ItemKey};
use tandem_store::{Page, StoreError};

use crate::state::AppState;
use crate::sync::item_json::View;

/// The longest text taken as a record number: ServiceNow's are a prefix and seven digits.
const MAX_NUMBER: usize = 40;

/// The most numbers one search query looks up (each costs a parse and a search); past them the
/// query is refused as one naming a key that is not one.
const MAX_QUERY_NUMBERS: usize = 100;

/// The number of the record `item` mirrors, when it mirrors one of a synced table and
/// ServiceNow has numbered it (an item sync just created has none until the bridge wrote it).
pub fn number_of<'a>(view: &View, item: &'a Item) -> Option<&'a str> {
    view.display_key(item)
}

/// The key this node tells a remote its item is known by, when it is not the item's key (the
/// record's number): the remote shows it for its twin and takes it where a remote key is typed.
pub fn display_key(state: &AppState, item: &Item) -> Option<String> {
    number_of(&state.view(), item).map(str::to_owned)
}

/// The key an admin sees for `item`: its record's number where it has one, else its key.
pub fn shown(view: &View, item: &Item) -> String {
    number_of(view, item).map_or_else(|| item.key.to_string(), str::to_owned)
}

/// The keys an admin sees for these items, by key; those that do not exist keep their key.
pub async fn shown_keys<'a>(
    state: &AppState,
    keys: impl IntoIterator<Item = &'a ItemKey>,
) -> Result<HashMap<ItemKey, String>, StoreError> {
    let view = state.view();
    let mut shown_by_key = HashMap::new();
    for key in keys {
        if shown_by_key.contains_key(key) {
            continue;
        }
        // Only a node that serves ServiceNow has numbers: elsewhere no item is read.
        let mirrored = view
            .collections()
            .is_some_and(|c| c.collection_of(&key.project).is_some());
        let item = match mirrored {
            true => state.store().item(key).await?,
            false => None,
        };
        let text = item.map_or_else(|| key.to_string(), |item| shown(&view, &item));
        shown_by_key.insert(key.clone(), text);
    }
    Ok(shown_by_key)
}

/// The keys the remotes' admins know these remote items by, where a remote said one (a
/// ServiceNow record's number), by (connection, remote key): read off this node's twins.
pub async fn remote_shown_keys(
    state: &AppState,
    remote_items: &[(uuid::Uuid, String)],
) -> Result<HashMap<(uuid::Uuid, String), String>, StoreError> {
    let mut shown = HashMap::new();
    for (connection, remote_key) in remote_items {
        let id = (*connection, remote_key.clone());
        if shown.contains_key(&id) {
            continue;
        }
        if let Some(display) = state
            .store()
            .twin_by_remote(*connection, remote_key)
            .await?
            .and_then(|t| t.remote_display_key)
        {
            shown.insert(id, display);
        }
    }
    Ok(shown)
}

/// The item an admin means by `raw`: an item key in any case (`inc-9`), or on a node that
/// serves ServiceNow a record's number (`INC0010005`, any case). `None` when it is neither.
pub async fn resolve(state: &AppState, raw: &str) -> Result<Option<ItemKey>, StoreError> {
    let raw = raw.trim();
    if let Ok(key) = raw.to_ascii_uppercase().parse::<ItemKey>() {
        return Ok(Some(key));
    }
    Ok(by_number(state, raw).await?.map(|item| item.key))
}

/// Parses a search query where `key = INC0010005` and `key in (INC0010005, …)` name the
/// mirror items of those records, on a node that serves ServiceNow; elsewhere, and for a
/// number no item mirrors, as [`Query::parse`] (which refuses a value that is not a key).
pub async fn parse_query(
    state: &AppState,
    text: &str,
) -> Result<Result<Query, QueryError>, StoreError> {
    let servicenow = state.view().kind() == tandem_connectors::TrackerKind::ServiceNow;
    // The parser stops at the first value it cannot take: each round looks up the number it
    // stopped at (once each), until the query parses or stops at one no record has.
    let mut keys: HashMap<String, Option<ItemKey>> = HashMap::new();
    loop {
        let mut new = None;
        let parsed = Query::parse_with_keys(text, &mut |raw| match keys.get(raw) {
            Some(known) => known.clone(),
            None => {
                new = Some(raw.to_owned());
                None
            }
        });
        let Some(raw) = new.filter(|_| servicenow && keys.len() < MAX_QUERY_NUMBERS) else {
            return Ok(parsed);
        };
        let key = by_number(state, &raw).await?.map(|item| item.key);
        keys.insert(raw, key);
    }
}

/// The mirror item of the record numbered `raw` (any case), on a node that serves ServiceNow.
pub async fn by_number(state: &AppState, raw: &str) -> Result<Option<Item>, StoreError> {
    let view = state.view();
    if view.kind() != tandem_connectors::TrackerKind::ServiceNow {
        return Ok(None);
    }
    let number = raw.trim().to_ascii_uppercase();
    if number.is_empty()
        || number.len() > MAX_NUMBER
        || !number.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Ok(None);
    }
    // Checked above: letters and digits only, so the quoted value cannot end early.
    let Ok(query) = Query::parse(&format!("cf[number] = \"{number}\"")) else {
        return Ok(None);
    };
    let found = state
        .store()
        .search_items(
            &query,
            Page {
                offset: 0,
                limit: 10,
            },
            jiff::Timestamp::now(),
        )
        .await?;
    Ok(found
        .items
        .into_iter()
        .find(|item| number_of(&view, item) == Some(number.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, number: Option<&str>) -> Item {
        let mut custom_fields = tandem_model::CustomFields::new();
        if let Some(n) = number {
            custom_fields.insert("number".into(), serde_json::json!(n));
        }
        Item {
            key: key.parse().expect("key"),
            summary: "Email down".into(),
            description: String::new(),
            status: tandem_model::Status::ToDo,
            priority: tandem_model::Priority::Medium,
            assignee: None,
            reporter: None,
            labels: Vec::new(),
            custom_fields,
            item_type: tandem_model::ItemType::Task,
            parent: None,
            comments: Vec::new(),
            attachments: Vec::new(),
            created: jiff::Timestamp::UNIX_EPOCH,
            updated: jiff::Timestamp::UNIX_EPOCH,
            version: 1,
        }
    }

    #[test]
    fn a_mirrored_record_shows_its_number_and_anything_else_its_key() {
        let servicenow = View::new(std::sync::Arc::new(
            tandem_connectors::servicenow::ServiceNowSchema::new(
                tandem_connectors::servicenow::tables(&["incident".to_owned()]),
            ),
        ));
        assert_eq!(
            shown(&servicenow, &item("INC-9", Some("INC0010005"))),
            "INC0010005"
        );
        // Not numbered yet (sync just created it), or not a synced table's: the key.
        assert_eq!(shown(&servicenow, &item("INC-10", None)), "INC-10");
        assert_eq!(shown(&servicenow, &item("INC-11", Some(" "))), "INC-11");
        assert_eq!(
            shown(&servicenow, &item("OPS-1", Some("INC0010005"))),
            "OPS-1"
        );
        // The built-in tracker has no numbers, whatever its custom fields say.
        assert_eq!(
            shown(&View::builtin(), &item("INC-9", Some("INC0010005"))),
            "INC-9"
        );
    }
}
