//! Script limits: no built-in allocates or runs past the memory and time budgets.
//!
//! Attacker: a script author (console user or API token holder who edits a connection's rules).
//! Before, rules such as `s = s.plus(s)` in a loop or `"".replace("", huge)` allocated without
//! charging the budget, and a test run of them could abort the whole node.

use serde_json::json;

use crate::sync::pair;

#[tokio::test]
async fn a_test_run_of_rules_that_allocate_without_bound_stops_at_the_memory_limit_and_the_node_stays_up()
 {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    api_a
        .item(json!({"project": "SUP", "summary": "Try me"}))
        .await;
    let (status, body) = api_a
        .json(
            api_a.post("/connections/desk/test/outgoing"),
            json!({"item": "SUP-1"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let replica = body["replica"].clone();

    for rules in [
        // doubling with String.plus, which charged nothing
        "issue.summary = replica.summary\ndef s = 'x' * 1000\nwhile (true) { s = s.plus(s) }",
        // an empty target is replaced between every character: 100 MB × 1 001 bytes
        "issue.summary = replica.summary\ndef big = 'y' * 100000000\nissue.description = ('x' * 1000).replace('', big)",
        // one long string shared 100 000 times, then printed
        "issue.summary = replica.summary\ndef s = 'x' * 100000\ndef l = [s] * 100000\nissue.description = l.join(',')",
    ] {
        let (status, body) = api_b
            .json(
                api_b.patch("/connections/desk"),
                json!({ "incoming_script": rules }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = api_b
            .json(
                api_b.post("/connections/desk/test/incoming"),
                json!({ "replica": replica }),
            )
            .await;
        assert_eq!(status, 200, "{rules}: {body}");
        assert_eq!(body["ok"], false, "{rules}: {body}");
        let trace = body["trace"].as_str().unwrap_or_default();
        assert!(trace.contains("memory limit"), "{rules}: {body}");
        assert!(
            trace.contains(":3:") || trace.contains(":4:"),
            "{rules}: the line: {body}"
        );

        let health = reqwest::get(format!("{}/healthz", b.url))
            .await
            .expect("the node still answers");
        assert_eq!(health.status(), 200);
    }
}
