//! Demo content: a project with a dozen realistic items, so a fresh demo node has something to
//! click through (and, later, to sync).

use tandem_model::{
    Actor, CustomFields, NewComment, NewItem, NewProject, Person, Priority, ProjectKey, Status,
};
use tandem_store::{Store, StoreError};

/// One side of the demo: the service desk that receives customer incidents, or the engineering
/// team that fixes them.
#[derive(Debug, Clone, Copy)]
pub enum DemoSide {
    ServiceDesk,
    Engineering,
}

struct Seed {
    summary: &'static str,
    description: &'static str,
    status: Status,
    priority: Priority,
    assignee: Option<(&'static str, &'static str)>,
    labels: &'static [&'static str],
    tier: Option<&'static str>,
    comments: &'static [(&'static str, &'static str, bool)],
}

const SERVICE_DESK: &[Seed] = &[
    Seed {
        summary: "Checkout page times out for EU customers",
        description: "Since 09:40 CET customers in Germany and France get a gateway timeout after submitting payment.\nOrders are not duplicated, but customers retry and call support.",
        status: Status::InProgress,
        priority: Priority::Highest,
        assignee: Some(("Ada Lovelace", "ada@servicedesk.example")),
        labels: &["sync", "payments", "eu"],
        tier: Some("Gold"),
        comments: &[
            (
                "Ada Lovelace",
                "Reproduced from a Frankfurt VPN: 504 after 30 s.",
                false,
            ),
            (
                "Grace Hopper",
                "Escalated to engineering, waiting for their ticket.",
                true,
            ),
        ],
    },
    Seed {
        summary: "Password reset email never arrives",
        description: "Customer reports that the reset email does not arrive, also not in spam. Tried three times.",
        status: Status::ToDo,
        priority: Priority::High,
        assignee: None,
        labels: &["sync", "email"],
        tier: Some("Silver"),
        comments: &[(
            "Linus Pauling",
            "Customer is on an outlook.com address.",
            false,
        )],
    },
    Seed {
        summary: "Invoice PDF shows wrong VAT rate for Austria",
        description: "Invoices for Austrian customers show 19% VAT instead of 20%.",
        status: Status::ToDo,
        priority: Priority::High,
        assignee: Some(("Grace Hopper", "grace@servicedesk.example")),
        labels: &["sync", "billing"],
        tier: Some("Gold"),
        comments: &[],
    },
    Seed {
        summary: "Printer on floor 3 is jammed",
        description: "Paper jam in tray 2. Tried twice.",
        status: Status::Done,
        priority: Priority::Low,
        assignee: Some(("Alan Turing", "alan@servicedesk.example")),
        labels: &["hardware", "office"],
        tier: None,
        comments: &[(
            "Alan Turing",
            "Cleared the jam, replaced the roller.",
            false,
        )],
    },
    Seed {
        summary: "Mobile app crashes when opening order history",
        description: "iOS 18.2, app version 4.12.0. Crash happens right after tapping 'Orders'. Crash log attached by the customer.",
        status: Status::InProgress,
        priority: Priority::High,
        assignee: Some(("Ada Lovelace", "ada@servicedesk.example")),
        labels: &["sync", "mobile", "ios"],
        tier: Some("Bronze"),
        comments: &[],
    },
    Seed {
        summary: "Request: export of all tickets for Q3 audit",
        description: "Finance needs a CSV export of every ticket closed in Q3 for the audit.",
        status: Status::ToDo,
        priority: Priority::Medium,
        assignee: None,
        labels: &["reporting"],
        tier: None,
        comments: &[],
    },
    Seed {
        summary: "SSO login loops back to the login page",
        description: "Users of the Acme tenant are sent back to the login page after Okta authentication.",
        status: Status::ToDo,
        priority: Priority::Highest,
        assignee: Some(("Linus Pauling", "linus@servicedesk.example")),
        labels: &["sync", "sso", "acme"],
        tier: Some("Platinum"),
        comments: &[(
            "Linus Pauling",
            "Happens in Chrome and Firefox; cookies enabled.",
            false,
        )],
    },
    Seed {
        summary: "Typo on the pricing page",
        description: "'Entreprise' should be 'Enterprise'.",
        status: Status::Done,
        priority: Priority::Lowest,
        assignee: None,
        labels: &["website"],
        tier: None,
        comments: &[],
    },
    Seed {
        summary: "Search returns no results for product codes with dashes",
        description: "Searching 'AB-1200' returns nothing, 'AB1200' finds the product.",
        status: Status::ToDo,
        priority: Priority::Medium,
        assignee: None,
        labels: &["sync", "search"],
        tier: Some("Silver"),
        comments: &[],
    },
    Seed {
        summary: "Customer asks for a refund of a duplicate charge",
        description: "Card was charged twice for order 88123 on 2026-11-20.",
        status: Status::InProgress,
        priority: Priority::High,
        assignee: Some(("Grace Hopper", "grace@servicedesk.example")),
        labels: &["payments", "refund"],
        tier: Some("Gold"),
        comments: &[(
            "Grace Hopper",
            "Refund issued, waiting for the bank.",
            false,
        )],
    },
    Seed {
        summary: "Dashboard charts load slowly in the morning",
        description: "Between 08:00 and 09:00 the dashboard takes 20 s or more to render.",
        status: Status::ToDo,
        priority: Priority::Medium,
        assignee: None,
        labels: &["sync", "performance"],
        tier: Some("Silver"),
        comments: &[],
    },
    Seed {
        summary: "New hire needs VPN access",
        description: "Please set up VPN for Katherine Johnson, starting Monday.",
        status: Status::Done,
        priority: Priority::Low,
        assignee: Some(("Alan Turing", "alan@servicedesk.example")),
        labels: &["access"],
        tier: None,
        comments: &[],
    },
];

