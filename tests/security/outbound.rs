//! What a node fetches and sends on others' behalf: the probe, destination checks, tracker credentials, httpClient paths, attachments served, files on disk.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::common::{Api, TestNode};

/// A plain TCP server on loopback that records each request's head (request line and headers)
/// and answers with what `answer` gives for the request line.
struct Recorder {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start(answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        let answer = Arc::new(answer);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    let line = head.lines().next().unwrap_or_default().to_owned();
                    seen.lock().unwrap().push(head);
                    let _ = socket.write_all(&answer(&line)).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Recorder { port, heads, task }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn http_answer(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The public probe, as anyone on the network may call it.
async fn probe(node: &TestNode, url: &str) -> (u16, Value) {
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/node/v1/probe", node.url))
        .json(&json!({ "url": url }))
        .send()
        .await
        .expect("the probe answers");
    crate::common::read(response).await
}

/// A port nothing listens on (bound by the OS, then closed).
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test]
async fn the_probe_answers_a_closed_port_and_an_open_non_http_port_alike() {
    // Loopback allowed (the test nodes' setting), so the probe does reach the ports.
    let node = TestNode::start().await;
    // A Redis-like service: answers anything with an error line of its own protocol.
    let redis = Recorder::start(|_| b"-ERR unknown command 'GET'\r\n".to_vec()).await;
    // A web server that is not a Tandem node.
    let web = Recorder::start(|_| http_answer("403 Forbidden", "text/plain", "no")).await;
    let closed = closed_port().await;

    let (closed_status, closed_answer) = probe(&node, &format!("http://127.0.0.1:{closed}")).await;
    let (redis_status, redis_answer) = probe(&node, &redis.url()).await;
    let (web_status, web_answer) = probe(&node, &web.url()).await;
    assert!(
        !redis.heads().is_empty(),
        "the probe did reach the open port"
    );
    assert_eq!(closed_status, 200, "{closed_answer}");
    assert_eq!(
        (redis_status, &redis_answer),
        (closed_status, &closed_answer),
        "an open non-HTTP port answers as a closed one"
    );
    assert_eq!(
        (web_status, &web_answer),
        (closed_status, &closed_answer),
        "a web server that is not a node answers as a closed port"
    );
    assert!(closed_answer["node_id"].is_null(), "{closed_answer}");
}

#[tokio::test]
async fn by_default_the_probe_and_the_destination_check_refuse_loopback() {
    let target = TestNode::start().await;
    let node = TestNode::start_with(|config| config.allow_private_destinations = false).await;

    // A real node listens there, and the probe still does not call it.
    let (status, answer) = probe(&node, &target.url).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["node_id"].is_null(), "{answer}");
    for url in [
        target.url.clone(),
        target.url.replace("127.0.0.1", "localhost"),
        target.url.replace("127.0.0.1", "[::ffff:127.0.0.1]"),
        target.url.replace("127.0.0.1", "2130706433"),
    ] {
        let (status, answer) = probe(&node, &url).await;
        assert!(answer["node_id"].is_null(), "{url}: {status} {answer}");
    }

    let api = node.api();
    let (status, body) = api
        .json(api.post("/connections/check"), json!({ "url": target.url }))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("private"),
        "the refusal names why: {body}"
    );
}

#[tokio::test]
async fn the_probe_is_rate_limited_per_client() {
    let node = TestNode::start().await;
    let closed = closed_port().await;
    let url = format!("http://127.0.0.1:{closed}");
    let mut limited = false;
    for _ in 0..200 {
        let (status, _) = probe(&node, &url).await;
        if status == 429 {
            limited = true;
            break;
        }
        assert_eq!(status, 200);
    }
    assert!(limited, "200 probes in a row are not all answered");
}

#[tokio::test]
async fn a_declared_node_url_with_a_fragment_query_or_credentials_is_refused() {
    let node = TestNode::start().await;
    let real = TestNode::start().await;
    let (_, info) = crate::common::read(
        reqwest::get(format!("{}/node/v1/info", real.url))
            .await
            .expect("info"),
    )
    .await;
    let api = node.api();
    for trick in ["/admin/delete#", "/x?y=", "@"] {
        // Where the declared URL points: it must hear nothing.
        let declared_host = Recorder::start(|_| {
            http_answer(
                "200 OK",
                "application/json",
                r#"{"node_id": null, "problem": "secret internal answer"}"#,
            )
        })
        .await;
        let declared = match trick {
            "@" => format!("http://user:pw@127.0.0.1:{}", declared_host.port),
            t => format!("{}{t}", declared_host.url()),
        };
        let mut info = info.clone();
        info["node_url"] = Value::String(declared.clone());
        let body = info.to_string();
        // The destination the admin typed: it describes itself with the declared URL.
        let target = Recorder::start(move |line| {
            if line.starts_with("GET /node/v1/info ") {
                http_answer("200 OK", "application/json", &body)
            } else {
                http_answer("404 Not Found", "text/plain", "")
            }
        })
        .await;
        let (status, answer) = api
            .json(
                api.post("/connections/check"),
                json!({ "url": target.url() }),
            )
            .await;
        assert_eq!(status, 400, "{trick}: {answer}");
        assert!(
            answer.to_string().contains("node URL"),
            "{trick}: the refusal names the declared node URL: {answer}"
        );
        assert!(
            !answer.to_string().contains("secret internal answer"),
            "{trick}: {answer}"
        );
        assert!(
            declared_host.heads().is_empty(),
            "{trick}: the node called the declared URL: {:?}",
            declared_host.heads()
        );
    }
}

