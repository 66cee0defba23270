//! The host's clock: dates read it and nothing else, and a fixed clock makes a run repeat.

use std::sync::Arc;

use tandem_script::{FixedClock, Limits, Script, to_json};

fn run_at(src: &str, clock: Option<FixedClock>) -> Result<serde_json::Value, String> {
    let limits = Limits {
        clock: clock.map(|c| Arc::new(c) as Arc<dyn tandem_script::Clock>),
        ..Limits::default()
    };
    let out = Script::compile(src)
        .map_err(|e| e.message.clone())?
        .run(Default::default(), &limits);
    out.result.map(|v| to_json(&v)).map_err(|e| e.message)
}

fn paris_noon() -> FixedClock {
    FixedClock {
        now: "2024-06-01T10:00:00Z".parse().expect("a valid instant"),
        zone: jiff::tz::TimeZone::get("Europe/Paris").expect("a known zone"),
    }
}

#[test]
fn a_fixed_clock_gives_every_run_the_same_now_in_its_zone() {
    let src = "[new Date().time, new Date().toString(), new Date().format('HH:mm'), \
               java.time.Instant.now().toString(), java.time.LocalDate.now().toString(), \
               System.currentTimeMillis(), TimeZone.default.ID]";
    let first = run_at(src, Some(paris_noon())).expect("runs");
    assert_eq!(first, run_at(src, Some(paris_noon())).expect("runs"));
    assert_eq!(
        first,
        serde_json::json!([
            1717236000000i64,
            "Sat Jun 01 12:00:00 CEST 2024",
            "12:00",
            "2024-06-01T10:00:00Z",
            "2024-06-01",
            1717236000000i64,
            "Europe/Paris"
        ])
    );
}

#[test]
fn without_a_clock_asking_for_the_time_says_the_host_gave_none() {
    let e = run_at("new Date()", None).expect_err("no clock");
    assert!(e.contains("no clock"), "{e}");
    // dates from fixed values need no clock
    assert_eq!(
        run_at(
            "new Date(0).format('yyyy-MM-dd', TimeZone.getTimeZone('UTC'))",
            None
        ),
        Ok(serde_json::json!("1970-01-01"))
    );
}
