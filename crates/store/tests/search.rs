//! Search: every field and operator of the query language, ORDER BY, and paging, over a small
//! fixed set of items. Each case is one line: a query and the keys it must find.

use jiff::Timestamp;
use serde_json::json;
use tandem_model::query::Query;
use tandem_model::{CustomFields, NewAttachment, NewComment, NewProject, Person, Priority, Status};
use tandem_store::{Page, Store};

use crate::common::{TestStore, alice, key, new_item, open, pkey};

fn person(name: &str, email: Option<&str>) -> Option<Person> {
    Some(Person {
        name: name.into(),
        email: email.map(Into::into),
    })
}

struct Fixture<'a> {
    project: &'a str,
    summary: &'a str,
    description: &'a str,
    status: Status,
    priority: Priority,
    assignee: Option<Person>,
    reporter: Option<Person>,
    labels: &'a [&'a str],
    fields: serde_json::Value,
}

/// OPS-1, OPS-2, OPS-3, DEV-1, DEV-2, created in that order.
async fn fixture() -> TestStore {
    let store = open();
    for (k, name) in [("OPS", "Operations"), ("DEV", "Development")] {
        store
            .create_project(NewProject {
                key: pkey(k),
                name: name.into(),
                description: String::new(),
            })
            .await
            .unwrap();
    }
    let alice_p = person("Alice", Some("alice@example.com"));
    let items = [
        Fixture {
            project: "OPS",
            summary: "Printer on fire",
            description: "Third floor printer is smoking",
            status: Status::ToDo,
            priority: Priority::Highest,
            assignee: alice_p.clone(),
            reporter: person("Bob", None),
            labels: &["hardware", "urgent"],
            fields: json!({"Story Points": 8, "Customer Tier": "Gold", "Components": ["api", "ui"],
                "assignment_group": {"link": "https://x.service-now.com/api/now/table/sys_user_group/a1b2", "value": "a1b2"}}),
        },
        Fixture {
            project: "OPS",
            summary: "Été report",
            description: "",
            status: Status::InProgress,
            priority: Priority::High,
            assignee: person("Bob", Some("bob@example.com")),
            reporter: None,
            labels: &["sync"],
            fields: json!({"Story Points": 3, "Customer Tier": "Silver",
                "assignment_group": {"display_value": "Network", "link": "https://x.service-now.com/api/now/table/sys_user_group/c3d4", "value": "c3d4"}}),
        },
        Fixture {
            project: "OPS",
            summary: "Database upgrade",
            description: "Move to the new cluster",
            status: Status::Done,
            priority: Priority::Medium,
            assignee: None,
            reporter: None,
            labels: &[],
            fields: json!({"Story Points": 5, "assignment_group": {"link": "", "value": ""}}),
        },
        Fixture {
            project: "DEV",
            summary: "Login broken",
            description: "users cannot log in",
            status: Status::ToDo,
            priority: Priority::Low,
            assignee: alice_p,
            reporter: None,
            labels: &["sync", "urgent"],
            fields: json!({"Customer Tier": "gold", "Escalated": true}),
        },
        Fixture {
            project: "DEV",
            summary: "Typo",
            description: "",
            status: Status::Done,
            priority: Priority::Lowest,
            assignee: None,
            reporter: None,
            labels: &[],
            fields: json!({"Build": "42"}),
        },
    ];
    for f in items {
        let mut new = new_item(f.project, f.summary);
        new.description = f.description.into();
        new.status = f.status;
        new.priority = f.priority;
        new.assignee = f.assignee;
        new.reporter = f.reporter;
        new.labels = f.labels.iter().map(|l| (*l).to_owned()).collect();
        new.custom_fields = match f.fields {
            serde_json::Value::Object(map) => map.into_iter().collect::<CustomFields>(),
            _ => unreachable!("fixture fields are objects"),
        };
        store.create_item(new, &alice()).await.unwrap();
    }
    store
        .add_comment(
            &key("OPS-3"),
            NewComment {
                author: Person::default(),
                body: "The PRINTER again?".into(),
                internal: false,
                origin: None,
            },
            &alice(),
        )
        .await
        .unwrap();
    store
        .add_attachment(
            &key("OPS-1"),
            NewAttachment {
                filename: "smoke.jpg".into(),
                mime_type: "image/jpeg".into(),
                author: Person::default(),
                bytes: vec![7; 16],
            },
            &alice(),
        )
        .await
        .unwrap();
    store
}

