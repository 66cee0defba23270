//! Bulk jobs over the API and the command line: Bulk Exalate, Bulk Unexalate, Sync again of a
//! connection and Clean-up are each a stored job with progress (done / total / failed, rate,
//! ETA), listed newest first and cancellable; an item that fails is counted and is a sync
//! error, and the job goes on. (That a job survives SIGKILL is `crash.rs`.)

use serde_json::{Value, json};

use crate::cli::{run, tandem};
use crate::common::{Api, TOKEN};
use crate::sync::{eventually, pair};

async fn job(api: &Api, id: u64) -> Value {
    let (status, body) = api.send(api.get(&format!("/sync/jobs/{id}"))).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until the job has ended; returns it.
async fn ended(api: &Api, id: u64) -> Value {
    eventually(&format!("job {id} ends"), || async {
        job(api, id).await["finished"] == true
    })
    .await;
    job(api, id).await
}

async fn trigger(api: &Api, query: &str) -> i64 {
    let (status, body) = api
        .json(
            api.post("/connections/desk/triggers"),
            json!({"query": query, "active": false}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["trigger"]["id"].as_i64().unwrap()
}

/// Creates `n` items in SUP, a few at a time.
async fn items(api: &Api, n: usize, summary: &str) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        while tasks.len() >= 8 {
            tasks.join_next().await.unwrap().unwrap();
        }
        let (api, summary) = (api.clone(), format!("{summary} {i}"));
        tasks.spawn(async move {
            api.item(json!({"project": "SUP", "summary": summary}))
                .await;
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

fn kinds(list: &Value) -> Vec<&str> {
    list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_bulk_operation_is_a_stored_job_with_its_progress() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    items(&api_a, 3, "Job item").await;
    let trigger = trigger(&api_a, "project = SUP").await;

    // Bulk Exalate: 202 and a job to follow.
    let (status, body) = api_a
        .json(
            api_a.post("/sync/bulk"),
            json!({"connection": "desk", "trigger": trigger}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let exalate = body["job"].as_u64().unwrap();
    let done = ended(&api_a, exalate).await;
    assert_eq!(
        (
            &done["kind"],
            &done["state"],
            &done["connection"],
            &done["trigger"]
        ),
        (
            &json!("exalate"),
            &json!("done"),
            &json!("desk"),
            &json!(trigger)
        ),
        "{done}"
    );
    assert_eq!(
        (
            &done["done"],
            &done["total"],
            &done["failed"],
            &done["changed"]
        ),
        (&json!(3), &json!(3), &json!(0), &json!(3)),
        "{done}"
    );
    assert!(done["rate"].as_f64().is_some_and(|r| r > 0.0), "{done}");
    assert!(
        done["eta_seconds"].is_null() && done["error"].is_null(),
        "{done}"
    );
    assert!(
        done["finished_at"].is_string() && done["started"].is_string(),
        "{done}"
    );
    // The older progress route answers the same job.
    let (_, old) = api_a
        .send(api_a.get(&format!("/sync/bulk/{exalate}")))
        .await;
    assert_eq!((&old["job"], &old["done"]), (&json!(exalate), &json!(3)));
    eventually("B has the three items", || async {
        let (status, _) = api_b.send(api_b.get("/items/ENG-3")).await;
        status == 200
    })
    .await;

    // Sync again of the connection, started without waiting.
    let (status, body) = api_a
        .json(
            api_a.post("/sync/again"),
            json!({"connection": "desk", "wait": false}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let again = ended(&api_a, body["job"].as_u64().unwrap()).await;
    assert_eq!(
        (
            &again["kind"],
            &again["state"],
            &again["done"],
            &again["changed"]
        ),
        (&json!("sync_again"), &json!("done"), &json!(3), &json!(3)),
        "{again}"
    );

    // Bulk Unexalate and Clean-up answer when their job ends, naming it.
    let (status, body) = api_a
        .json(
            api_a.post("/sync/bulk-unexalate"),
            json!({"connection": "desk", "trigger": trigger}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["stopped"], &body["failed"]), (&json!(3), &json!(0)));
    let unexalate = job(&api_a, body["job"].as_u64().unwrap()).await;
    assert_eq!(
        (&unexalate["kind"], &unexalate["state"], &unexalate["done"]),
        (&json!("unexalate"), &json!("done"), &json!(3)),
        "{unexalate}"
    );
    let (status, body) = api_a
        .json(api_a.post("/sync/cleanup"), json!({"connection": "desk"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["twins"], &body["queued"]), (&json!(3), &json!(0)));
    let clean_up = job(&api_a, body["job"].as_u64().unwrap()).await;
    assert_eq!(
        (&clean_up["kind"], &clean_up["state"], &clean_up["done"]),
        (&json!("clean_up"), &json!("done"), &json!(3)),
        "{clean_up}"
    );

    // Listed newest first, all or by connection.
    let (status, list) = api_a.send(api_a.get("/sync/jobs")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        kinds(&list),
        ["clean_up", "unexalate", "sync_again", "exalate"]
    );
    let (_, mine) = api_a.send(api_a.get("/sync/jobs?connection=desk")).await;
    assert_eq!(mine, list);
    let (status, body) = api_a.send(api_a.get("/sync/jobs?connection=nowhere")).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api_a.send(api_a.get("/sync/jobs/999")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.to_string().contains("bulk job 999"), "{body}");

    // A finished job cannot be cancelled any more: the answer is the job as it ended.
    let (status, body) = api_a
        .send(api_a.post(&format!("/sync/jobs/{exalate}/cancel")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "done");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_bulk_exalate_stops_after_the_items_under_way_and_keeps_its_counts() {
    const ITEMS: usize = 1200;
    let (a, _b) = pair().await;
    let api_a = a.api();
    items(&api_a, ITEMS, "Many").await;
    let trigger = trigger(&api_a, "project = SUP").await;
    let (status, body) = api_a
        .json(
            api_a.post("/sync/bulk"),
            json!({"connection": "desk", "trigger": trigger}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["job"].as_u64().unwrap();
    let (status, body) = api_a
        .send(api_a.post(&format!("/sync/jobs/{id}/cancel")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["cancel_requested"], true, "{body}");
    let end = ended(&api_a, id).await;
    assert_eq!(end["state"], "cancelled", "{end}");
    assert!(end["error"].is_null(), "{end}");
    let done = end["done"].as_u64().unwrap();
    assert!(done < ITEMS as u64, "it stopped early: {end}");
    assert_eq!(end["failed"], 0, "{end}");
    // Every item it counted is under sync, and no other.
    assert_eq!(end["changed"], done, "{end}");
    let mut under_sync = 0;
    for n in 1..=ITEMS {
        let (_, body) = api_a
            .send(api_a.get(&format!("/sync/status/SUP-{n}")))
            .await;
        under_sync += body["twins"].as_array().map_or(0, Vec::len) as u64;
    }
    assert_eq!(under_sync, done);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_item_that_fails_is_counted_and_retryable_and_the_job_goes_on() {
    let (a, b) = pair().await;
    let (api_a, api_b) = (a.api(), b.api());
    for summary in ["Fine one", "Broken", "Fine two"] {
        api_a
            .item(json!({"project": "SUP", "summary": summary}))
            .await;
    }
    // The default outgoing rules, with one item refused.
    let rules = "replica.key = issue.key\nreplica.summary = issue.summary\n\
         replica.description = issue.description\nreplica.status = issue.status\n\
         replica.priority = issue.priority\nreplica.labels = issue.labels\n\
         replica.comments = issue.comments\nreplica.attachments = issue.attachments\n";
    let breaking = format!(
        "if (issue.summary == \"Broken\") {{ throw new RuntimeException(\"this one cannot go\") }}\n{rules}"
    );
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/desk"),
            json!({"outgoing_script": breaking}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let trigger = trigger(&api_a, "project = SUP").await;
    let (_, body) = api_a
        .json(
            api_a.post("/sync/bulk"),
            json!({"connection": "desk", "trigger": trigger}),
        )
        .await;
    let end = ended(&api_a, body["job"].as_u64().unwrap()).await;
    assert_eq!(
        (&end["state"], &end["done"], &end["failed"], &end["total"]),
        (&json!("done"), &json!(2), &json!(1), &json!(3)),
        "{end}"
    );
    let (_, errors) = api_a.send(api_a.get("/sync/errors")).await;
    let error = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["local_key"] == "SUP-2")
        .unwrap_or_else(|| panic!("SUP-2's error: {errors}"))
        .clone();
    assert!(
        error["message"].to_string().contains("this one cannot go"),
        "{error}"
    );

    // Fixed rules, Resolve and retry: the item comes under sync.
    let (status, body) = api_a
        .json(
            api_a.patch("/connections/desk"),
            json!({"outgoing_script": rules}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_a
        .send(api_a.post(&format!("/sync/errors/{}/retry", error["id"])))
        .await;
    assert_eq!(status, 200, "{body}");
    eventually("B gets the retried item", || async {
        let (_, body) = api_a.send(api_a.get("/sync/status/SUP-2")).await;
        body["twins"][0]["remote_key"].is_string()
    })
    .await;
    let (status, _) = api_b.send(api_b.get("/items/ENG-3")).await;
    assert_eq!(status, 200);
}

/// Runs `tandem sync --node NODE --token TOKEN <args>` off the runtime's threads.
async fn cli(node: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tandem();
    cmd.args(["sync", "--node", node, "--token", TOKEN])
        .args(args);
    tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .expect("the run finishes")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_line_lists_jobs_and_cancels_one() {
    let (a, _b) = pair().await;
    let api_a = a.api();
    let (code, out, err) = cli(&a.url, &["jobs"]).await;
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "No bulk jobs.\n", "")
    );
    items(&api_a, 2, "Cli").await;
    let trigger = trigger(&api_a, "project = SUP").await.to_string();
    let (code, out, err) = cli(
        &a.url,
        &["bulk", "--connection", "desk", "--trigger", &trigger],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "Exalated 2 items on connection desk.\n");
    let (code, out, err) = cli(&a.url, &["again", "--connection", "desk"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "Sent 2 items again on connection desk.\n");

    let (code, out, err) = cli(&a.url, &["jobs", "--connection", "desk"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID",
            "KIND",
            "CONNECTION",
            "STATE",
            "DONE",
            "FAILED",
            "TOTAL",
            "RATE",
            "ETA",
            "STARTED"
        ]
    );
    let newest: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        newest[..8],
        ["2", "Sync", "again", "desk", "done", "2", "0", "2"],
        "{out}"
    );
    let oldest: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        oldest[..8],
        ["1", "Bulk", "Exalate", "desk", "done", "2", "0", "2"],
        "{out}"
    );

    let (code, out, err) = cli(&a.url, &["cancel", "1"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "Job 1 (Bulk Exalate on connection desk) had ended already (done): 2 of 2 done, 0 failed.\n"
    );
    let (code, _, err) = cli(&a.url, &["cancel", "77"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("bulk job 77 does not exist"), "{err}");
    let (code, _, err) = cli(&a.url, &["jobs", "--connection", "nowhere"]).await;
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: there is no connection 'nowhere' on this node\n"
    );
}
