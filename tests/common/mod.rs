//! Test support: real nodes on loopback ports chosen by the OS, each with its own temporary
//! data directory, and HTTP clients for the API and the console.

use std::path::PathBuf;

pub mod tap;

use tandem_node::config::{Config, Secret};
use tandem_node::{RunningNode, start};

pub const PASSWORD: &str = "correct horse battery";
pub const TOKEN: &str = "test-admin-token-0123456789";

pub struct TestNode {
    pub node: Option<RunningNode>,
    pub url: String,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestNode {
    /// A node with an admin password and an admin API token.
    pub async fn start() -> TestNode {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            admin_password: Some(Secret::new(PASSWORD)),
            admin_token: Some(Secret::new(TOKEN)),
            // Every test node lives on loopback: it may call other nodes there.
            allow_private_destinations: true,
            ..Config::default()
        };
        adjust(&mut config);
        let data_dir = config.data_dir.clone();
        let node = start(config).await.expect("node starts");
        TestNode {
            url: node.local_url(),
            node: Some(node),
            data_dir,
            _dir: dir,
        }
    }

    /// A node on a store the test keeps a handle of (to limit its growth: a full disk at an
    /// exact point, see `SqliteStore::limit_growth`).
    pub async fn start_on_own_store()
    -> (TestNode, std::sync::Arc<tandem_store::sqlite::SqliteStore>) {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            admin_password: Some(Secret::new(PASSWORD)),
            admin_token: Some(Secret::new(TOKEN)),
            allow_private_destinations: true,
            ..Config::default()
        };
        std::fs::create_dir_all(&config.data_dir).expect("data dir");
        let path = config.data_dir.join(tandem_node::server::DATABASE_FILE);
        let store = std::sync::Arc::new(
            tandem_store::sqlite::SqliteStore::open(&path, Default::default())
                .expect("store opens"),
        );
        let data_dir = config.data_dir.clone();
        let node = tandem_node::server::start_with_store(config, store.clone())
            .await
            .expect("node starts");
        let node = TestNode {
            url: node.local_url(),
            node: Some(node),
            data_dir,
            _dir: dir,
        };
        (node, store)
    }

    pub fn api(&self) -> Api {
        Api {
            base: format!("{}/api/v1", self.url),
            client: reqwest::Client::new(),
            token: Some(TOKEN.into()),
        }
    }

    pub async fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown().await.expect("clean shutdown");
        }
    }
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub token: Option<String>,
}

impl Api {
    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.auth(self.client.get(format!("{}{path}", self.base)))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.auth(self.client.post(format!("{}{path}", self.base)))
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.auth(self.client.patch(format!("{}{path}", self.base)))
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.auth(self.client.delete(format!("{}{path}", self.base)))
    }

    /// Sends a JSON body and returns the status and the JSON answer.
    pub async fn json(
        &self,
        req: reqwest::RequestBuilder,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let resp = req.json(&body).send().await.expect("request");
        read(resp).await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        read(req.send().await.expect("request")).await
    }

    pub async fn project(&self, key: &str) {
        let (status, body) = self
            .json(
                self.post("/projects"),
                serde_json::json!({"key": key, "name": format!("Project {key}")}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    pub async fn item(&self, body: serde_json::Value) -> serde_json::Value {
        let (status, item) = self.json(self.post("/items"), body).await;
        assert_eq!(status, 201, "{item}");
        item
    }
}

pub async fn read(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, value)
}
