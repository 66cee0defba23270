//! Real clients that nobody here wrote, run unmodified against the emulator over HTTPS:
//! ServiceNow's own Python client pysnc and the community client pysnow. Each script tries
//! every operation it exercises (CRUD, each encoded-query operator, paging, the sysparm
//! parameters, journals, attachments, the Batch and Aggregate APIs, OAuth, errors) as a
//! separate check; the test fails when one does not work, so what the connector believes
//! about ServiceNow is what a real client sees.
//!
//! The scripts live in `tests/real-clients/servicenow/` at the workspace root, with the pinned
//! `requirements.txt`. `scripts/test` installs them into a venv and names its interpreter in
//! `TANDEM_REAL_CLIENTS_PYTHON`; without it the test makes the venv itself under the target
//! directory. Without Python it fails, saying what to install: it never skips.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tandem_emulators::servicenow::{self, EmulatorConfig, EmulatorUser, InvalidQuery};

const USER: &str = "integration";
const PASSWORD: &str = "pa55 word:with&odd=chars";
const CLIENT_ID: &str = "real-clients";
const CLIENT_SECRET: &str = "s3cret/with+plus";
/// How long one client's whole run may take.
const RUN_DEADLINE: Duration = Duration::from_secs(300);

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/real-clients/servicenow")
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A Python interpreter with the pinned clients: `TANDEM_REAL_CLIENTS_PYTHON`, or a venv made
/// once under the target directory (remade when requirements.txt changes).
fn python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("TANDEM_REAL_CLIENTS_PYTHON") {
                return Ok(PathBuf::from(p));
            }
            let requirements = scripts_dir().join("requirements.txt");
            let wanted = std::fs::read_to_string(&requirements)
                .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
            let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-clients-venv");
            let python = venv.join("bin/python");
            let marker = venv.join("installed-requirements.txt");
            if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
                return Ok(python);
            }
            run(
                Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv),
                "making a venv for the real clients (install python3 and python3-venv, or run ./scripts/test)",
            )?;
            run(
                Command::new(&python)
                    .args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "-r"])
                    .arg(&requirements),
                "installing the pinned real clients from PyPI",
            )?;
            std::fs::write(&marker, wanted).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
            Ok(python)
        })
        .clone()
}

/// Tried and working operations, from the script's last summary line.
fn counts(stdout: &str, client: &str) -> Option<(usize, usize)> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with(&format!("{client}: ")) && l.ends_with("operations working"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    Some((words.get(3)?.parse().ok()?, words.get(1)?.parse().ok()?))
}

/// Starts an HTTPS emulator and runs one client's script against it.
async fn real_client(script: &str, client: &'static str, at_least: usize) {
    let python = tokio::task::spawn_blocking(python)
        .await
        .expect("the venv task")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut config = EmulatorConfig::new("127.0.0.1:0".parse().expect("address"))
        .with_oauth_client(CLIENT_ID, CLIENT_SECRET);
    config.users.push(EmulatorUser {
        user_name: USER.into(),
        password: PASSWORD.into(),
        name: "Integration User".into(),
    });
    config.tls = true;
    // Strict: a term the emulator would drop is a 400 naming it, so no check can pass by
    // getting every row back from a condition that was silently ignored.
    config.invalid_query = InvalidQuery::Reject;
    let emulator = servicenow::start(config).await.expect("emulator starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = dir.path().join("emulator.pem");
    std::fs::write(&ca, emulator.certificate_pem().expect("a certificate"))
        .expect("write the certificate");
    let mut child = Command::new(&python)
        .arg(scripts_dir().join(script))
        .current_dir(dir.path())
        .env("SNOW_URL", emulator.base_url())
        .env("SNOW_CA_BUNDLE", &ca)
        .env("REQUESTS_CA_BUNDLE", &ca)
        .env("SNOW_USER", USER)
        .env("SNOW_PASSWORD", PASSWORD)
        .env("SNOW_CLIENT_ID", CLIENT_ID)
        .env("SNOW_CLIENT_SECRET", CLIENT_SECRET)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONPATH", scripts_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        }),
    );
    let deadline = Instant::now() + RUN_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{client} did not finish within {RUN_DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let out = readers.0.join().expect("stdout reader");
    let err = readers.1.join().expect("stderr reader");
    print!("{out}");
    eprint!("{err}");
    emulator.shutdown().await.expect("clean shutdown");
    let (tried, working) = counts(&out, client)
        .unwrap_or_else(|| panic!("{client} printed no summary ({status}); see the output above"));
    assert!(
        status.success() && tried == working,
        "{client}: {working} of {tried} operations working; the failures are listed above"
    );
    assert!(
        tried >= at_least,
        "{client} tried only {tried} operations, fewer than the {at_least} its script has"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysnc_unmodified_works_against_the_emulator_over_https() {
    real_client("pysnc_checks.py", "pysnc", 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysnow_unmodified_works_against_the_emulator_over_https() {
    real_client("pysnow_checks.py", "pysnow", 50).await;
}

#[test]
fn the_summary_line_gives_tried_and_working() {
    assert_eq!(
        counts("ok x\npysnc: 38 of 52 operations working\n", "pysnc"),
        Some((52, 38))
    );
    assert_eq!(counts("pysnc: crashed\n", "pysnc"), None);
}