/// The demo project's key and name for a side.
pub fn project_of(side: DemoSide) -> (&'static str, &'static str) {
    match side {
        DemoSide::ServiceDesk => ("SUP", "Customer Support"),
        DemoSide::Engineering => ("ENG", "Engineering"),
    }
}

/// Creates the side's project and its items, unless the project exists already (a demo
/// restarted on a kept data directory). Returns how many items were created.
pub async fn seed(store: &dyn Store, side: DemoSide) -> Result<usize, StoreError> {
    let (key, name) = project_of(side);
    let key: ProjectKey = key.parse()?;
    if store.project(&key).await?.is_some() {
        return Ok(0);
    }
    store
        .create_project(NewProject {
            key: key.clone(),
            name: name.into(),
            description: format!("{name} (demo project)"),
        })
        .await?;
    let actor = Actor::user("demo");
    let mut created = 0;
    for seed in SERVICE_DESK {
        let mut item = NewItem::new(key.clone(), seed.summary);
        item.description = seed.description.into();
        item.status = seed.status;
        item.priority = seed.priority;
        item.assignee = seed.assignee.map(|(name, email)| person(name, email, side));
        item.reporter = Some(person("Demo Customer", "customer@acme.example", side));
        item.labels = seed.labels.iter().map(|l| l.to_string()).collect();
        item.labels.sort();
        let mut fields = CustomFields::new();
        if let Some(tier) = seed.tier {
            fields.insert("Customer Tier".into(), serde_json::json!(tier));
        }
        item.custom_fields = fields;
        let stored = store.create_item(item, &actor).await?;
        for (author, body, internal) in seed.comments {
            store
                .add_comment(
                    &stored.key,
                    NewComment {
                        author: person(author, "", side),
                        body: (*body).into(),
                        internal: *internal,
                    },
                    &actor,
                )
                .await?;
        }
        created += 1;
    }
    Ok(created)
}

fn person(name: &str, email: &str, side: DemoSide) -> Person {
    let email = if email.is_empty() {
        None
    } else if matches!(side, DemoSide::Engineering) {
        Some(email.replace("servicedesk", "engineering"))
    } else {
        Some(email.to_owned())
    };
    Person {
        name: name.into(),
        email,
    }
}