/// The ServiceNow form as the console posts it.
fn servicenow_form<'a>(
    csrf: &'a str,
    url: &'a str,
    password: &'a str,
    allow_http: bool,
) -> Vec<(&'static str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("instance_url", url),
        ("user", crate::servicenow::PROXY),
        ("password", password),
        ("tables", "incident"),
        ("poll_secs", "1"),
    ];
    if allow_http {
        form.push(("allow_http", "on"));
    }
    form
}

#[tokio::test]
async fn a_new_servicenow_url_needs_the_password_again_and_never_gets_the_old_one() {
    let instance = crate::servicenow::Instance::with(crate::servicenow::emulator_config()).await;
    let node = TestNode::start().await;
    let client = crate::console::browser();
    let csrf = crate::console::login(&node, &client).await;
    let emulator = instance.emu.base_url();
    let post = |form: Vec<(&'static str, &str)>| {
        client
            .post(format!("{}/settings/servicenow", node.url))
            .form(&form)
            .send()
    };

    // Plain http only with the explicit flag.
    let refused = post(servicenow_form(
        &csrf,
        &emulator,
        crate::servicenow::PROXY_PASSWORD,
        false,
    ))
    .await
    .expect("answer");
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.expect("page");
    assert!(text.contains("http://"), "{text}");
    let saved = post(servicenow_form(
        &csrf,
        &emulator,
        crate::servicenow::PROXY_PASSWORD,
        true,
    ))
    .await
    .expect("answer");
    assert_eq!(
        saved.status(),
        200,
        "{}",
        saved.text().await.unwrap_or_default()
    );

    // Another host, the password left empty: refused, and the host never hears the password.
    let other = Recorder::start(|_| {
        http_answer(
            "401 Unauthorized",
            "application/json",
            r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#,
        )
    })
    .await;
    let other_url = other.url();
    let refused = post(servicenow_form(&csrf, &other_url, "", true))
        .await
        .expect("answer");
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.expect("page");
    assert!(
        text.contains("Password") && text.contains("again"),
        "the refusal asks for the password again: {text}"
    );
    for head in other.heads() {
        assert!(
            !head.to_ascii_lowercase().contains("authorization:"),
            "the old credentials reached the new host: {head}"
        );
    }
    // The same host with another user needs the password too.
    let form = vec![
        ("csrf", csrf.as_str()),
        ("instance_url", emulator.as_str()),
        ("user", crate::servicenow::AGENT),
        ("password", ""),
        ("tables", "incident"),
        ("poll_secs", "1"),
        ("allow_http", "on"),
    ];
    let refused = post(form).await.expect("answer");
    assert_eq!(refused.status(), 400);
    instance.emu.shutdown().await.expect("emulator stops");
}

#[tokio::test]
async fn an_attachment_of_active_content_is_served_inert() {
    let node = TestNode::start().await;
    let api = node.api();
    api.project("SEC").await;
    let item = api
        .item(json!({"project": "SEC", "summary": "carrier"}))
        .await;
    let key = item["key"].as_str().expect("key").to_owned();
    let uploaded = api
        .post(&format!("/items/{key}/attachments?filename=evil.js"))
        .header("content-type", "text/javascript")
        .body("fetch('/api/v1/items').then(r => r.text()).then(alert)")
        .send()
        .await
        .expect("upload");
    let (status, body) = crate::common::read(uploaded).await;
    assert_eq!(status, 201, "{body}");
    let id = body[0]["id"].as_i64().expect("id");
    let served = api
        .get(&format!("/items/{key}/attachments/{id}"))
        .send()
        .await
        .expect("download");
    assert_eq!(served.status(), 200);
    let header = |name: &str| {
        served
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/octet-stream");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(
        header("content-security-policy").contains("sandbox"),
        "{}",
        header("content-security-policy")
    );
    assert!(header("content-disposition").starts_with("attachment"));

    // The console's own pages run only the console's script, not any same-origin file.
    let page = reqwest::get(format!("{}/login", node.url))
        .await
        .expect("page");
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap_or_else(|| panic!("no script-src in {csp}"));
    assert!(
        !script_src.contains("'self'") && script_src.contains("/assets/tandem.js"),
        "{csp}"
    );
}