async fn keys(store: &dyn Store, query: &str, page: Page) -> (Vec<String>, u64) {
    let query = Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let found = store
        .search_items(&query, page, Timestamp::now())
        .await
        .unwrap_or_else(|e| panic!("{query:?}: {e}"));
    let keys = found.items.iter().map(|i| i.key.to_string()).collect();
    (keys, found.total)
}

/// The keys `query` finds, in any order.
async fn check(store: &dyn Store, query: &str, expected: &[&str]) {
    let (mut found, total) = keys(store, query, Page::default()).await;
    found.sort();
    let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(found, expected, "query: {query}");
    assert_eq!(total, expected.len() as u64, "total of: {query}");
}

/// The keys `query` finds, in order.
async fn check_order(store: &dyn Store, query: &str, expected: &[&str]) {
    let (found, _) = keys(store, query, Page::default()).await;
    assert_eq!(found, expected, "query: {query}");
}

const ALL: &[&str] = &["OPS-1", "OPS-2", "OPS-3", "DEV-1", "DEV-2"];

#[tokio::test]
async fn every_field_and_operator_finds_what_it_should() {
    let store = fixture().await;
    let s = &*store.store;
    let cases: &[(&str, &[&str])] = &[
        ("", ALL),
        ("project = OPS", &["OPS-1", "OPS-2", "OPS-3"]),
        ("project = ops", &["OPS-1", "OPS-2", "OPS-3"]),
        ("project != OPS", &["DEV-1", "DEV-2"]),
        ("project IN (OPS, DEV)", ALL),
        ("project NOT IN (DEV)", &["OPS-1", "OPS-2", "OPS-3"]),
        ("key = OPS-2", &["OPS-2"]),
        ("issuekey = ops-2", &["OPS-2"]),
        ("key > OPS-1", &["OPS-2", "OPS-3"]),
        ("key <= OPS-2", &["OPS-1", "OPS-2"]),
        ("key IN (OPS-1, DEV-2)", &["OPS-1", "DEV-2"]),
        ("key != OPS-1", &["OPS-2", "OPS-3", "DEV-1", "DEV-2"]),
        ("key NOT IN (OPS-1, OPS-2)", &["OPS-3", "DEV-1", "DEV-2"]),
        ("summary ~ printer", &["OPS-1"]),
        (r#"summary ~ "ÉTÉ""#, &["OPS-2"]),
        ("summary !~ printer", &["OPS-2", "OPS-3", "DEV-1", "DEV-2"]),
        ("description ~ CLUSTER", &["OPS-3"]),
        ("description IS EMPTY", &["OPS-2", "DEV-2"]),
        ("description IS NOT EMPTY", &["OPS-1", "OPS-3", "DEV-1"]),
        ("text ~ printer", &["OPS-1", "OPS-3"]),
        ("text !~ printer", &["OPS-2", "DEV-1", "DEV-2"]),
        ("status = Done", &["OPS-3", "DEV-2"]),
        ("status != Done", &["OPS-1", "OPS-2", "DEV-1"]),
        (
            r#"status IN ("To Do", "In Progress")"#,
            &["OPS-1", "OPS-2", "DEV-1"],
        ),
        ("status NOT IN (Done)", &["OPS-1", "OPS-2", "DEV-1"]),
        ("priority = High", &["OPS-2"]),
        ("priority > Medium", &["OPS-1", "OPS-2"]),
        ("priority >= Medium", &["OPS-1", "OPS-2", "OPS-3"]),
        ("priority < Medium", &["DEV-1", "DEV-2"]),
        ("priority <= Low", &["DEV-1", "DEV-2"]),
        ("priority != Medium", &["OPS-1", "OPS-2", "DEV-1", "DEV-2"]),
        ("priority IN (Highest, Lowest)", &["OPS-1", "DEV-2"]),
        (
            "priority NOT IN (Highest, Lowest)",
            &["OPS-2", "OPS-3", "DEV-1"],
        ),
        ("assignee = alice", &["OPS-1", "DEV-1"]),
        (r#"assignee = "BOB@example.com""#, &["OPS-2"]),
        ("assignee != alice", &["OPS-2"]),
        ("assignee IN (alice, bob)", &["OPS-1", "OPS-2", "DEV-1"]),
        ("assignee NOT IN (alice)", &["OPS-2"]),
        ("assignee IS EMPTY", &["OPS-3", "DEV-2"]),
        ("assignee IS NOT EMPTY", &["OPS-1", "OPS-2", "DEV-1"]),
        ("NOT assignee = alice", &["OPS-2", "OPS-3", "DEV-2"]),
        ("reporter = bob", &["OPS-1"]),
        ("reporter IS EMPTY", &["OPS-2", "OPS-3", "DEV-1", "DEV-2"]),
        ("labels = sync", &["OPS-2", "DEV-1"]),
        ("label = sync", &["OPS-2", "DEV-1"]),
        ("labels != sync", &["OPS-1"]),
        ("labels IN (hardware, sync)", &["OPS-1", "OPS-2", "DEV-1"]),
        ("labels NOT IN (urgent)", &["OPS-2"]),
        ("labels IS EMPTY", &["OPS-3", "DEV-2"]),
        ("labels IS NOT EMPTY", &["OPS-1", "OPS-2", "DEV-1"]),
        ("created >= -1h", ALL),
        ("created < -1h", &[]),
        (r#"updated > "2000-01-01""#, ALL),
        (r#"updated <= "2000-01-01 10:00""#, &[]),
        (r#""Story Points" > 3"#, &["OPS-1", "OPS-3"]),
        (r#""Story Points" = 5"#, &["OPS-3"]),
        (r#""Story Points" <= 3"#, &["OPS-2"]),
        (r#""Story Points" IN (3, 8)"#, &["OPS-1", "OPS-2"]),
        (r#""Story Points" != 8"#, &["OPS-2", "OPS-3"]),
        // Text that is a number compares as one; other text never does.
        (r#""Build" > 40"#, &["DEV-2"]),
        (r#""Build" < 40"#, &[]),
        (r#""Build" >= 42"#, &["DEV-2"]),
        (r#""Customer Tier" > 1"#, &[]),
        ("cf[Customer Tier] = gold", &["OPS-1", "DEV-1"]),
        (r#""Customer Tier" != Gold"#, &["OPS-2"]),
        (r#""Customer Tier" IS EMPTY"#, &["OPS-3", "DEV-2"]),
        (
            r#""Customer Tier" IS NOT EMPTY"#,
            &["OPS-1", "OPS-2", "DEV-1"],
        ),
        (r#""Customer Tier" ~ ILV"#, &["OPS-2"]),
        (r#""Customer Tier" !~ ilv"#, &["OPS-1", "DEV-1"]),
        (r#""Build" = 42"#, &["DEV-2"]),
        (r#""Escalated" = TRUE"#, &["DEV-1"]),
        (r#""Escalated" = false"#, &[]),
        (r#""Components" = ui"#, &["OPS-1"]),
        (r#""Components" NOT IN (ui)"#, &[]),
        // A reference (ServiceNow's `{link, value}`) compares on its value, the sys_id.
        (r#""assignment_group" = a1b2"#, &["OPS-1"]),
        (r#""assignment_group" != a1b2"#, &["OPS-2"]),
        (r#""assignment_group" IN (a1b2, c3d4)"#, &["OPS-1", "OPS-2"]),
        (r#""assignment_group" NOT IN (c3d4)"#, &["OPS-1"]),
        (r#""assignment_group" ~ C3"#, &["OPS-2"]),
        (
            r#""assignment_group" IS EMPTY"#,
            &["OPS-3", "DEV-1", "DEV-2"],
        ),
        (r#""assignment_group" IS NOT EMPTY"#, &["OPS-1", "OPS-2"]),
        (r#""assignment_group" = Network"#, &[]),
        (r#""Nope" = x"#, &[]),
        (r#""Nope" IS EMPTY"#, ALL),
        ("NOT (project = OPS OR labels = sync)", &["DEV-2"]),
        (
            "project = OPS AND (status = Done OR priority = Highest)",
            &["OPS-1", "OPS-3"],
        ),
        (
            "status = Done OR priority = Highest AND project = DEV",
            &["OPS-3", "DEV-2"],
        ),
        (r#"summary ~ "'; DROP TABLE items; --""#, &[]),
    ];
    for (query, expected) in cases {
        check(s, query, expected).await;
    }
    // The injection attempt was only text.
    check(s, "", ALL).await;
}

#[tokio::test]
async fn order_by_sorts_and_breaks_ties_stably() {
    let store = fixture().await;
    let s = &*store.store;
    check_order(
        s,
        "ORDER BY priority DESC",
        &["OPS-1", "OPS-2", "OPS-3", "DEV-1", "DEV-2"],
    )
    .await;
    check_order(
        s,
        "ORDER BY priority",
        &["DEV-2", "DEV-1", "OPS-3", "OPS-2", "OPS-1"],
    )
    .await;
    check_order(
        s,
        "ORDER BY key",
        &["DEV-1", "DEV-2", "OPS-1", "OPS-2", "OPS-3"],
    )
    .await;
    check_order(
        s,
        "ORDER BY key DESC",
        &["OPS-3", "OPS-2", "OPS-1", "DEV-2", "DEV-1"],
    )
    .await;
    check_order(
        s,
        "ORDER BY status, key",
        &["DEV-1", "OPS-1", "OPS-2", "DEV-2", "OPS-3"],
    )
    .await;
    check_order(
        s,
        "ORDER BY summary",
        &["OPS-3", "DEV-1", "OPS-1", "DEV-2", "OPS-2"],
    )
    .await;
    check_order(
        s,
        r#"ORDER BY "Story Points" DESC"#,
        &["OPS-1", "OPS-3", "OPS-2", "DEV-2", "DEV-1"],
    )
    .await;
    check_order(
        s,
        "ORDER BY assignee",
        &["OPS-1", "DEV-1", "OPS-2", "OPS-3", "DEV-2"],
    )
    .await;
    check_order(
        s,
        "ORDER BY created",
        &["OPS-1", "OPS-2", "OPS-3", "DEV-1", "DEV-2"],
    )
    .await;
    check_order(
        s,
        "project = OPS ORDER BY project, created DESC",
        &["OPS-3", "OPS-2", "OPS-1"],
    )
    .await;

    let newest_first = s
        .search_items(&Query::all(), Page::default(), Timestamp::now())
        .await
        .unwrap();
    assert!(
        newest_first
            .items
            .windows(2)
            .all(|w| w[0].updated >= w[1].updated)
    );
}

#[tokio::test]
async fn pages_slice_the_results_and_total_counts_them_all() {
    let store = fixture().await;
    let s = &*store.store;
    let page = |offset, limit| Page { offset, limit };
    assert_eq!(
        keys(s, "ORDER BY key", page(1, 2)).await,
        (vec!["DEV-2".to_owned(), "OPS-1".to_owned()], 5)
    );
    assert_eq!(
        keys(s, "ORDER BY key", page(4, 50)).await,
        (vec!["OPS-3".to_owned()], 5)
    );
    assert_eq!(keys(s, "ORDER BY key", page(10, 50)).await, (vec![], 5));
    assert_eq!(keys(s, "ORDER BY key", page(0, 0)).await, (vec![], 5));
    assert_eq!(keys(s, "project = DEV", page(0, u32::MAX)).await.1, 2);
}

#[tokio::test]
async fn found_items_come_fully_loaded() {
    let store = fixture().await;
    let found = store
        .search_items(
            &Query::parse("ORDER BY key").unwrap(),
            Page::default(),
            Timestamp::now(),
        )
        .await
        .unwrap();
    for item in &found.items {
        let read = store.item(&item.key).await.unwrap().unwrap();
        assert_eq!(*item, read);
    }
    let ops1 = found.items.iter().find(|i| i.key == key("OPS-1")).unwrap();
    assert_eq!(ops1.attachments.len(), 1);
    let ops3 = found.items.iter().find(|i| i.key == key("OPS-3")).unwrap();
    assert_eq!(ops3.comments.len(), 1);
}
