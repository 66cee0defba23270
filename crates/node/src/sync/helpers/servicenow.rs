//! `nodeHelper`'s ServiceNow methods, answered from the instance: `getTableByLink(link)` (the
//! record a reference's link points to), `getUrgency(name)` and `getImpact(name)` (the choice
//! of that label, as `{value, display_value, name}`, which a column takes as its value),
//! `getUserByEmail(email)` / `getUserByUsername(name)` (the `sys_user` row, with Exalate's
//! `key` — the sys_id, what a reference column takes — and `displayName`), and
//! `getLocalIssueFromRemoteId(remoteId)` (both trackers: the local item twinned with it).

use serde_json::{Value, json};
use tandem_model::TwinState;
use tandem_script::{Value as ScriptValue, from_json};

use super::{NodeHelper, null, text_arg};

/// The `(table, sys_id)` a ServiceNow reference link names (`…/api/now/table/sys_user/<id>`),
/// whatever host it names: only the path is used, on this node's own instance.
pub(super) fn link_target(link: &str) -> Option<(String, String)> {
    let (_, rest) = link.split_once("/table/")?;
    let mut parts = rest.split(['/', '?']);
    let table = parts.next()?;
    let sys_id = parts.next()?;
    let plain =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (plain(table) && plain(sys_id)).then(|| (table.to_owned(), sys_id.to_owned()))
}

impl NodeHelper {
    /// `getTableByLink(link)`: the referenced record as a map of its columns, or null when the
    /// link names none (or it no longer exists). A reference column (`{link, value}`) may be
    /// passed whole.
    pub(super) fn record_by_link(&self, args: &[ScriptValue]) -> Result<ScriptValue, String> {
        let link = match &args[0] {
            v @ ScriptValue::Map(_) => tandem_script::to_json(v)["link"]
                .as_str()
                .map(str::to_owned),
            _ => text_arg(args),
        };
        let Some((table, sys_id)) = link.as_deref().and_then(link_target) else {
            return Ok(null());
        };
        let path = format!("/api/now/table/{table}/{sys_id}");
        let answer = self
            .0
            .servicenow("getTableByLink", async |c| {
                c.exchange(reqwest::Method::GET, &path, None, &[]).await
            })
            .unwrap_or_else(|| Err("getTableByLink: no ServiceNow instance".into()))?;
        if answer.status == 404 {
            return Ok(null());
        }
        if !(200..300).contains(&answer.status) {
            return Err(format!(
                "getTableByLink: ServiceNow answered {} for {table}/{sys_id}",
                answer.status
            ));
        }
        let body: Value = serde_json::from_str(&answer.body)
            .map_err(|e| format!("getTableByLink: the answer is not JSON ({e})"))?;
        Ok(match &body["result"] {
            r @ Value::Object(_) => from_json(r),
            _ => null(),
        })
    }

    /// `getUrgency(name)` / `getImpact(name)`: the choice named, or null.
    pub(super) fn servicenow_choice(
        &self,
        column: &str,
        args: &[ScriptValue],
    ) -> Result<ScriptValue, String> {
        let Some(name) = text_arg(args) else {
            return Ok(null());
        };
        // Urgency and impact are task columns: every task table lists the same choices.
        let table = self
            .0
            .synced_tables()
            .first()
            .cloned()
            .unwrap_or_else(|| "incident".to_owned());
        Ok(match self.0.choice(&table, column, &name)? {
            Some((value, label)) => {
                let bare = label
                    .split_once(" - ")
                    .map_or(label.as_str(), |(_, rest)| rest)
                    .to_owned();
                from_json(
                    &json!({"value": value, "id": value, "display_value": label, "name": bare}),
                )
            }
            None => null(),
        })
    }

    /// The `sys_user` row whose `column` is the first argument, with `key` (its sys_id) and
    /// `displayName`; null when there is none.
    pub(super) fn servicenow_user(
        &self,
        column: &str,
        args: &[ScriptValue],
    ) -> Result<ScriptValue, String> {
        let Some(value) = text_arg(args)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
        else {
            return Ok(null());
        };
        if value.contains('^') {
            return Ok(null());
        }
        let query = format!("{column}={value}");
        let rows = self
            .0
            .servicenow("the user", async |c| {
                c.first_page("sys_user", &query, None, 1).await
            })
            .unwrap_or_else(|| Err("no ServiceNow instance".into()))?;
        Ok(rows.into_iter().next().map_or(null(), |r| {
            let mut fields = r.into_fields();
            let sys_id = fields.get("sys_id").cloned().unwrap_or(Value::Null);
            let name = fields.get("name").cloned().unwrap_or(Value::Null);
            fields.insert("key".into(), sys_id);
            fields.insert("displayName".into(), name);
            from_json(&Value::Object(fields))
        }))
    }

    /// `getLocalIssueFromRemoteId(remoteId)`: the local item (as the rules see it) twinned on
    /// this connection with the remote item of that key, or of that id as its last replica
    /// gave it (`replica.id`); null when there is none.
    pub(super) fn local_issue_from_remote(
        &self,
        args: &[ScriptValue],
    ) -> Result<ScriptValue, String> {
        let Some(remote) = text_arg(args)
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
        else {
            return Ok(null());
        };
        let id = self.0.connection_id;
        let by_key = self
            .0
            .read("the twin", async |s| s.twin_by_remote(id, &remote).await)?;
        let twin = match by_key {
            Some(t) => Some(t),
            None => self.twin_by_remote_id(&remote)?,
        };
        let Some(twin) = twin.filter(|t| t.state == TwinState::Active) else {
            return Ok(null());
        };
        self.issue(&[ScriptValue::str(twin.local_key.to_string())])
    }

    /// The twin on this connection whose last replica received has `id` = `remote_id`. Reads
    /// the connection's twins a page at a time, at most [`MAX_SCANNED`] of them.
    fn twin_by_remote_id(&self, remote_id: &str) -> Result<Option<tandem_model::Twin>, String> {
        const PAGE: u32 = 500;
        let id = self.0.connection_id;
        let mut after: Option<tandem_model::ItemKey> = None;
        let mut scanned = 0usize;
        while scanned < MAX_SCANNED {
            let from = after.clone();
            let page = self.0.read("the twins", async |s| {
                s.twins(id, from.as_ref(), PAGE).await
            })?;
            let Some(last) = page.last() else {
                return Ok(None);
            };
            after = Some(last.local_key.clone());
            scanned += page.len();
            let full = page.len() as u32 == PAGE;
            for t in page {
                let matches = t
                    .last_received
                    .as_deref()
                    .and_then(|r| serde_json::from_str::<Value>(r).ok())
                    .is_some_and(|r| match &r["id"] {
                        Value::String(s) => s == remote_id,
                        Value::Number(n) => n.to_string() == remote_id,
                        _ => false,
                    });
                if matches {
                    return Ok(Some(t));
                }
            }
            if !full {
                break;
            }
        }
        Ok(None)
    }
}

/// How many twins `getLocalIssueFromRemoteId` reads at most to find one by the remote id.
const MAX_SCANNED: usize = 20_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_link_names_its_table_and_record_and_nothing_else() {
        assert_eq!(
            link_target("https://acme.service-now.com/api/now/table/sys_user/6816f79c"),
            Some(("sys_user".into(), "6816f79c".into()))
        );
        assert_eq!(link_target("https://x/api/now/table/sys_user"), None);
        assert_eq!(
            link_target("https://x/api/now/table/sys_user/../../etc"),
            None
        );
        assert_eq!(link_target("nothing"), None);
    }
}
