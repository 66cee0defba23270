//! The emulated instance's data: tables of string-valued records, numbering, system fields,
//! the task tables' rules (defaults, state mirrors, priority, `active`) and attachment bytes.
//!
//! Pure data: no HTTP here. Handlers lock the [`Instance`], call one method, unlock. Every
//! value is a string, as ServiceNow returns them; an absent field is `""`.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::schema::{self, FieldType, SYSTEM_FIELDS, TableDef};

/// One record: field name → string value, in the table's field order.
pub type Record = IndexMap<String, String>;

/// What the data layer refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("Invalid table {0}")]
    UnknownTable(String),
    #[error("no record {sys_id} in table {table}")]
    NotFound { table: String, sys_id: String },
    #[error("Data Policy Exception: the following fields are mandatory: {}", fields.join(", "))]
    DataPolicy {
        table: String,
        fields: Vec<&'static str>,
    },
    #[error("a record with sys_id {sys_id} already exists in table {table}")]
    DuplicateSysId { table: String, sys_id: String },
}

/// One table: its definition, its records by sys_id (insertion order) and its next number.
#[derive(Debug)]
pub struct Table {
    pub def: TableDef,
    pub rows: IndexMap<String, Record>,
    next_number: u32,
}

/// The whole emulated instance.
#[derive(Debug)]
pub struct Instance {
    tables: IndexMap<&'static str, Table>,
    /// Attachment bytes by the attachment's sys_id.
    files: HashMap<String, Vec<u8>>,
    /// Seconds added to the wall clock (tests move time forward with it).
    pub clock_offset_secs: i64,
    /// Enforce the state model's mandatory fields as data policies (403 on violation).
    pub enforce_data_policies: bool,
}

/// A fresh sys_id: 32 lower-case hex digits.
pub fn new_sys_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A user as the instance knows it.
#[derive(Debug, Clone)]
pub struct UserSeed {
    pub user_name: String,
    pub name: String,
}

impl Instance {
    /// An instance with the known tables and one `sys_user` row per user.
    #[cfg(test)]
    pub fn new(users: &[UserSeed]) -> Self {
        Self::with_tables(schema::tables(), users)
    }

