//! The ServiceNow connection an admin sets on the General settings page, kept in the database
//! with the password and client secret sealed by the node's master key. The configuration
//! (flags, environment, `[servicenow]` in the file) wins over it; the node reads it at start and
//! serves a newly saved one at once ([`crate::state::AppState::serve_servicenow`]).

use serde::{Deserialize, Serialize};
use tandem_store::Store;

use crate::config::{DEFAULT_POLL_SECS, Secret, ServiceNowConfig, check_node_url};
use crate::error::NodeError;
use crate::secrets::MasterKey;

const SETTING: &str = "servicenow.connection";
const PASSWORD_AAD: &str = "setting:servicenow.connection:password";
const CLIENT_SECRET_AAD: &str = "setting:servicenow.connection:client_secret";

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    instance_url: String,
    user: String,
    password: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    tables: Vec<String>,
    poll_secs: u64,
}

/// What the form sends; empty secrets keep the stored ones, for the same instance and user
/// only.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pub instance_url: String,
    pub user: String,
    pub password: String,
    pub client_id: String,
    pub client_secret: String,
    pub tables: String,
    pub poll_secs: String,
    /// The admin allows a plain `http://` instance (a test instance; the password then travels
    /// unencrypted).
    pub allow_http: bool,
}

/// The scheme, host and port of `url`, when it parses.
fn origin(url: &str) -> Option<reqwest::Url> {
    let mut url = reqwest::Url::parse(url).ok()?;
    url.set_path("");
    url.set_query(None);
    url.set_fragment(None);
    // The default port of the scheme is written as no port: compare the effective one.
    let port = url.port_or_known_default();
    url.set_port(port).ok()?;
    Some(url)
}

/// The connection saved from the console, if any.
pub async fn stored(
    store: &dyn Store,
    key: &MasterKey,
) -> Result<Option<ServiceNowConfig>, NodeError> {
    let Some(text) = store.setting(SETTING).await? else {
        return Ok(None);
    };
    let s: Stored = serde_json::from_str(&text).map_err(|e| {
        NodeError::Internal(format!("the saved ServiceNow settings are damaged: {e}"))
    })?;
    let open = |sealed: &str, aad: &str| -> Result<Secret, NodeError> {
        key.open(sealed, aad)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Secret::new)
            .ok_or_else(|| {
                NodeError::Internal(
                    "the saved ServiceNow password cannot be opened with this node's master key"
                        .into(),
                )
            })
    };
    let oauth = match (&s.client_id, &s.client_secret) {
        (Some(id), Some(secret)) => Some((id.clone(), open(secret, CLIENT_SECRET_AAD)?)),
        _ => None,
    };
    Ok(Some(ServiceNowConfig {
        instance_url: s.instance_url,
        user: s.user,
        password: open(&s.password, PASSWORD_AAD)?,
        oauth,
        tables: s.tables,
        poll_interval: std::time::Duration::from_secs(s.poll_secs),
        from_console: true,
    }))
}

/// Checks the form; the settings it describes, secrets left empty taken from `current`.
pub fn check(form: &Form, current: Option<&ServiceNowConfig>) -> Result<ServiceNowConfig, String> {
    let instance_url = check_node_url(&form.instance_url)
        .map_err(|e| format!("Instance URL: {}", e.replace("node URL", "instance URL")))?;
    if instance_url.starts_with("http://") && !form.allow_http {
        return Err("Instance URL: an http:// instance gets the password unencrypted: use https://, or tick Allow plain http:// for a test instance on a trusted network".into());
    }
    let user = form.user.trim().to_owned();
    if user.is_empty() {
        return Err("Proxy user: give the ServiceNow user the node signs in as".into());
    }
    // A saved secret goes only to the instance and user it was saved for: another host (or
    // scheme, or port) or another user must be given it again.
    let same_place = current.filter(|c| {
        origin(&c.instance_url).is_some_and(|o| Some(o) == origin(&instance_url)) && c.user == user
    });
    let password = match (form.password.is_empty(), same_place, current) {
        (false, _, _) => Secret::new(form.password.clone()),
        (true, Some(c), _) => c.password.clone(),
        (true, None, Some(_)) => {
            return Err("Password: the instance URL or the proxy user changed, so give the password again (a saved password is only sent to the instance and user it was saved for)".into());
        }
        (true, None, None) => return Err("Password: give the proxy user's password".into()),
    };
    let client_id = form.client_id.trim();
    let oauth = if client_id.is_empty() {
        None
    } else {
        let saved = same_place
            .and_then(|c| c.oauth.as_ref())
            .filter(|(id, _)| id == client_id);
        let secret = match (form.client_secret.is_empty(), saved) {
            (false, _) => Secret::new(form.client_secret.clone()),
            (true, Some((_, s))) => s.clone(),
            (true, None) if current.and_then(|c| c.oauth.as_ref()).is_some() => {
                return Err("OAuth client secret: the instance URL, the proxy user or the client id changed, so give the client secret again".into());
            }
            (true, None) => {
                return Err("OAuth client secret: give it with the client id, or clear the id for Basic auth".into());
            }
        };
        Some((client_id.to_owned(), secret))
    };
    let mut tables: Vec<String> = form
        .tables
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let mut seen = std::collections::HashSet::new();
    tables.retain(|t| seen.insert(t.clone()));
    if tables.is_empty() {
        tables.push("incident".into());
    }
    if let Some(bad) = tables.iter().find(|t| {
        !t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }) {
        return Err(format!(
            "Tables: '{bad}' is not a table name (lower-case letters, digits and _, e.g. incident)"
        ));
    }
    let poll_secs = match form.poll_secs.trim() {
        "" => DEFAULT_POLL_SECS,
        text => text
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=3600).contains(s))
            .ok_or("Poll interval: seconds between 1 and 3600")?,
    };
    Ok(ServiceNowConfig {
        instance_url,
        user,
        password,
        oauth,
        tables,
        poll_interval: std::time::Duration::from_secs(poll_secs),
        from_console: true,
    })
}

