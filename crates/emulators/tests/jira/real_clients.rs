//! Real Jira clients that nobody here wrote, run unmodified against the emulator as against
//! Jira Cloud: the `jira` library (pycontribs) and atlassian-python-api. Each script tries every
//! operation it exercises as a separate check; the test fails when one does not work.
//!
//! The scripts live in `tests/real-clients/jira/` at the workspace root with the pinned
//! `requirements.txt`. `scripts/test` installs them into a venv and names its interpreter in
//! `TANDEM_JIRA_CLIENTS_PYTHON`; without it the test makes the venv itself under the target
//! directory. Without Python it fails, saying what to install: it never skips.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::common::{MEMBER, PROJECT, TOKEN, USER, start};

const RUN_DEADLINE: Duration = Duration::from_secs(300);

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/real-clients/jira")
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

/// A Python with the pinned clients: `TANDEM_JIRA_CLIENTS_PYTHON`, or a venv made once under
/// the target directory (remade when requirements.txt changes).
fn python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("TANDEM_JIRA_CLIENTS_PYTHON") {
                return Ok(PathBuf::from(p));
            }
            let requirements = scripts_dir().join("requirements.txt");
            let wanted = std::fs::read_to_string(&requirements).map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
            let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-clients-jira-venv");
            let python = venv.join("bin/python");
            let marker = venv.join("installed-requirements.txt");
            if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
                return Ok(python);
            }
            run(
                Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv),
                "making a venv for the real Jira clients (install python3 and python3-venv, or run ./scripts/test)",
            )?;
            run(
                Command::new(&python).args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "-r"]).arg(&requirements),
                "installing the pinned real Jira clients from PyPI",
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

async fn real_client(script: &str, client: &'static str, at_least: usize) {
    let python = tokio::task::spawn_blocking(python)
        .await
        .expect("the venv task")
        .unwrap_or_else(|e| panic!("{e}"));
    let jira = start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(&python)
        .arg(scripts_dir().join(script))
        .current_dir(dir.path())
        .env("JIRA_URL", jira.running.base_url())
        .env("JIRA_USER", USER)
        .env("JIRA_TOKEN", TOKEN)
        .env("JIRA_PROJECT", PROJECT)
        .env("JIRA_MEMBER_EMAIL", MEMBER)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONPATH", scripts_dir())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
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
    jira.stop().await;
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
async fn pycontribs_jira_unmodified_works_against_the_emulator() {
    real_client("pycontribs_checks.py", "pycontribs-jira", 22).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn atlassian_python_api_unmodified_works_against_the_emulator() {
    real_client("atlassian_checks.py", "atlassian-python-api", 21).await;
}

#[test]
fn the_summary_line_gives_tried_and_working() {
    assert_eq!(
        counts(
            "ok x\npycontribs-jira: 20 of 22 operations working\n",
            "pycontribs-jira"
        ),
        Some((22, 20))
    );
    assert_eq!(
        counts("pycontribs-jira: crashed\n", "pycontribs-jira"),
        None
    );
}