    /// An instance with these tables (the known ones, custom columns added: see
    /// [`schema::tables_with`]) and one `sys_user` row per user.
    pub fn with_tables(tables: Vec<TableDef>, users: &[UserSeed]) -> Self {
        let tables = tables
            .into_iter()
            .map(|def| {
                let next_number = def.numbering.map_or(0, |(_, n)| n);
                (
                    def.name,
                    Table {
                        def,
                        rows: IndexMap::new(),
                        next_number,
                    },
                )
            })
            .collect();
        let mut instance = Self {
            tables,
            files: HashMap::new(),
            clock_offset_secs: 0,
            enforce_data_policies: false,
        };
        // `sys_choice`: the choices of every choice column of the other tables.
        let choices: Vec<Vec<(String, String)>> = instance
            .tables
            .values()
            .flat_map(|t| {
                t.def.fields.iter().flat_map(move |f| {
                    f.choices
                        .iter()
                        .enumerate()
                        .map(move |(n, (value, label))| {
                            [
                                ("name", t.def.name),
                                ("element", f.name),
                                ("value", value),
                                ("label", label),
                            ]
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                            .into_iter()
                            .chain([("sequence".to_owned(), (n * 100).to_string())])
                            .collect()
                        })
                })
            })
            .collect();
        if instance.tables.contains_key("sys_choice") {
            for fields in choices {
                // The table exists: checked above.
                let _ = instance.insert("sys_choice", fields, "system");
            }
        }
        for u in users {
            let (first, last) = u.name.split_once(' ').unwrap_or((u.name.as_str(), ""));
            let fields = [
                ("user_name", u.user_name.as_str()),
                ("name", u.name.as_str()),
                ("first_name", first),
                ("last_name", last),
                ("email", &format!("{}@example.com", u.user_name)),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
            // The table exists: it is one of schema::tables().
            let _ = instance.insert("sys_user", fields.to_vec(), "system");
        }
        instance
    }

    /// Now, as ServiceNow writes it: `YYYY-MM-DD HH:MM:SS` in UTC.
    pub fn now(&self) -> String {
        self.clock().strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// The instance's clock (UTC, moved by `clock_offset_secs`), to the second.
    pub fn clock(&self) -> jiff::civil::DateTime {
        let now = jiff::Timestamp::now();
        let now = now
            .checked_add(jiff::SignedDuration::from_secs(self.clock_offset_secs))
            .unwrap_or(now);
        let civil = jiff::tz::TimeZone::UTC.to_datetime(now);
        civil.with().subsec_nanosecond(0).build().unwrap_or(civil)
    }

    pub fn table(&self, name: &str) -> Result<&Table, DataError> {
        self.tables
            .get(name)
            .ok_or_else(|| DataError::UnknownTable(name.to_owned()))
    }

    fn table_mut(&mut self, name: &str) -> Result<&mut Table, DataError> {
        self.tables
            .get_mut(name)
            .ok_or_else(|| DataError::UnknownTable(name.to_owned()))
    }

    pub fn get(&self, table: &str, sys_id: &str) -> Result<&Record, DataError> {
        self.table(table)?
            .rows
            .get(sys_id)
            .ok_or_else(|| DataError::NotFound {
                table: table.to_owned(),
                sys_id: sys_id.to_owned(),
            })
    }

    /// The sys_id of the `sys_user` row with this user name.
    pub fn user_sys_id(&self, user_name: &str) -> Option<&str> {
        let users = self.tables.get("sys_user")?;
        users
            .rows
            .values()
            .find(|r| r.get("user_name").is_some_and(|u| u == user_name))
            .and_then(|r| r.get("sys_id"))
            .map(String::as_str)
    }

    /// A user's display name (`name`), or the user name when unknown.
    pub fn user_display_name(&self, user_name: &str) -> String {
        self.user_sys_id(user_name)
            .and_then(|id| self.get("sys_user", id).ok())
            .and_then(|r| r.get("name"))
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| user_name.to_owned())
    }

    /// Inserts a record as `user`; unknown fields are ignored as ServiceNow ignores them.
    pub fn insert(
        &mut self,
        table: &str,
        fields: Vec<(String, String)>,
        user: &str,
    ) -> Result<Record, DataError> {
        let now = self.now();
        let t = self.table(table)?;
        let mut record: Record = t
            .def
            .fields
            .iter()
            .map(|f| (f.name.to_owned(), String::new()))
            .collect();
        for (k, v) in t.def.defaults {
            record.insert((*k).to_owned(), (*v).to_owned());
        }
        let sys_id = match fields.iter().find(|(k, _)| k == "sys_id") {
            Some((_, id)) if is_sys_id(id) => {
                // Stored lower-case, so compared lower-case: `ABC…` is the same record.
                let id = id.to_lowercase();
                if t.rows.contains_key(&id) {
                    return Err(DataError::DuplicateSysId {
                        table: table.to_owned(),
                        sys_id: id,
                    });
                }
                id
            }
            _ => new_sys_id(),
        };
        let defaults = record.clone();
        let journal = self.apply_writes(table, &mut record, fields, true);
        let user_id = self.user_sys_id(user).unwrap_or_default().to_owned();
        let enforce_policies = self.enforce_data_policies;
        let t = self.table_mut(table)?;
        if let Some((prefix, _)) = t.def.numbering {
            if record.get("number").is_none_or(String::is_empty) {
                record.insert("number".into(), format!("{prefix}{:07}", t.next_number));
                t.next_number = t.next_number.saturating_add(1);
            }
            if record.get("opened_at").is_some_and(String::is_empty) {
                record.insert("opened_at".into(), now.clone());
            }
            if record.get("opened_by").is_some_and(String::is_empty) {
                record.insert("opened_by".into(), user_id.clone());
            }
        }
        task_rules(&t.def, &mut record, Some(&defaults), &now, &user_id);
        user_rules(&t.def, &mut record);
        if enforce_policies {
            data_policy(table, &record)?;
        }
        for (k, v) in [
            ("sys_id", sys_id.as_str()),
            ("sys_created_on", &now),
            ("sys_created_by", user),
            ("sys_updated_on", &now),
            ("sys_updated_by", user),
            ("sys_mod_count", "0"),
        ] {
            record.insert(k.to_owned(), v.to_owned());
        }
        if record.contains_key("sys_class_name") {
            record.insert("sys_class_name".into(), table.to_owned());
        }
        t.rows.insert(sys_id.clone(), record.clone());
        self.append_journal(table, &sys_id, journal, &now, user);
        Ok(record)
    }

    /// Updates the fields given (PUT and PATCH alike). The record's `sys_updated_*` and
    /// `sys_mod_count` move only when something changed, a journal entry included.
    pub fn update(
        &mut self,
        table: &str,
        sys_id: &str,
        fields: Vec<(String, String)>,
        user: &str,
    ) -> Result<Record, DataError> {
        let now = self.now();
        let before = self.get(table, sys_id)?.clone();
        let mut record = before.clone();
        let journal = self.apply_writes(table, &mut record, fields, false);
        let user_id = self.user_sys_id(user).unwrap_or_default().to_owned();
        let enforce_policies = self.enforce_data_policies;
        let t = self.table_mut(table)?;
        task_rules(&t.def, &mut record, Some(&before), &now, &user_id);
        user_rules(&t.def, &mut record);
        if enforce_policies {
            data_policy(table, &record)?;
        }
        if record == before && journal.is_empty() {
            return Ok(record);
        }
        let count = before
            .get("sys_mod_count")
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0);
        record.insert("sys_mod_count".into(), (count + 1).to_string());
        record.insert("sys_updated_on".into(), now.clone());
        record.insert("sys_updated_by".into(), user.to_owned());
        t.rows.insert(sys_id.to_owned(), record.clone());
        self.append_journal(table, sys_id, journal, &now, user);
        Ok(record)
    }

