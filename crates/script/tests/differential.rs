//! Differential test: a few hundred random programs from a grammar of the supported subset
//! (fixed seed, so repeatable) run through real Groovy 4 (one JVM, via `oracle.sh`) and through
//! the engine; result, stdout and failure must agree. A mismatch prints the program.
//!
//! Needs java 17 (`JAVA_HOME`, default `/usr/lib/jvm/java-17-openjdk-amd64`) and, on the first
//! run, npm to fetch Groovy 4's jars into `~/.cache/tandem-groovy4`. Without java it fails with
//! instructions rather than passing silently.

use std::path::Path;
use std::process::Command;

use crate::common::{case_dirs, check_case, shared_dir};
use crate::fuzz::Rng;

const PROGRAMS: usize = 300;

struct Gen {
    rng: Rng,
}

impl Gen {
    fn lit_int(&mut self) -> String {
        let v = self.rng.below(60) as i64 - 15;
        if v < 0 {
            format!("({v})")
        } else {
            v.to_string()
        }
    }
    fn lit_str(&mut self) -> String {
        let words = ["'a'", "'bc'", "\"Dx\"", "'hello'", "''", "'x y'", "\"Q1\""];
        self.rng.pick(&words).to_string()
    }
    fn int(&mut self, d: usize) -> String {
        if d == 0 {
            return match self.rng.below(4) {
                0 => "a".into(),
                1 => "n".into(),
                _ => self.lit_int(),
            };
        }
        let d = d - 1;
        match self.rng.below(29) {
            24 => format!("{}.count({})", self.str(d), self.lit_str()),
            25 => format!(
                "java.time.LocalDate.of(2024, 1, 31).plusMonths({}).lengthOfMonth()",
                self.rng.below(14)
            ),
            26 => format!(
                "java.time.temporal.ChronoUnit.DAYS.between(java.time.LocalDate.of(2024, 2, 1), java.time.LocalDate.of(2024, 2, 1).plusDays({}))",
                self.int(d)
            ),
            27 => format!(
                "({}.with {{ it.tokenize() }}.findIndexValues {{ it.size() > 1 }}.size())",
                self.str(d)
            ),
            28 => format!(
                "[{}, {}].indexOf({})",
                self.int(d),
                self.int(d),
                self.int(d)
            ),
            17 => format!("{}.indexOf({})", self.str(d), self.lit_str()),
            18 => format!("{}.findIndexOf {{ it > {} }}", self.list(d), self.lit_int()),
            19 => format!(
                "({}.find {{ it > {} }} ?: {})",
                self.list(d),
                self.lit_int(),
                self.int(d)
            ),
            20 => format!("{}.size()", self.map(d)),
            21 => format!("{}.tokenize().size()", self.str(d)),
            22 => format!(
                "{}.inject(0) {{ acc, e -> acc + e.key.length() }}",
                self.map(d)
            ),
            23 => format!("({}.max() ?: 0)", self.list(d)),
            0 => format!("({} + {})", self.int(d), self.int(d)),
            1 => format!("({} - {})", self.int(d), self.int(d)),
            2 => format!("({} * {})", self.int(d), self.int(d)),
            3 => format!("({} % {})", self.int(d), self.rng.pick(&[2, 3, 5, 7])),
            4 => format!("{}.intdiv({})", self.int(d), self.rng.pick(&[2, 3, 4])),
            5 => format!("{}.size()", self.list(d)),
            6 => format!("{}.length()", self.str(d)),
            7 => format!("Math.max({}, {})", self.int(d), self.int(d)),
            8 => format!("({} ? {} : {})", self.bool(d), self.int(d), self.int(d)),
            9 => format!("{}.count {{ it > {} }}", self.list(d), self.lit_int()),
            10 => format!("({} ** {})", self.int(d), self.rng.below(3)),
            11 => format!("[{}, {}].sum()", self.int(d), self.int(d)),
            12 => format!("{}.inject(0) {{ acc, x -> acc + x }}", self.list(d)),
            13 => format!("Math.abs({})", self.int(d)),
            14 => format!("[{}, {}, {}].max()", self.int(d), self.int(d), self.int(d)),
            15 => format!("({} <=> {})", self.int(d), self.int(d)),
            _ => self.int(0),
        }
    }
    fn num(&mut self, d: usize) -> String {
        match self.rng.below(8) {
            5 => format!(
                "(new BigDecimal({}) / {}).setScale({}, java.math.RoundingMode.{})",
                self.int(d),
                self.rng.pick(&[3, 4, 6, 7, 8]),
                self.rng.below(3),
                self.rng.pick(&[
                    "HALF_UP",
                    "HALF_EVEN",
                    "HALF_DOWN",
                    "UP",
                    "DOWN",
                    "CEILING",
                    "FLOOR"
                ])
            ),
            // never `(n) + …`: Groovy reads `(n)` before a sign as a cast to a type `n`
            6 => format!("({} + 0.125).round({})", self.int(d), self.rng.below(3)),
            7 => format!(
                "new BigDecimal({}).divide({}, 2, java.math.RoundingMode.HALF_UP)",
                self.int(d),
                self.rng.pick(&[3, 7, 9])
            ),
            0 => format!("({} / {})", self.int(d), self.rng.pick(&[2, 3, 4, 5, 7, 8])),
            1 => format!(
                "({} + {})",
                self.int(d),
                self.rng.pick(&["0.5", "1.25", "0.1"])
            ),
            2 => format!(
                "({} * {})",
                self.rng.pick(&["1.5", "2.0", "0.2"]),
                self.int(d)
            ),
            _ => self.int(d),
        }
    }
    fn bool(&mut self, d: usize) -> String {
        if d == 0 {
            return self.rng.pick(&["true", "false", "flag"]).to_string();
        }
        let d = d - 1;
        match self.rng.below(22) {
            17 => format!(
                "({} {} {})",
                self.bool(d),
                self.rng.pick(&["^", "&", "|"]),
                self.bool(d)
            ),
            18 => format!(
                "({} in {}..{})",
                self.int(d),
                self.lit_int(),
                self.lit_int()
            ),
            19 => format!("{}.contains({}L)", self.list(d), self.rng.below(5)),
            20 => format!(
                "(new Date({} * 86400000L).before(new Date({} * 3600000L)))",
                self.int(d),
                self.int(d)
            ),
            21 => format!("({}.equals({}))", self.num(d), self.num(d)),
            11 => format!("({} ==~ /[a-z]+/)", self.str(d)),
            12 => format!("(({} =~ /b/) as boolean)", self.str(d)),
            13 => format!(
                "{}.containsKey({})",
                self.map(d),
                self.rng.pick(&["'a'", "'k'", "'z'"])
            ),
            14 => format!("{}.every {{ it > {} }}", self.list(d), self.lit_int()),
            15 => format!("{}.any {{ k, v -> v == 1 }}", self.map(d)),
            16 => format!(
                "({} instanceof {})",
                self.any(d),
                self.rng
                    .pick(&["String", "Integer", "List", "Map", "BigDecimal", "Number"])
            ),
            0 => format!("({} < {})", self.int(d), self.int(d)),
            1 => format!("({} == {})", self.num(d), self.num(d)),
            2 => format!("!{}", self.bool(d)),
            3 => format!("({} && {})", self.bool(d), self.bool(d)),
            4 => format!("({} || {})", self.bool(d), self.bool(d)),
            5 => format!("({} in {})", self.int(d), self.list(d)),
            6 => format!("{}.contains({})", self.str(d), self.lit_str()),
            7 => format!("{}.any {{ it % 2 == 0 }}", self.list(d)),
            8 => format!("({} as boolean)", self.list(d)),
            9 => format!("({} != {})", self.str(d), self.str(d)),
            _ => format!("({} ?: false)", self.bool(d)),
        }
    }
    fn str(&mut self, d: usize) -> String {
        if d == 0 {
            return match self.rng.below(3) {
                0 => "s".into(),
                _ => self.lit_str(),
            };
        }
        let d = d - 1;
        match self.rng.below(37) {
            27 => format!("{}.takeRight({})", self.str(d), self.rng.below(4)),
            28 => format!("{}.tr('a-e', 'v-z')", self.str(d)),
            29 => format!(
                "{}.split('{}', {}).join('+')",
                self.str(d),
                self.rng.pick(&["b", "l", " "]),
                self.rng.below(4) as i64 - 1
            ),
            30 => format!("{}.inspect()", self.str(d)),
            31 => format!(
                "new Date({} * 86400000L).format('{}', TimeZone.getTimeZone('UTC'))",
                self.int(d),
                self.rng
                    .pick(&["yyyy-MM-dd", "EEE d MMM yy", "D w u", "dd/MM/yyyy HH:mm a"])
            ),
            32 => format!(
                "java.time.LocalDate.of(2024, 2, 29).plusDays({}).toString()",
                self.int(d)
            ),
            33 => format!("java.time.Duration.ofMinutes({}).toString()", self.int(d)),
            34 => format!("Integer.toHexString({})", self.int(d)),
            35 => format!("({} << {}).toString()", self.str(d), self.str(d)),
            36 => format!("({}.find {{ it > 'b' }} ?: '-')", self.str(d)),
            22 => "(m.zz ?: 'none')".to_string(),
            23 => "(m.a?.toString() ?: '-')".to_string(),
            24 => "String.valueOf(m.zz?.length())".to_string(),
            25 => format!("(m.\"${{{}}}\" ?: 'dyn')", self.str(d)),
            26 => format!("[{}, {}].findAll().join('|')", self.str(d), self.str(d)),
            13 => format!("{}.replaceAll(/[aeiou]/, '_')", self.str(d)),
            14 => format!(
                "{}.replaceAll(/([a-z])/) {{ all, c -> c.toUpperCase() }}",
                self.str(d)
            ),
            15 => format!("{}.split(',').join('+')", self.str(d)),
            16 => format!("{}.toLowerCase().capitalize()", self.str(d)),
            17 => format!("{}.keySet().join('')", self.map(d)),
            18 => format!(
                "{}.collect {{ k, v -> k + '=' + v }}.join('&')",
                self.map(d)
            ),
            19 => format!("({} ?: 'empty')", self.str(d)),
            20 => format!("{}.padRight({}, '.')", self.str(d), self.rng.below(6)),
            21 => format!("{}.groupBy {{ it % 2 }}.toString()", self.list(d)),
            0 => format!("({} + {})", self.str(d), self.str(d)),
            1 => format!("{}.toUpperCase()", self.str(d)),
            2 => format!("\"<${{{}}}|${{{}}}>\"", self.num(d), self.str(d)),
            3 => format!("({} * {})", self.str(d), self.rng.below(3)),
            4 => format!("{}.reverse()", self.str(d)),
            5 => format!("{}.join('-')", self.list(d)),
            6 => format!("{}.take({})", self.str(d), self.rng.below(4)),
            7 => format!("{}.padLeft({}, '*')", self.str(d), self.rng.below(6)),
            8 => format!("{}.toString()", self.num(d)),
            9 => format!("({} + {})", self.str(d), self.num(d)),
            10 => format!("{}.toString()", self.list(d)),
            11 => format!("\"$s.${{{}}}\"", self.int(d)),
            _ => format!("{}.capitalize()", self.str(d)),
        }
    }
    fn list(&mut self, d: usize) -> String {
        if d == 0 {
            return match self.rng.below(3) {
                0 => "l".into(),
                _ => format!("[{}, {}]", self.lit_int(), self.lit_int()),
            };
        }
        let d = d - 1;
        match self.rng.below(23) {
            18 => format!(
                "{}.collate({}).collect {{ it.sum() }}",
                self.list(d),
                1 + self.rng.below(3)
            ),
            19 => format!(
                "{}.collect {{ ({{ it + 1 }} >> {{ it * 2 }})(it) }}",
                self.list(d)
            ),
            20 => format!(
                "{}.withIndex({}).collect {{ v, i -> v * i }}",
                self.list(d),
                self.rng.below(3)
            ),
            21 => format!("{}.plus(0, {})", self.list(d), self.int(d)),
            22 => format!(
                "{}.collect {{ {{ a, b -> a - b }}.curry({})(it) }}",
                self.list(d),
                self.int(d)
            ),
            12 => format!("{}.withIndex().collect {{ v, i -> v * i }}", self.list(d)),
            13 => format!("{}*.toString().collect {{ it.size() }}", self.list(d)),
            14 => format!(
                "{}.values().toList().findAll {{ it instanceof Integer }}",
                self.map(d)
            ),
            15 => format!(
                "[{}, [{}, [{}]]].flatten()",
                self.int(d),
                self.int(d),
                self.int(d)
            ),
            16 => format!("{}.sort(false) {{ a, b -> b <=> a }}", self.list(d)),
            17 => format!(
                "{}.split(',').toList().collect {{ it.size() }}",
                self.str(d)
            ),
            0 => format!("[{}, {}, {}]", self.int(d), self.int(d), self.int(d)),
            1 => format!("{}.collect {{ it * 2 }}", self.list(d)),
            2 => format!("{}.findAll {{ it % 2 == 0 }}", self.list(d)),
            3 => format!("({} + [{}])", self.list(d), self.int(d)),
            4 => format!("{}.sort(false)", self.list(d)),
            5 => format!("{}.reverse()", self.list(d)),
            6 => format!("{}.unique(false)", self.list(d)),
            7 => format!("{}.take({})", self.list(d), self.rng.below(4)),
            8 => format!("({}..{}).toList()", self.rng.below(5), self.rng.below(5)),
            9 => format!("({} - [{}])", self.list(d), self.lit_int()),
            10 => format!(
                "{}.collect {{ x -> x.toString() + '!' }}.collect {{ it.length() }}",
                self.list(d)
            ),
            _ => "l".into(),
        }
    }
    fn map(&mut self, d: usize) -> String {
        match self.rng.below(7) {
            4 => format!(
                "{}.collectEntries {{ [(it.toString()): it * 2] }}",
                self.list(d)
            ),
            5 => "m.sort { it.key }".to_string(),
            6 => format!("(m + [(({}).toString()): {}])", self.str(d), self.int(d)),
            0 => format!("[k: {}, v: {}]", self.int(d), self.str(d)),
            1 => format!("(m + [z: {}])", self.num(d)),
            2 => "m.findAll { k, v -> k != 'a' }".to_string(),
            _ => "m".into(),
        }
    }
    fn any(&mut self, d: usize) -> String {
        match self.rng.below(6) {
            0 => self.int(d),
            1 => self.num(d),
            2 => self.bool(d),
            3 => self.str(d),
            4 => self.list(d),
            _ => self.map(d),
        }
    }
    fn stmt(&mut self, d: usize) -> String {
        match self.rng.below(9) {
            0 => format!("a = {}", self.int(d)),
            1 => format!("s = {}", self.str(d)),
            2 => format!("l = {}", self.list(d)),
            3 => format!("println {}", self.any(d)),
            4 => format!(
                "if ({}) {{\n  n += {}\n}} else {{\n  out << {}\n}}",
                self.bool(d),
                self.int(d),
                self.any(d)
            ),
            5 => format!("for (x in {}) {{\n  n = n + x\n}}", self.list(d)),
            6 => format!(
                "switch ({}) {{\n  case 0..5: out << 'low'; break\n  case [6, 7, 8]: out << 'mid'\n  default: out << 'other'\n}}",
                self.int(d)
            ),
            // never the map itself: a map containing itself has no JSON form
            7 => format!("m.{} = {}", self.rng.pick(&["a", "b", "c"]), self.str(d)),
            _ => format!("out << {}", self.any(d)),
        }
    }
    fn program(&mut self) -> String {
        let mut p = String::from(
            "def a = 3\ndef n = 0\ndef s = 'ab'\ndef l = [1, 2, 3]\ndef m = [a: 1, b: 'two']\ndef flag = true\ndef out = []\n",
        );
        for _ in 0..(2 + self.rng.below(5)) {
            let d = 1 + self.rng.below(3);
            p.push_str(&self.stmt(d));
            p.push('\n');
        }
        let d = 1 + self.rng.below(3);
        p.push_str(&format!("return [a, n, s, l, m, out, {}]\n", self.any(d)));
        p
    }
}

