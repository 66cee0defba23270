//! How a tracker's items look to the sync engine, without any I/O: the [`Schema`] says how sync
//! rules see an item and how what they leave becomes a change, and the [`Mapping`] of a
//! mirrored tracker turns its records into store items and back. Both are pure, so they are
//! tested as plain functions; the node holds one `Arc<dyn Schema>` for the tracker it serves.

use std::sync::Arc;

use serde_json::Value;
use tandem_model::query::Query;
use tandem_model::{CustomFields, Item, ItemPatch, NewItem, ProjectKey};

use crate::tracker::{Fields, RemoteRecord, TrackerKind};

/// Why what the rules left in `issue` cannot be applied; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("issue.{field}: {problem}")]
pub struct FieldError {
    pub field: &'static str,
    pub problem: String,
}

/// Why a trigger's query cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    #[error("the trigger is empty: write a query such as {example}")]
    Empty { example: &'static str },
    #[error("the trigger: {0}")]
    Invalid(String),
}

/// The collections a mirrored tracker syncs (ServiceNow tables, Jira projects) and the store
/// projects that mirror them, one each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collections {
    pairs: Vec<(String, ProjectKey)>,
}

impl Collections {
    /// Collections and their projects, in the order given; the first is the default.
    pub fn new(pairs: Vec<(String, ProjectKey)>) -> Self {
        Self { pairs }
    }

    /// Each collection mirrored by the project `key_for` names; two that come out alike get
    /// numbered keys (`SUP`, `SUP2`).
    pub fn numbered(names: &[String], key_for: impl Fn(&str) -> ProjectKey) -> Self {
        let mut pairs: Vec<(String, ProjectKey)> = Vec::new();
        for name in names {
            let mut key = key_for(name);
            let mut n = 2;
            while pairs.iter().any(|(_, k)| *k == key) {
                let base: String = key.as_str().chars().take(8).collect();
                key = format!("{base}{n}").parse().unwrap_or(key);
                n += 1;
            }
            pairs.push((name.clone(), key));
        }
        Self { pairs }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ProjectKey)> {
        self.pairs.iter().map(|(c, p)| (c.as_str(), p))
    }

    /// The project that mirrors a collection.
    pub fn project_of(&self, collection: &str) -> Option<&ProjectKey> {
        self.pairs
            .iter()
            .find(|(c, _)| c == collection)
            .map(|(_, p)| p)
    }

    /// The collection a project mirrors.
    pub fn collection_of(&self, project: &ProjectKey) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(_, p)| p == project)
            .map(|(c, _)| c.as_str())
    }

    /// The first collection: where an item goes when nothing says otherwise.
    pub fn default_collection(&self) -> Option<&str> {
        self.pairs.first().map(|(c, _)| c.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// How the sync rules of a node see its items, and what they may leave.
pub trait Schema: Send + Sync + std::fmt::Debug + 'static {
    fn kind(&self) -> TrackerKind;
    /// The mirrored collections, on a tracker the node mirrors; `None` on the built-in tracker,
    /// whose projects are the store's own.
    fn collections(&self) -> Option<&Collections>;
    /// How records are mirrored, on a tracker the node mirrors.
    fn mapping(&self) -> Option<&dyn Mapping>;
    /// True when the rules see a record's comments as two journals: `comments` holds the public
    /// ones only and `work_notes` the internal ones (ServiceNow).
    fn journals(&self) -> bool;

    /// The field of the rules' item that names the collection an item is created in
    /// (`projectKey`; ServiceNow's `tableName`).
    fn collection_field(&self) -> &'static str {
        "projectKey"
    }

    /// The item as the rules see it (`issue`, `entity`).
    fn item_json(&self, item: &Item) -> Value;
    /// What the rules see of an item that does not exist yet (the first sync of an item).
    fn blank_item_json(&self) -> Value;
    /// The change the rules made to an existing item.
    fn patch_from_json(&self, item: &Item, after: &Value) -> Result<ItemPatch, FieldError>;
    /// The item the rules made.
    fn new_item_from_json(&self, after: &Value) -> Result<NewItem, FieldError>;
    /// A trigger, written in the tracker's own query language, as a query over the items.
    fn parse_trigger(&self, text: &str) -> Result<Query, TriggerError>;
    /// The key the tracker's users know the item by, where it is not the item's key (a
    /// ServiceNow record's number).
    fn display_key<'a>(&self, item: &'a Item) -> Option<&'a str>;
}

/// How a mirrored tracker's records become store items, and store items records: the
/// mirror's half of the schema. The **snapshot** is a record's fields as last agreed with the
/// tracker; both directions merge three ways against it, so neither side's concurrent change
/// of another field is overwritten.
pub trait Mapping: Send + Sync + 'static {
    /// What of a record is kept as its snapshot.
    fn snapshot(&self, record: &RemoteRecord) -> CustomFields;
    /// The store item a record becomes, in `project`.
    fn new_item(&self, record: &RemoteRecord, project: &ProjectKey) -> NewItem;
    /// The change a record's new version makes to its item: the fields that changed in the
    /// tracker since `base` (all of them without one).
    fn pull_patch(
        &self,
        item: &Item,
        record: &RemoteRecord,
        base: Option<&CustomFields>,
    ) -> ItemPatch;
    /// The fields to write to the tracker: those changed in the item since `base`.
    fn local_changes(&self, item: &Item, base: &CustomFields) -> Fields;
    /// The fields of a record made for an item.
    fn record_fields(&self, item: &Item) -> Fields;
}

/// The built-in tracker's schema: items as Exalate's Jira scripts name their fields, triggers
/// in Tandem's query language.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

impl Schema for Builtin {
    fn kind(&self) -> TrackerKind {
        TrackerKind::Builtin
    }

    fn collections(&self) -> Option<&Collections> {
        None
    }

    fn mapping(&self) -> Option<&dyn Mapping> {
        None
    }

    fn journals(&self) -> bool {
        false
    }

    fn item_json(&self, item: &Item) -> Value {
        crate::builtin::item_json(item)
    }

    fn blank_item_json(&self) -> Value {
        crate::builtin::blank_item_json()
    }

    fn patch_from_json(&self, item: &Item, after: &Value) -> Result<ItemPatch, FieldError> {
        crate::builtin::patch_from_json(item, after)
    }

    fn new_item_from_json(&self, after: &Value) -> Result<NewItem, FieldError> {
        crate::builtin::new_item_from_json(after)
    }

    fn parse_trigger(&self, text: &str) -> Result<Query, TriggerError> {
        if text.trim().is_empty() {
            return Err(TriggerError::Empty {
                example: "project = SUP AND priority = High",
            });
        }
        Query::parse(text).map_err(|e| TriggerError::Invalid(e.to_string()))
    }

    fn display_key<'a>(&self, _item: &'a Item) -> Option<&'a str> {
        None
    }
}

/// The built-in schema, shared.
pub fn builtin() -> Arc<dyn Schema> {
    Arc::new(Builtin)
}