    /// Deletes a record and the attachments on it.
    pub fn delete(&mut self, table: &str, sys_id: &str) -> Result<(), DataError> {
        let t = self.table_mut(table)?;
        if t.rows.shift_remove(sys_id).is_none() {
            return Err(DataError::NotFound {
                table: table.to_owned(),
                sys_id: sys_id.to_owned(),
            });
        }
        let attached: Vec<String> = self
            .table("sys_attachment")?
            .rows
            .values()
            .filter(|a| val(a, "table_name") == table && val(a, "table_sys_id") == sys_id)
            .map(|a| val(a, "sys_id").to_owned())
            .collect();
        for id in attached {
            self.delete_attachment(&id)?;
        }
        Ok(())
    }

    /// Writes `fields` into `record`, returning the journal entries to append. System fields,
    /// unknown fields and read-only fields are skipped.
    fn apply_writes(
        &self,
        table: &str,
        record: &mut Record,
        fields: Vec<(String, String)>,
        inserting: bool,
    ) -> Vec<(&'static str, String)> {
        let mut journal = Vec::new();
        let Ok(t) = self.table(table) else {
            return journal;
        };
        for (name, value) in fields {
            let Some(def) = t.def.field(&name) else {
                continue;
            };
            if SYSTEM_FIELDS.contains(&def.name) || (def.name == "number" && !inserting) {
                continue;
            }
            match def.ty {
                FieldType::Journal => {
                    if !value.trim().is_empty() {
                        journal.push((def.name, value));
                    }
                }
                FieldType::JournalList => {}
                FieldType::Reference(target) => {
                    record.insert(name, self.resolve_reference(target, &value));
                }
                _ => {
                    record.insert(name, value);
                }
            }
        }
        journal
    }