fn java_home() -> String {
    std::env::var("JAVA_HOME").unwrap_or_else(|_| "/usr/lib/jvm/java-17-openjdk-amd64".into())
}

fn run_oracle(dir: &Path) {
    let java = Path::new(&java_home()).join("bin/java");
    assert!(
        java.exists() || Command::new("java").arg("-version").output().is_ok(),
        "the differential test needs java 17: install openjdk-17 (apt-get install -y openjdk-17-jdk-headless) or set JAVA_HOME"
    );
    let oracle = shared_dir().join("conformance/oracle.sh");
    let out = Command::new("bash")
        .arg(&oracle)
        .arg(dir)
        .env("JAVA_HOME", java_home())
        .env(
            "PATH",
            format!(
                "{}/bin:{}",
                java_home(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", oracle.display()));
    assert!(
        out.status.success(),
        "{} failed (it needs java 17 and, the first time, npm to fetch Groovy 4):\n{}\n{}",
        oracle.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn random_programs_agree_with_groovy_4() {
    let mut g = Gen {
        rng: Rng(0xd1ff_e7e7_5eed_0042),
    };
    let tmp = tempfile::tempdir().expect("a temporary directory");
    for i in 0..PROGRAMS {
        let dir = tmp.path().join(format!("p{i:03}"));
        std::fs::create_dir_all(&dir).expect("create case dir");
        std::fs::write(dir.join("script.groovy"), g.program()).expect("write program");
    }
    run_oracle(tmp.path());
    let dirs = case_dirs(tmp.path());
    assert_eq!(dirs.len(), PROGRAMS);
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| check_case(d, None).err())
        .collect();
    let errors = dirs
        .iter()
        .filter(|d| {
            std::fs::read_to_string(d.join("expected.json")).is_ok_and(|t| t.contains("\"error\""))
        })
        .count();
    println!(
        "{PROGRAMS} programs; {errors} of them fail in Groovy as well, so the engine must fail too"
    );
    assert!(
        errors < PROGRAMS / 2,
        "too many programs fail in Groovy ({errors}): the generator needs fixing"
    );
    assert!(
        failures.is_empty(),
        "{} of {PROGRAMS} programs disagree with Groovy 4:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
