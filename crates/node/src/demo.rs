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

impl DemoSide {
    /// Who signs in to this side's console (on the service desk, also its emulated
    /// ServiceNow's user): two different people, so a comment synced from one side never
    /// reads as written by the other side's own admin.
    pub fn admin_user(self) -> &'static str {
        match self {
            DemoSide::ServiceDesk => "sam.rivera",
            DemoSide::Engineering => "kim.lee",
        }
    }

    /// The full name of `admin_user`.
    pub fn admin_name(self) -> &'static str {
        match self {
            DemoSide::ServiceDesk => "Sam Rivera",
            DemoSide::Engineering => "Kim Lee",
        }
    }
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

const ENGINEERING: &[Seed] = &[
    Seed {
        summary: "Payment gateway client retries without backoff",
        description: "On a 504 from the PSP the client retries immediately, 5 times. Under load this amplifies the outage.\nAdd exponential backoff with jitter and honour Retry-After.",
        status: Status::InProgress,
        priority: Priority::Highest,
        assignee: Some(("Margaret Hamilton", "margaret@engineering.example")),
        labels: &["sync", "payments", "resilience"],
        tier: None,
        comments: &[
            (
                "Margaret Hamilton",
                "Backoff implemented behind a flag; load test tonight.",
                false,
            ),
            (
                "Ken Thompson",
                "Make sure the timeout budget stays under 30 s end to end.",
                false,
            ),
        ],
    },
    Seed {
        summary: "Upgrade TLS library to fix renegotiation CVE",
        description: "Our pinned version is affected. Upgrade and re-run the integration suite.",
        status: Status::ToDo,
        priority: Priority::High,
        assignee: Some(("Ken Thompson", "ken@engineering.example")),
        labels: &["security"],
        tier: None,
        comments: &[],
    },
    Seed {
        summary: "Order history endpoint returns 500 for accounts with >10k orders",
        description: "The query loads every order into memory. Paginate server-side.",
        status: Status::ToDo,
        priority: Priority::High,
        assignee: None,
        labels: &["sync", "api", "performance"],
        tier: None,
        comments: &[(
            "Barbara Liskov",
            "Reproduced with the staging copy of account 4411.",
            false,
        )],
    },
    Seed {
        summary: "Flaky test: checkout_e2e::applies_discount",
        description: "Fails about 1 run in 20 on CI, never locally. Looks like a race on the cart cache.",
        status: Status::InProgress,
        priority: Priority::Medium,
        assignee: Some(("Barbara Liskov", "barbara@engineering.example")),
        labels: &["ci", "flaky"],
        tier: None,
        comments: &[],
    },
    Seed {
        summary: "Migrate session store from Redis 6 to 7",
        description: "Redis 6 reaches end of life. Plan a rolling migration without logging users out.",
        status: Status::ToDo,
        priority: Priority::Medium,
        assignee: None,
        labels: &["infrastructure"],
        tier: None,
        comments: &[],
    },
    Seed {
        summary: "SAML assertion clock skew tolerance too strict",
        description: "We reject assertions with more than 5 s skew; Okta recommends allowing up to 3 minutes.",
        status: Status::InProgress,
        priority: Priority::Highest,
        assignee: Some(("Ken Thompson", "ken@engineering.example")),
        labels: &["sync", "sso"],
        tier: None,
        comments: &[(
            "Ken Thompson",
            "This explains the login loop support reported for Acme.",
            true,
        )],
    },
    Seed {
        summary: "Add VAT rate table for Austria (20%)",
        description: "The tax table has AT at 19%. Source the rates from the finance-owned config instead of code.",
        status: Status::Done,
        priority: Priority::High,
        assignee: Some(("Margaret Hamilton", "margaret@engineering.example")),
        labels: &["sync", "billing"],
        tier: None,
        comments: &[("Margaret Hamilton", "Deployed in release 2026.47.", false)],
    },
    Seed {
        summary: "Search tokenizer drops dashes in product codes",
        description: "'AB-1200' is tokenized into 'AB' and '1200'. Keep codes matching ^[A-Z]{2}-\\d+$ as one token.",
        status: Status::ToDo,
        priority: Priority::Medium,
        assignee: None,
        labels: &["sync", "search"],
        tier: None,
        comments: &[],
    },
    Seed {
        summary: "iOS app: crash in OrderHistoryViewController",
        description: "Force-unwrap of an optional delivery date. Crash-free rate dropped to 99.1%.",
        status: Status::InProgress,
        priority: Priority::High,
        assignee: Some(("Grace Murray", "grace.m@engineering.example")),
        labels: &["sync", "mobile", "ios"],
        tier: None,
        comments: &[],
    },
    Seed {
        summary: "Dashboard: precompute morning aggregates",
        description: "The 08:00 peak recomputes all aggregates on demand. Precompute them at 07:30.",
        status: Status::ToDo,
        priority: Priority::Low,
        assignee: None,
        labels: &["performance"],
        tier: None,
        comments: &[],
    },
    Seed {
        summary: "Document the incident runbook for payment outages",
        description: "Who to page, which dashboards, how to fail over to the secondary PSP.",
        status: Status::ToDo,
        priority: Priority::Low,
        assignee: None,
        labels: &["docs"],
        tier: None,
        comments: &[],
    },
    Seed {
        summary: "Rotate the staging database credentials",
        description: "Quarterly rotation; update the vault entries and restart the services.",
        status: Status::Done,
        priority: Priority::Medium,
        assignee: Some(("Barbara Liskov", "barbara@engineering.example")),
        labels: &["security", "infrastructure"],
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
    let seeds = match side {
        DemoSide::ServiceDesk => SERVICE_DESK,
        DemoSide::Engineering => ENGINEERING,
    };
    for seed in seeds {
        let mut item = NewItem::new(key.clone(), seed.summary);
        item.description = seed.description.into();
        item.status = seed.status;
        item.priority = seed.priority;
        item.assignee = seed.assignee.map(|(name, email)| person(name, email));
        item.reporter = Some(match side {
            DemoSide::ServiceDesk => person("Demo Customer", "customer@acme.example"),
            DemoSide::Engineering => person("Edsger Dijkstra", "edsger@engineering.example"),
        });
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
                        author: person(author, ""),
                        body: (*body).into(),
                        internal: *internal,
                        origin: None,
                    },
                    &actor,
                )
                .await?;
        }
        created += 1;
    }
    Ok(created)
}