/// Signs in and reads one row of the first table: the settings work.
pub async fn try_connection(config: &ServiceNowConfig) -> Result<(), String> {
    let client = super::client(config).map_err(|e| e.to_string())?;
    let table = config.tables.first().map_or("incident", String::as_str);
    client
        .first_page(table, "", Some("sys_id"), 1)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Saves the settings, secrets sealed.
pub async fn save(
    store: &dyn Store,
    key: &MasterKey,
    config: &ServiceNowConfig,
) -> Result<(), NodeError> {
    let s = Stored {
        instance_url: config.instance_url.clone(),
        user: config.user.clone(),
        password: key.seal(config.password.expose().as_bytes(), PASSWORD_AAD)?,
        client_id: config.oauth.as_ref().map(|(id, _)| id.clone()),
        client_secret: config
            .oauth
            .as_ref()
            .map(|(_, s)| key.seal(s.expose().as_bytes(), CLIENT_SECRET_AAD))
            .transpose()?,
        tables: config.tables.clone(),
        poll_secs: config.poll_interval.as_secs(),
    };
    let text = serde_json::to_string(&s)
        .map_err(|e| NodeError::Internal(format!("the ServiceNow settings: {e}")))?;
    store.set_setting(SETTING, &text).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> Form {
        Form {
            instance_url: "https://acme.service-now.com/".into(),
            user: "tandem.proxy".into(),
            password: "p".into(),
            tables: "incident, problem".into(),
            ..Form::default()
        }
    }

    #[test]
    fn a_form_is_checked_and_empty_secrets_keep_the_saved_ones() {
        let c = check(&form(), None).expect("valid");
        assert_eq!(c.instance_url, "https://acme.service-now.com");
        assert_eq!(c.tables, ["incident", "problem"]);
        assert_eq!(c.poll_interval.as_secs(), DEFAULT_POLL_SECS);
        let repeated = Form {
            tables: "incident, problem, incident, sc_req_item, problem".into(),
            ..form()
        };
        assert_eq!(
            check(&repeated, None).expect("valid").tables,
            ["incident", "problem", "sc_req_item"],
            "a table named twice, even apart, is synced once"
        );
        let kept = check(
            &Form {
                password: String::new(),
                ..form()
            },
            Some(&c),
        )
        .expect("password kept");
        assert_eq!(kept.password.expose(), "p");
        for (bad, says) in [
            (
                Form {
                    instance_url: "acme".into(),
                    ..form()
                },
                "Instance URL",
            ),
            (
                Form {
                    user: " ".into(),
                    ..form()
                },
                "Proxy user",
            ),
            (
                Form {
                    password: String::new(),
                    ..form()
                },
                "Password",
            ),
            (
                Form {
                    tables: "Incident".into(),
                    ..form()
                },
                "Tables",
            ),
            (
                Form {
                    poll_secs: "0".into(),
                    ..form()
                },
                "Poll interval",
            ),
            (
                Form {
                    client_id: "c".into(),
                    ..form()
                },
                "client secret",
            ),
        ] {
            let e = check(&bad, None).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn a_saved_secret_goes_only_to_its_instance_and_user_and_http_needs_the_flag() {
        let saved = check(
            &Form {
                client_id: "cid".into(),
                client_secret: "cs".into(),
                ..form()
            },
            None,
        )
        .expect("valid");
        let keep = |instance_url: &str, user: &str, client_id: &str| {
            check(
                &Form {
                    instance_url: instance_url.into(),
                    user: user.into(),
                    password: String::new(),
                    client_id: client_id.into(),
                    allow_http: true,
                    ..form()
                },
                Some(&saved),
            )
        };
        let same = keep("https://acme.service-now.com:443/", "tandem.proxy", "cid")
            .expect("the same instance and user keep the secrets");
        assert_eq!(same.password.expose(), "p");
        for (url, user, id) in [
            ("https://evil.example", "tandem.proxy", "cid"),
            ("http://acme.service-now.com", "tandem.proxy", "cid"),
            ("https://acme.service-now.com:8443", "tandem.proxy", "cid"),
            ("https://acme.service-now.com", "admin", "cid"),
        ] {
            let e = keep(url, user, id).unwrap_err();
            assert!(e.contains("Password") && e.contains("again"), "{url}: {e}");
        }
        let e = keep("https://acme.service-now.com", "tandem.proxy", "other").unwrap_err();
        assert!(e.contains("client secret again"), "{e}");

        let http = Form {
            instance_url: "http://acme.example".into(),
            ..form()
        };
        assert!(check(&http, None).unwrap_err().contains("http://"));
        assert!(
            check(
                &Form {
                    allow_http: true,
                    ..http
                },
                None
            )
            .is_ok()
        );
    }
}
