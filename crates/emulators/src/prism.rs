//! The contract harness the Jira tests share: Stoplight Prism in proxy mode
//! (`prism proxy --errors <Atlassian's OpenAPI> <upstream>`) in front of an emulator, so every
//! request and every answer is checked against Atlassian's official document. With `--errors`
//! Prism answers a violation itself (`application/problem+json`, an `sl-violations` header)
//! instead of passing the exchange on; [`violation`] recognises such an answer.
//!
//! The document is `shared/reference/jira-cloud-platform-openapi.v3.json` beside the
//! repository (`$TANDEM_SHARED_DIR` overrides). Prism (`@stoplight/prism-cli`, pinned to
//! [`PRISM_VERSION`]) comes from `$TANDEM_PRISM`, which `scripts/test` sets after installing it
//! under the target directory. Without it a test installs it with npm into the directory it
//! names; in CI (`CI=true`) a missing `$TANDEM_PRISM` is an error, so a contract check can
//! never be skipped or slowed by an install there.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The Prism release the contract tests are written against.
pub const PRISM_VERSION: &str = "5.16.0";

/// `shared/` beside the repository, or `$TANDEM_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("TANDEM_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// Atlassian's OpenAPI document for Jira Cloud.
pub fn jira_spec() -> Result<PathBuf, String> {
    let spec = shared_dir().join("reference/jira-cloud-platform-openapi.v3.json");
    if spec.is_file() {
        Ok(spec)
    } else {
        Err(format!(
            "Atlassian's OpenAPI document is missing at {} (set TANDEM_SHARED_DIR)",
            spec.display()
        ))
    }
}

/// The prism executable: `$TANDEM_PRISM`, or one installed once under `install_dir`.
pub fn prism_bin(install_dir: &Path) -> Result<PathBuf, String> {
    static PRISM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PRISM
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("TANDEM_PRISM") {
                return Ok(PathBuf::from(p));
            }
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                return Err(
                    "TANDEM_PRISM is not set: in CI the contract tests need Prism \
                            installed beforehand (./scripts/test installs it and sets \
                            TANDEM_PRISM); they are never skipped"
                        .into(),
                );
            }
            let dir = install_dir.join("prism");
            let bin = dir.join("node_modules/.bin/prism");
            if bin.is_file() {
                return Ok(bin);
            }
            let out = Command::new("npm")
                .args(["install", "--no-fund", "--no-audit", "--prefix"])
                .arg(&dir)
                .arg(format!("@stoplight/prism-cli@{PRISM_VERSION}"))
                .output()
                .map_err(|e| {
                    format!(
                        "cannot run npm to install Prism (install npm, or run ./scripts/test): {e}"
                    )
                })?;
            if !out.status.success() {
                return Err(format!(
                    "npm could not install Prism: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(bin)
        })
        .clone()
}

/// A Prism proxy in front of an upstream; killed when dropped.
pub struct Prism {
    child: Child,
    /// Where to send requests: `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prism {
    /// Starts `prism proxy --errors` for Atlassian's document in front of `upstream`, and waits
    /// (blocking, up to three minutes) until it says it listens.
    pub fn start(upstream: &str, install_dir: &Path) -> Result<Self, String> {
        let bin = prism_bin(install_dir)?;
        let spec = jira_spec()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port for Prism: {e}"))?;
        let mut child = Command::new(&bin)
            .args([
                "proxy",
                "--errors",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            .arg(spec)
            .arg(upstream)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("Prism's output is not piped")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("Prism is listening") {
                    let _ = tx.send(());
                }
            }
        });
        let prism = Prism {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        rx.recv_timeout(Duration::from_secs(180))
            .map_err(|_| "Prism did not start listening within 180 s".to_owned())?;
        Ok(prism)
    }
}

/// Prism's complaint about an exchange, if the answer is one: an `sl-violations` header or an
/// `application/problem+json` body.
pub fn violation(headers: &reqwest::header::HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("sl-violations") {
        return Some(v.to_str().unwrap_or("?").to_owned());
    }
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .filter(|c| c.contains("problem+json"))
        .map(|c| format!("a {c} answer"))
}
