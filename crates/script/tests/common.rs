//! Helpers shared by the corpus runners: locating corpora, running a case folder, comparing JSON
//! by value (numbers across int/decimal forms, map key order ignored).

use std::path::{Path, PathBuf};

use serde_json::Value as J;

/// `shared/` beside the repository, or `$TANDEM_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("TANDEM_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

/// Every folder under `root` that holds a `script.groovy`, sorted.
pub fn case_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "script.groovy") {
                out.push(d.clone());
            }
        }
    }
    out.sort();
    out
}

pub fn json_eq(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Number(x), J::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(p), Some(q)) => p == q,
            _ => (x.as_f64().unwrap_or(f64::NAN) - y.as_f64().unwrap_or(f64::NAN)).abs() < 1e-9,
        },
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Runs one case folder through the engine and compares with its `expected.json` (or with
/// `expected` when given). `Err` explains the difference.
pub fn check_case(dir: &Path, expected: Option<&J>) -> Result<(), String> {
    let script = std::fs::read_to_string(dir.join("script.groovy"))
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let input = std::fs::read_to_string(dir.join("input.json"))
        .ok()
        .map(|t| serde_json::from_str::<J>(&t));
    let input = match input {
        Some(Ok(j)) => Some(j),
        Some(Err(e)) => return Err(format!("{}: bad input.json: {e}", dir.display())),
        None => None,
    };
    let owned;
    let expected = match expected {
        Some(e) => e,
        None => {
            let text = std::fs::read_to_string(dir.join("expected.json"))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            owned = serde_json::from_str::<J>(&text)
                .map_err(|e| format!("{}: bad expected.json: {e}", dir.display()))?;
            &owned
        }
    };
    let (actual, failed) = tandem_script::playground::run(&script, input);
    let problem = if expected.get("error").is_some() {
        if !failed {
            Some("Groovy fails here but the engine succeeded".to_string())
        } else {
            None
        }
    } else if failed {
        Some("the engine failed but Groovy succeeds".to_string())
    } else if !json_eq(&actual["result"], &expected["result"]) {
        Some("the result differs".to_string())
    } else {
        None
    };
    let problem = problem
        .or_else(|| (actual["stdout"] != expected["stdout"]).then(|| "stdout differs".to_string()))
        .or_else(|| {
            (!json_eq(&actual["variables"], &expected["variables"]))
                .then(|| "variables differ".to_string())
        });
    match problem {
        None => Ok(()),
        Some(p) => Err(format!(
            "{}: {p}\n--- script\n{script}\n--- expected\n{}\n--- actual\n{}",
            dir.display(),
            serde_json::to_string(expected).unwrap_or_default(),
            serde_json::to_string(&actual).unwrap_or_default()
        )),
    }
}

/// Runs every case under `root`; panics listing all failures.
pub fn run_corpus(root: &Path) -> usize {
    let dirs = case_dirs(root);
    assert!(!dirs.is_empty(), "no cases found under {}", root.display());
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| check_case(d, None).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
    dirs.len()
}