    /// A reference given as a sys_id stays; given as a display value (or user name) it is
    /// looked up, as ServiceNow does; unresolvable text is stored as given.
    fn resolve_reference(&self, target: &str, value: &str) -> String {
        let Ok(t) = self.table(target) else {
            return value.to_owned();
        };
        if value.is_empty() || t.rows.contains_key(value) {
            return value.to_owned();
        }
        t.rows
            .values()
            .find(|r| {
                r.get(t.def.display_field).is_some_and(|d| d == value)
                    || r.get("user_name").is_some_and(|u| u == value)
            })
            .map_or_else(|| value.to_owned(), |r| val(r, "sys_id").to_owned())
    }

    fn append_journal(
        &mut self,
        table: &str,
        sys_id: &str,
        entries: Vec<(&'static str, String)>,
        now: &str,
        user: &str,
    ) {
        let Ok(journal) = self.table_mut("sys_journal_field") else {
            return;
        };
        for (element, value) in entries {
            let id = new_sys_id();
            let row: Record = [
                ("name", table),
                ("element", element),
                ("element_id", sys_id),
                ("value", value.as_str()),
                ("sys_id", &id),
                ("sys_created_on", now),
                ("sys_created_by", user),
                ("sys_updated_on", now),
                ("sys_updated_by", user),
                ("sys_mod_count", "0"),
                ("sys_tags", ""),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            journal.rows.insert(id, row);
        }
    }

    /// A record's journal entries for the given elements, newest first.
    pub fn journal(&self, table: &str, sys_id: &str, elements: &[&str]) -> Vec<&Record> {
        let Ok(journal) = self.table("sys_journal_field") else {
            return Vec::new();
        };
        let mut rows: Vec<&Record> = journal
            .rows
            .values()
            .filter(|r| {
                val(r, "name") == table
                    && val(r, "element_id") == sys_id
                    && elements.contains(&val(r, "element"))
            })
            .collect();
        // Insertion order is chronological; newest first is its reverse.
        rows.reverse();
        rows
    }

    /// Stores an attachment's bytes and metadata; the target record must exist.
    #[allow(clippy::too_many_arguments)]
    pub fn add_attachment(
        &mut self,
        table_name: &str,
        table_sys_id: &str,
        file_name: &str,
        content_type: &str,
        bytes: Vec<u8>,
        base_url: &str,
        user: &str,
    ) -> Result<Record, DataError> {
        self.get(table_name, table_sys_id)?;
        use sha2::Digest;
        let hash: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let size = bytes.len().to_string();
        let id = new_sys_id();
        let link = format!("{base_url}/api/now/attachment/{id}/file");
        let fields = [
            ("sys_id", id.as_str()),
            ("file_name", file_name),
            ("content_type", content_type),
            ("size_bytes", &size),
            ("size_compressed", &size),
            ("hash", &hash),
            ("table_name", table_name),
            ("table_sys_id", table_sys_id),
            ("download_link", &link),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let record = self.insert("sys_attachment", fields.to_vec(), user)?;
        self.files.insert(id, bytes);
        Ok(record)
    }

    /// An attachment's bytes.
    pub fn attachment_bytes(&self, sys_id: &str) -> Option<&[u8]> {
        self.files.get(sys_id).map(Vec::as_slice)
    }

    pub fn delete_attachment(&mut self, sys_id: &str) -> Result<(), DataError> {
        let t = self.table_mut("sys_attachment")?;
        if t.rows.shift_remove(sys_id).is_none() {
            return Err(DataError::NotFound {
                table: "sys_attachment".into(),
                sys_id: sys_id.to_owned(),
            });
        }
        self.files.remove(sys_id);
        Ok(())
    }
}

impl super::query::Lookup for Instance {
    fn table_def(&self, name: &str) -> Option<&TableDef> {
        self.tables.get(name).map(|t| &t.def)
    }

    fn record(&self, table: &str, sys_id: &str) -> Option<&Record> {
        self.tables.get(table)?.rows.get(sys_id)
    }
}

/// The out-of-box state model's mandatory fields (tracker-apis.md §1.10), enforced as data
/// policies when the instance is configured to: On Hold needs `hold_reason`, Resolved and Closed
/// need `close_code` and `close_notes`; a problem's Resolved and Closed need `resolution_code`.
fn data_policy(table: &str, record: &Record) -> Result<(), DataError> {
    let state = val(record, "state");
    let needed: &[&'static str] = match (table, state) {
        ("incident", "3") => &["hold_reason"],
        ("incident", "6" | "7") => &["close_code", "close_notes"],
        ("problem", "106" | "107") => &["resolution_code"],
        _ => &[],
    };
    let missing: Vec<&'static str> = needed
        .iter()
        .copied()
        .filter(|f| val(record, f).trim().is_empty())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DataError::DataPolicy {
            table: table.to_owned(),
            fields: missing,
        })
    }
}

/// A field's value, `""` when absent.
pub fn val<'a>(record: &'a Record, field: &str) -> &'a str {
    record.get(field).map_or("", String::as_str)
}