#[tokio::test]
async fn http_client_paths_that_leave_the_rest_api_are_refused() {
    let (instance, a, _b) = crate::servicenow::setup().await;
    let api_a = a.api();
    for path in [
        "/api/now/table/../../../x",
        "/api/%2e%2e/x",
        "/api/now/%2E%2e/%2e%2E/oauth_token.do",
        "/api/now/table/..%2f..%2f..%2fx",
        "/api/now/table\\..\\..\\..\\x",
        "/api/.%2e/x",
    ] {
        let script = format!(
            "if (firstSync) {{ entity.tableName = \"incident\" }}\nentity.short_description = httpClient.http(\"GET\", \"{}\", null, null, [:]) {{ req, res -> \"got \" + res.code }}",
            path.replace('\\', "\\\\")
        );
        let (status, body) = api_a
            .json(
                api_a.patch("/connections/snow_to_eng"),
                json!({ "incoming_script": script }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, tried) = api_a
            .json(
                api_a.post("/connections/snow_to_eng/test/incoming"),
                json!({"replica": {"key": "ENG-1", "summary": "x"}}),
            )
            .await;
        assert_eq!(status, 200, "{tried}");
        assert_eq!(tried["ok"], false, "{path}: {tried}");
        assert!(
            tried.to_string().contains("not a path under"),
            "{path}: the error names the path: {tried}"
        );
    }
    instance.emu.shutdown().await.expect("emulator stops");
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The public key (base64url) of a seed, when `text` decodes to 32 bytes.
fn public_key_of(text: &str) -> Option<String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let seed: [u8; 32] = engine.decode(text).ok()?.try_into().ok()?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    Some(engine.encode(key.verifying_key().to_bytes()))
}

async fn public_key(node: &TestNode) -> (String, String) {
    let (_, info) = crate::common::read(
        reqwest::get(format!("{}/node/v1/info", node.url))
            .await
            .expect("info"),
    )
    .await;
    (
        info["node_id"].as_str().expect("id").to_owned(),
        info["public_key"].as_str().expect("key").to_owned(),
    )
}

fn stored_identity(data_dir: &std::path::Path) -> String {
    let db = rusqlite::Connection::open(data_dir.join("tandem.db")).expect("db");
    db.query_row(
        "SELECT value FROM settings WHERE key = 'node.identity'",
        [],
        |r| r.get(0),
    )
    .expect("an identity")
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_are_private_and_the_identity_key_sealed() {
    let mut node = TestNode::start().await;
    let api: Api = node.api();
    api.project("PRV").await;
    assert_eq!(mode(&node.data_dir), 0o700, "the data directory");
    for file in ["tandem.db", "tandem.db-wal", "tandem.db-shm"] {
        let path = node.data_dir.join(file);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
    }
    assert!(node.data_dir.join("tandem.db").exists());
    let (_, key) = public_key(&node).await;
    node.stop().await;
    let stored = stored_identity(&node.data_dir);
    let (_, sealed) = stored.split_once('.').expect("id.key");
    assert_ne!(
        public_key_of(sealed).as_deref(),
        Some(key.as_str()),
        "the private key is stored in the clear"
    );
}

#[tokio::test]
async fn an_identity_stored_in_the_clear_is_sealed_on_start_and_kept() {
    use base64::Engine as _;
    let mut node = TestNode::start().await;
    let data_dir = node.data_dir.clone();
    node.stop().await;
    // What an older version stored: the id and the seed in the clear.
    let seed = [7u8; 32];
    let id = uuid::Uuid::now_v7();
    let clear = format!(
        "{id}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(seed)
    );
    {
        let db = rusqlite::Connection::open(data_dir.join("tandem.db")).expect("db");
        db.execute(
            "UPDATE settings SET value = ?1 WHERE key = 'node.identity'",
            [&clear],
        )
        .expect("update");
    }
    let expected = public_key_of(&clear[clear.find('.').expect("dot") + 1..]).expect("key");
    let restarted = TestNode::start_with(|c| c.data_dir = data_dir.clone()).await;
    let (node_id, key) = public_key(&restarted).await;
    assert_eq!(node_id, id.to_string(), "the node keeps its id");
    assert_eq!(key, expected, "the node keeps its key");
    let stored = stored_identity(&data_dir);
    assert_ne!(stored, clear);
    let (_, sealed) = stored.split_once('.').expect("id.key");
    assert_ne!(public_key_of(sealed), Some(expected), "sealed in place");
}