fn person(name: &str, email: &str) -> Person {
    Person {
        name: name.into(),
        email: (!email.is_empty()).then(|| email.to_owned()),
    }
}

/// The demo connection's name.
pub const DEMO_CONNECTION: &str = "servicedesk_to_engineering";

/// The ServiceNow user the demo's service desk node signs in as.
pub const DEMO_PROXY_USER: &str = "tandem.proxy";

/// Waits (at most 30 s) until a node on ServiceNow has pulled the instance once, so its
/// incidents are there to bring under sync.
async fn first_pull(state: &crate::state::AppState) {
    for _ in 0..300 {
        match state.bridge_status() {
            Some(s) if s.last_poll.is_some() => return,
            None => return,
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

/// Connects the two demo nodes through the same flow an admin follows: the service desk
/// initiates in Script mode towards the engineering node and makes an invitation code, the
/// engineering node accepts it. Returns `None` when they are connected already (a demo
/// restarted on a kept data directory).
pub async fn connect(
    service_desk: &crate::state::AppState,
    engineering: &crate::state::AppState,
) -> Result<Option<tandem_model::Connection>, crate::connections::ConnectionError> {
    use crate::connections::{self, AcceptRequest, InitiateRequest};
    if service_desk
        .store()
        .connection_by_name(DEMO_CONNECTION)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let initiated = connections::initiate(
        service_desk,
        InitiateRequest {
            destination: Some(engineering.settings().node_url),
            mode: tandem_model::Mode::Script,
            local_short_name: "servicedesk".into(),
            remote_short_name: "engineering".into(),
            name: DEMO_CONNECTION.into(),
            description: "The demo: customer incidents escalated to engineering.".into(),
            valid_for: None,
            target_project: None,
        },
    )
    .await?;
    let code = initiated.code.ok_or_else(|| {
        crate::connections::ConnectionError::Destination(
            "the demo's engineering node answered as the service desk node itself".into(),
        )
    })?;
    let accepted = connections::accept(
        engineering,
        AcceptRequest {
            code,
            local_short_name: None,
            remote_short_name: None,
            target_project: None,
        },
    )
    .await?;
    Ok(Some(accepted))
}

/// Starts the demo's sync: on each node a trigger on its project's items labelled `sync`, and a
/// Bulk Exalate of the items that match already. Returns how many items each side exalated;
/// (0, 0) when the triggers exist already (a restarted demo keeps syncing through them).
pub async fn start_sync(
    service_desk: &crate::state::AppState,
    engineering: &crate::state::AppState,
) -> Result<(u64, u64), crate::sync::engine::SyncFailure> {
    let mut counts = [0, 0];
    for (i, (state, side)) in [
        (service_desk, DemoSide::ServiceDesk),
        (engineering, DemoSide::Engineering),
    ]
    .into_iter()
    .enumerate()
    {
        let Some(connection) = state.store().connection_by_name(DEMO_CONNECTION).await? else {
            continue;
        };
        if !state
            .store()
            .triggers(Some(connection.id))
            .await?
            .is_empty()
        {
            continue;
        }
        let (query, note) = if state.view().journals() {
            // A node on ServiceNow: an encoded query, every open incident.
            first_pull(state).await;
            ("active=true".to_owned(), "The demo: every open incident")
        } else {
            let (project, _) = project_of(side);
            (
                format!("project = {project} AND labels = sync"),
                "The demo: items labelled sync",
            )
        };
        let trigger = state
            .store()
            .create_trigger(connection.id, &query, true, note)
            .await?;
        let job = crate::sync::jobs::run_to_end(
            state,
            tandem_model::JobKind::Exalate,
            &connection,
            Some(&trigger),
        )
        .await?;
        if let Some(error) = job.job.error {
            return Err(crate::sync::engine::SyncFailure::Apply(error));
        }
        counts[i] = job.changed;
    }
    Ok((counts[0], counts[1]))
}