/// `sys_user.name` is calculated from the first and last name, as ServiceNow's dictionary
/// defines it; a user with neither keeps the name it was given.
fn user_rules(def: &TableDef, record: &mut Record) {
    if def.name != "sys_user" {
        return;
    }
    let full: Vec<&str> = [val(record, "first_name"), val(record, "last_name")]
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if !full.is_empty() {
        let full = full.join(" ");
        record.insert("name".into(), full);
    }
}

/// The task tables' business rules: the legacy state mirrors (`incident_state`,
/// `problem_state`), priority from impact × urgency, `active` from the state, and the
/// resolved/closed stamps.
fn task_rules(
    def: &TableDef,
    record: &mut Record,
    before: Option<&Record>,
    now: &str,
    user_id: &str,
) {
    if !def.is_task() {
        return;
    }
    let mirror = match def.name {
        "incident" => Some("incident_state"),
        "problem" => Some("problem_state"),
        _ => None,
    };
    if let Some(mirror) = mirror {
        let old = |f: &str| before.and_then(|b| b.get(f)).cloned().unwrap_or_default();
        let state_changed = val(record, "state") != old("state");
        let mirror_changed = val(record, mirror) != old(mirror);
        if mirror_changed && !state_changed {
            let v = val(record, mirror).to_owned();
            record.insert("state".into(), v);
        } else {
            let v = val(record, "state").to_owned();
            record.insert(mirror.into(), v);
        }
    }
    if matches!(def.name, "incident" | "problem")
        && let Some(p) = schema::priority_for(val(record, "impact"), val(record, "urgency"))
    {
        record.insert("priority".into(), p.to_owned());
    }
    // ServiceNow's "Task Active State Management" rule: `active` follows the state only when
    // the state moves between an active and an inactive one; otherwise a written `active`
    // (an insert with active=false, say) stays as written.
    let inactive = schema::inactive_states(def.name);
    if !inactive.is_empty() {
        let closed = inactive.contains(&val(record, "state"));
        let was_closed = before.is_some_and(|b| inactive.contains(&val(b, "state")));
        if closed != was_closed {
            record.insert("active".into(), (!closed).to_string());
        }
        if closed && val(record, "closed_at").is_empty() {
            record.insert("closed_at".into(), now.to_owned());
        }
    }
    let resolved = match def.name {
        "incident" => val(record, "state") == "6",
        "problem" => val(record, "state") == "106",
        _ => false,
    };
    if resolved && record.get("resolved_at").is_some_and(String::is_empty) {
        record.insert("resolved_at".into(), now.to_owned());
        if record.contains_key("resolved_by") {
            record.insert("resolved_by".into(), user_id.to_owned());
        }
    }
}
