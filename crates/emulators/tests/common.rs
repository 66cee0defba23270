//! One emulator per test on 127.0.0.1:0, and a client that speaks to it as `admin`.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use tandem_emulators::servicenow::{self, EmulatorConfig, EmulatorUser, RunningEmulator};

pub const USER: &str = "admin";
pub const PASSWORD: &str = "s3cret";
pub const DISPLAY_NAME: &str = "System Administrator";
pub const CLIENT_ID: &str = "tandem-client";
pub const CLIENT_SECRET: &str = "client-s3cret";

pub struct Emu {
    pub running: RunningEmulator,
    pub client: reqwest::Client,
}

pub fn config() -> EmulatorConfig {
    let mut config = EmulatorConfig::new("127.0.0.1:0".parse().expect("address"))
        .with_oauth_client(CLIENT_ID, CLIENT_SECRET);
    config.users.push(EmulatorUser {
        user_name: USER.into(),
        password: PASSWORD.into(),
        name: DISPLAY_NAME.into(),
    });
    config
}

pub async fn start() -> Emu {
    start_with(config()).await
}

pub async fn start_with(config: EmulatorConfig) -> Emu {
    let running = servicenow::start(config).await.expect("emulator starts");
    Emu {
        running,
        client: reqwest::Client::new(),
    }
}

impl Emu {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    /// A request authenticated as the admin user.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth(USER, Some(PASSWORD))
    }

    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("json")
    }

    pub async fn send_json(&self, method: Method, path: &str, body: Value) -> Response {
        self.req(method, path)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Inserts a record and returns the `result` object.
    pub async fn create(&self, table: &str, body: Value) -> Value {
        let r = self
            .send_json(Method::POST, &format!("/api/now/table/{table}"), body)
            .await;
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.expect("json")["result"].clone()
    }

    pub async fn patch(&self, table: &str, sys_id: &str, body: Value) -> Value {
        let r = self
            .send_json(
                Method::PATCH,
                &format!("/api/now/table/{table}/{sys_id}"),
                body,
            )
            .await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.expect("json")["result"].clone()
    }

    pub async fn advance_clock(&self, secs: i64) {
        let r = self
            .client
            .post(self.url("/__emulator/clock"))
            .json(&serde_json::json!({ "advance_secs": secs }))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
    }

    pub async fn stop(self) {
        self.running.shutdown().await.expect("clean shutdown");
    }
}

/// The `sys_id` of a result object.
pub fn id(record: &Value) -> String {
    record["sys_id"]
        .as_str()
        .expect("sys_id is a string")
        .to_owned()
}
