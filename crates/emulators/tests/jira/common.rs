//! One Jira emulator per test on 127.0.0.1:0, and a client that signs in as the integration
//! user (Basic e-mail + API token, as Jira Cloud takes it).

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tandem_emulators::jira::{self, JiraConfig, RunningJira};

pub const USER: &str = "integration@example.com";
/// Shaped like an Atlassian API token (they have no colon, which Basic auth could not carry).
pub const TOKEN: &str = "ATATT3xFfGF0-odd_chars+and=padding";
pub const MEMBER: &str = "alex.agent@example.com";
pub const PROJECT: &str = "SUP";

pub struct Jira {
    pub running: RunningJira,
    pub client: reqwest::Client,
    /// Where requests go: the emulator, or a proxy in front of it.
    pub base: String,
}

pub fn config() -> JiraConfig {
    JiraConfig::new("127.0.0.1:0".parse().expect("address"))
        .with_user(USER, TOKEN, "Integration User")
        .with_member(MEMBER, "Alex Agent")
}

pub async fn start() -> Jira {
    start_with(config()).await
}

pub async fn start_with(config: JiraConfig) -> Jira {
    let running = jira::start(config).await.expect("emulator starts");
    let base = running.base_url();
    Jira {
        running,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        base,
    }
}

/// A one-paragraph ADF document.
pub fn adf(text: &str) -> Value {
    json!({"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]})
}

impl Jira {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request signed in as the integration user.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(USER, Some(TOKEN))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub async fn send(&self, method: Method, path: &str, body: Value) -> Response {
        self.req(method, path)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Sends JSON and expects `status`; the answer's JSON (null when empty).
    pub async fn expect(&self, method: Method, path: &str, body: Value, status: u16) -> Value {
        let r = self.send(method.clone(), path, body).await;
        let got = r.status().as_u16();
        let text = r.text().await.expect("body");
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json")
        }
    }

    /// Creates an issue in `SUP` through v3; its key.
    pub async fn create(&self, issue_type: &str, summary: &str, extra: Value) -> String {
        let mut fields = json!({"project": {"key": PROJECT}, "issuetype": {"name": issue_type}, "summary": summary});
        if let (Some(f), Some(e)) = (fields.as_object_mut(), extra.as_object()) {
            f.extend(e.clone());
        }
        let created = self
            .expect(
                Method::POST,
                "/rest/api/3/issue",
                json!({ "fields": fields }),
                201,
            )
            .await;
        created["key"].as_str().expect("key").to_owned()
    }

    pub async fn transition(&self, key: &str, id: &str, fields: Value) {
        self.expect(
            Method::POST,
            &format!("/rest/api/3/issue/{key}/transitions"),
            json!({"transition": {"id": id}, "fields": fields}),
            204,
        )
        .await;
    }

    pub async fn advance_clock(&self, secs: i64) {
        let r = self
            .client
            .post(format!("{}/__emulator/clock", self.running.base_url()))
            .json(&json!({ "advance_secs": secs }))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
    }

    pub async fn set_faults(&self, faults: Value) {
        let r = self
            .client
            .post(format!("{}/__emulator/faults", self.running.base_url()))
            .json(&faults)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
    }

    pub async fn stop(self) {
        self.running.shutdown().await.expect("clean shutdown");
    }
}
