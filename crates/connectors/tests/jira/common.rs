//! One Jira emulator per test, a connector client signed in to it (e-mail + API token on
//! Cloud, a personal access token on Data Center), and the emulator's test hooks.

use std::time::Duration;

use serde_json::{Value, json};
use tandem_connectors::jira::{Auth, Client, ClientConfig, Flavour, RetryPolicy};
use tandem_emulators::jira::{self as emulator, JiraConfig, RunningJira};

pub const USER: &str = "integration@example.com";
/// Shaped like an Atlassian API token (no colon, which Basic auth could not carry).
pub const TOKEN: &str = "ATATT3xFfGF0-odd_chars+and=padding";
pub const MEMBER: &str = "alex.agent@example.com";
pub const PROJECT: &str = "SUP";

pub struct Site {
    pub running: RunningJira,
    pub flavour: Flavour,
    /// Plain HTTP, for what "someone else" does and for the emulator's hooks.
    pub http: reqwest::Client,
}

pub fn config(flavour: Flavour) -> JiraConfig {
    let mut c = JiraConfig::new("127.0.0.1:0".parse().expect("address"))
        .with_user(USER, TOKEN, "Integration User")
        .with_member(MEMBER, "Alex Agent");
    c.flavour = match flavour {
        Flavour::Cloud => emulator::Flavour::Cloud,
        Flavour::DataCenter => emulator::Flavour::Dc,
    };
    c
}

pub async fn start(flavour: Flavour) -> Site {
    start_with(flavour, config(flavour)).await
}

pub async fn start_with(flavour: Flavour, config: JiraConfig) -> Site {
    let running = emulator::start(config).await.expect("emulator starts");
    Site {
        running,
        flavour,
        http: reqwest::Client::new(),
    }
}

/// Short backoffs, so retries do not slow the tests.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
    }
}

pub fn auth(flavour: Flavour) -> Auth {
    match flavour {
        Flavour::Cloud => Auth::ApiToken {
            email: USER.into(),
            token: TOKEN.into(),
        },
        Flavour::DataCenter => Auth::PersonalAccessToken {
            token: TOKEN.into(),
        },
    }
}

/// A connector client for `base` (the emulator, or a proxy in front of it).
pub fn client_at(base: &str, flavour: Flavour) -> Client {
    let mut config = ClientConfig::new(base, flavour, auth(flavour));
    config.retry = fast_retries();
    Client::new(config).expect("client")
}

impl Site {
    pub fn base(&self) -> String {
        self.running.base_url()
    }

    pub fn client(&self) -> Client {
        client_at(&self.base(), self.flavour)
    }

    fn api(&self) -> String {
        format!("{}/rest/api/{}", self.base(), self.flavour.api_version())
    }

    fn signed(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self.flavour {
            Flavour::Cloud => r.basic_auth(USER, Some(TOKEN)),
            Flavour::DataCenter => r.bearer_auth(TOKEN),
        }
    }

    /// Someone else edits an issue's fields over plain REST.
    pub async fn edit_as_someone(&self, key: &str, fields: Value) {
        let r = self
            .signed(self.http.put(format!("{}/issue/{key}", self.api())))
            .json(&json!({ "fields": fields }))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 204, "{}", r.text().await.unwrap_or_default());
    }

    /// Someone else creates an issue over plain REST; its key.
    pub async fn create_as_someone(&self, summary: &str) -> String {
        let r = self
            .signed(self.http.post(format!("{}/issue", self.api())))
            .json(&json!({"fields": {"project": {"key": PROJECT}, "issuetype": {"name": "Task"}, "summary": summary}}))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.expect("json");
        v["key"].as_str().expect("key").to_owned()
    }

    pub async fn set_faults(&self, faults: Value) {
        let r = self
            .http
            .post(format!("{}/__emulator/faults", self.base()))
            .json(&faults)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
    }

    pub async fn advance_clock(&self, secs: i64) {
        let r = self
            .http
            .post(format!("{}/__emulator/clock", self.base()))
            .json(&json!({ "advance_secs": secs }))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
    }

    /// The signed-in requests the emulator served, as `METHOD /rest/api/path?query`.
    pub async fn requests(&self) -> Vec<String> {
        self.http
            .get(format!("{}/__emulator/requests", self.base()))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    pub async fn stop(self) {
        self.running.shutdown().await.expect("clean shutdown");
    }
}
