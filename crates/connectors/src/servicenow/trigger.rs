//! Triggers on a node that serves ServiceNow are written in ServiceNow's encoded-query syntax
//! (`urgency=1^active=true`, tracker-apis.md §1.5) and run against the mirror: each term
//! becomes a condition on the record's column, which the mirror keeps as ServiceNow sent it.
//!
//! Supported: `=`, `!=`, `>`, `>=`, `<`, `<=` (numbers compare as numbers, date-times as
//! ServiceNow writes them), `IN`, `NOT IN`, `LIKE` / `CONTAINS`, `NOT LIKE` (with the space, as
//! ServiceNow writes "does not contain"), `STARTSWITH`, `ENDSWITH` (text compares case-insensitively, as
//! ServiceNow's does), `ISEMPTY`, `ISNOTEMPTY`, `ANYTHING`, `^` (and), `^OR` (or, binding
//! tighter), `^NQ` (a new or-ed query), `ORDERBY` / `ORDERBYDESC` and `^EQ` (ignored: a
//! trigger does not order, and `EQ` only ends the filter of a list URL). A reference column
//! compares on its sys_id (`assignment_group=<sys_id>`). `sys_class_name=<table>` limits a trigger to one table; without it a trigger covers
//! every synced table. What the mirror cannot answer — dot-walked fields (`caller_id.vip`),
//! `javascript:` values, `BETWEEN`, `INSTANCEOF` and the other operators — is refused when the trigger is
//! saved, with the term named, rather than silently ignored as ServiceNow itself would. So is
//! `NOTLIKE` without the space: ServiceNow has no such operator and would drop the term, which
//! would bring every row under sync; the refusal points to `NOT LIKE`.

use tandem_model::query::{Cond, Expr, Field, Op, Query, Value};

use super::schema::Tables;

/// Operators, longest first so that `!=` is not read as `=`.
const OPERATORS: &[&str] = &[
    "ISNOTEMPTY",
    "STARTSWITH",
    "INSTANCEOF",
    "ENDSWITH",
    "CONTAINS",
    "NOT LIKE",
    "ANYTHING",
    "ISEMPTY",
    "BETWEEN",
    "NOT IN",
    "LIKE",
    "IN",
    "!=",
    ">=",
    "<=",
    "=",
    ">",
    "<",
];

/// The trigger as a query over the mirror items of the synced tables.
pub fn translate(text: &str, tables: &Tables) -> Result<Query, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "the trigger is empty: write an encoded query such as urgency=1^active=true".into(),
        );
    }
    // Joined as balanced trees (`Expr::all`, `Expr::any`): a trigger of thousands of terms
    // nests a few dozen levels, not thousands, for the SQL built from it and its drop.
    let mut groups: Vec<Expr> = Vec::new();
    for group in text.split("^NQ") {
        let mut clusters: Vec<Vec<Expr>> = Vec::new();
        for term in group.split('^') {
            let term = term.trim();
            // `^EQ` ends the filters a ServiceNow list URL carries; it adds no condition.
            if term.is_empty() || term == "EQ" || term.starts_with("ORDERBY") {
                continue;
            }
            let (or, term) = match term.strip_prefix("OR") {
                // `^ORstate=2`, but not a column named `order…`.
                Some(rest) if !clusters.is_empty() && starts_condition(rest) => (true, rest),
                _ => (false, term),
            };
            let Some(cond) = condition(term, tables)? else {
                continue;
            };
            match clusters.last_mut() {
                Some(cluster) if or => cluster.push(cond),
                _ => clusters.push(vec![cond]),
            }
        }
        let group = Expr::all(clusters.into_iter().filter_map(Expr::any).collect())
            .unwrap_or_else(everything);
        groups.push(group);
    }
    let filter = Expr::any(groups).unwrap_or_else(everything);
    // Only the mirrors of the synced tables.
    let scope = Expr::any(
        tables
            .iter()
            .map(|(_, key)| {
                Expr::Cond(Cond {
                    field: Field::Project,
                    op: Op::Eq,
                    values: vec![Value::Project(key.clone())],
                })
            })
            .collect(),
    )
    .ok_or("no tables are synced")?;
    Ok(Query {
        filter: Some(Expr::And(Box::new(scope), Box::new(filter))),
        order: Vec::new(),
    })
}

fn starts_condition(rest: &str) -> bool {
    rest.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
}

/// A condition every mirror item meets.
fn everything() -> Expr {
    Expr::Cond(Cond {
        field: Field::Custom("sys_id".into()),
        op: Op::IsNotEmpty,
        values: Vec::new(),
    })
}

/// One term; `None` for a term that matches everything (`ANYTHING`).
fn condition(term: &str, tables: &Tables) -> Result<Option<Expr>, String> {
    // Column names are lower case; operators are upper case or symbols (`categoryINa,b`).
    let field_end = term
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(term.len());
    let (field, rest) = term.split_at(field_end);
    if field.is_empty() {
        return Err(format!("`{term}` does not start with a column name"));
    }
    if field.contains('.') {
        return Err(format!(
            "`{term}`: dot-walked fields ({field}) cannot be checked on the mirror; use the reference's sys_id, e.g. {}=<sys_id>",
            field.split('.').next().unwrap_or(field)
        ));
    }
    let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
        if rest.starts_with("NOTLIKE") || rest.starts_with("DOESNOTCONTAIN") {
            return Err(format!(
                "`{term}`: ServiceNow writes \"does not contain\" as NOT LIKE, with a space (e.g. {field}NOT LIKE{}); it would ignore this term and match every record",
                rest.trim_start_matches("NOTLIKE")
                    .trim_start_matches("DOESNOTCONTAIN")
            ));
        }
        return Err(format!(
            "`{term}` has no operator after `{field}` (=, !=, >, <, IN, LIKE, NOT LIKE, ISEMPTY, …)"
        ));
    };
    let value = &rest[op.len()..];
    if value.trim_start().starts_with("javascript:") {
        return Err(format!(
            "`{term}`: javascript: values run on the instance and cannot be checked on the mirror"
        ));
    }
    let column = Field::Custom(field.to_owned());
    let cond = |op: Op, values: Vec<Value>| {
        Ok(Some(Expr::Cond(Cond {
            field: column.clone(),
            op,
            values,
        })))
    };
    let text = |v: &str| Value::Text(v.to_owned());
    let ordered = |v: &str| {
        v.trim()
            .parse::<f64>()
            .map_or_else(|_| text(v), Value::Number)
    };
    let list = |v: &str| v.split(',').map(|s| text(s.trim())).collect::<Vec<_>>();
    match *op {
        "=" if field == "sys_class_name" => {
            if tables.project_of(value).is_none() {
                return Err(format!(
                    "`{term}`: {value} is not a synced table ({})",
                    tables.iter().map(|(t, _)| t).collect::<Vec<_>>().join(", ")
                ));
            }
            let key = tables.project_of(value).cloned().ok_or("no project")?;
            Ok(Some(Expr::Cond(Cond {
                field: Field::Project,
                op: Op::Eq,
                values: vec![Value::Project(key)],
            })))
        }
        "=" => cond(Op::Eq, vec![text(value)]),
        "!=" => cond(Op::Ne, vec![text(value)]),
        ">" => cond(Op::Gt, vec![ordered(value)]),
        ">=" => cond(Op::Ge, vec![ordered(value)]),
        "<" => cond(Op::Lt, vec![ordered(value)]),
        "<=" => cond(Op::Le, vec![ordered(value)]),
        "IN" => cond(Op::In, list(value)),
        "NOT IN" => cond(Op::NotIn, list(value)),
        "LIKE" | "CONTAINS" => cond(Op::Contains, vec![text(value)]),
        "STARTSWITH" => cond(Op::StartsWith, vec![text(value)]),
        "ENDSWITH" => cond(Op::EndsWith, vec![text(value)]),
        "NOT LIKE" => cond(Op::NotContains, vec![text(value)]),
        "ISEMPTY" => cond(Op::IsEmpty, Vec::new()),
        "ISNOTEMPTY" => cond(Op::IsNotEmpty, Vec::new()),
        "ANYTHING" => Ok(None),
        other => Err(format!(
            "`{term}`: {other} is not supported in triggers yet (use =, !=, >, >=, <, <=, IN, NOT IN, LIKE, NOT LIKE, STARTSWITH, ENDSWITH, ISEMPTY, ISNOTEMPTY)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Tables {
        super::super::schema::tables(&["incident".into(), "problem".into()])
    }

    fn shown(q: &str) -> String {
        format!("{:?}", translate(q, &tables()).expect(q).filter)
    }

    #[test]
    fn and_or_and_new_queries_nest_as_servicenow_reads_them() {
        let q = shown("active=true^priority=1^ORpriority=2^NQstate=6");
        // (scope) AND ((active AND (p1 OR p2)) OR state=6)
        assert!(q.starts_with("Some(And(Or(Cond"), "{q}");
        assert!(
            q.contains("Or(Cond(Cond { field: Custom(\"priority\")"),
            "{q}"
        );
        assert!(q.contains("Custom(\"state\")"), "{q}");
        assert!(shown("urgency<=2").contains("Number(2.0)"));
        assert!(shown("categoryINnetwork, hardware").contains("In"));
        assert!(shown("short_descriptionLIKEvpn^ORDERBYnumber").contains("Contains"));
        assert!(shown("short_descriptionNOT LIKEprinter").contains("NotContains"));
        assert!(shown("assigned_toISEMPTY").contains("IsEmpty"));
        assert_eq!(
            shown("active=true^urgency=1^EQ"),
            shown("active=true^urgency=1"),
            "a filter copied from a list URL ends in ^EQ"
        );
    }

    #[test]
    fn a_table_term_scopes_the_trigger() {
        let q = shown("sys_class_name=problem^active=true");
        assert!(q.contains("Project(ProjectKey(\"PRB\"))"), "{q}");
        let e = translate("sys_class_name=sys_user", &tables()).unwrap_err();
        assert!(e.contains("not a synced table"), "{e}");
    }

    #[test]
    fn what_the_mirror_cannot_answer_is_refused_naming_the_term() {
        for (q, says) in [
            ("caller_id.vip=true", "dot-walked"),
            ("opened_at>javascript:gs.daysAgo(7)", "javascript:"),
            ("opened_atBETWEEN2026-01-01@2026-02-01", "BETWEEN"),
            ("urgency", "no operator"),
            ("short_descriptionNOTLIKEprinter", "NOT LIKE, with a space"),
            (
                "short_descriptionDOESNOTCONTAINprinter",
                "NOT LIKE, with a space",
            ),
            ("=1", "column name"),
            ("", "empty"),
        ] {
            let e = translate(q, &tables()).unwrap_err();
            assert!(e.contains(says), "{q}: {e}");
        }
        assert!(
            translate("ANYTHING^urgency=1", &tables()).is_err(),
            "ANYTHING needs a column"
        );
        assert!(translate("urgencyANYTHING", &tables()).is_ok());
    }

    /// Regression: reference columns are mirrored as `{link, value}`, and a trigger on one
    /// matched nothing with `=` and everything with `!=`.
    #[test]
    fn a_trigger_on_a_reference_column_compares_the_sys_id_and_text_matches_its_start_or_end() {
        use tandem_model::Actor;
        use tandem_store::prelude::*;
        use tandem_store::{Page, sqlite::SqliteOptions, sqlite::SqliteStore};

        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("t.db"), SqliteOptions::default())
            .expect("open the store");
        let tables = tables();
        let inc = tables.project_of("incident").expect("incident").clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let group = |id: &str| {
            serde_json::json!({
                "link": format!("https://acme.service-now.com/api/now/table/sys_user_group/{id}"),
                "value": id,
            })
        };
        let found = runtime.block_on(async {
            store
                .create_project(tandem_model::NewProject {
                    key: inc.clone(),
                    name: "Incidents".into(),
                    description: String::new(),
                })
                .await
                .expect("project");
            for (number, assignment_group) in [
                ("INC0010001", group("a1b2c3")),
                ("INC0010002", group("d4e5f6")),
                ("INC0010003", serde_json::json!("")),
            ] {
                let serde_json::Value::Object(row) = serde_json::json!({
                    "sys_id": format!("id{number}"),
                    "number": number,
                    "short_description": number,
                    "assignment_group": assignment_group,
                }) else {
                    unreachable!("an object literal")
                };
                let item = super::super::schema::new_item(&row, &inc);
                store
                    .create_item(item, &Actor::user("ServiceNow/proxy"))
                    .await
                    .expect("mirror item");
            }
            let mut found = Vec::new();
            for trigger in [
                "assignment_group=a1b2c3",
                "assignment_group!=a1b2c3",
                "assignment_groupINd4e5f6,zzz",
                "assignment_groupISEMPTY",
                "numberSTARTSWITHinc00100",
                "numberENDSWITH2",
                "numberSTARTSWITH0010",
                "assignment_groupSTARTSWITHA1",
            ] {
                let query = translate(trigger, &tables).expect(trigger);
                let result = store
                    .search_items(&query, Page::default(), jiff::Timestamp::now())
                    .await
                    .expect("search");
                let mut numbers: Vec<String> = result
                    .items
                    .iter()
                    .map(|i| i.custom_fields["number"].as_str().unwrap_or("").to_owned())
                    .collect();
                numbers.sort();
                found.push((trigger, numbers));
            }
            found
        });
        let all: &[&str] = &["INC0010001", "INC0010002", "INC0010003"];
        let expected: [(&str, &[&str]); 8] = [
            ("assignment_group=a1b2c3", &["INC0010001"]),
            ("assignment_group!=a1b2c3", &["INC0010002"]),
            ("assignment_groupINd4e5f6,zzz", &["INC0010002"]),
            ("assignment_groupISEMPTY", &["INC0010003"]),
            ("numberSTARTSWITHinc00100", all),
            ("numberENDSWITH2", &["INC0010002"]),
            ("numberSTARTSWITH0010", &[]),
            ("assignment_groupSTARTSWITHA1", &["INC0010001"]),
        ];
        assert_eq!(found.len(), expected.len());
        for ((trigger, got), (_, want)) in found.iter().zip(expected) {
            assert_eq!(got, want, "{trigger}");
        }
    }

    #[test]
    fn a_trigger_of_thousands_of_terms_nests_a_few_levels() {
        fn height(e: &Expr) -> usize {
            match e {
                Expr::And(a, b) | Expr::Or(a, b) => 1 + height(a).max(height(b)),
                Expr::Not(a) => 1 + height(a),
                Expr::Cond(_) => 1,
            }
        }
        for joiner in ["^", "^OR", "^NQ"] {
            let text = vec!["active=true"; 20_000].join(joiner);
            let filter = translate(&text, &tables()).expect("translates").filter;
            let height = height(&filter.expect("a filter"));
            assert!(height <= 20, "{joiner}: {height}");
        }
    }

    mod random {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed};

        use super::*;

        fn config() -> Config {
            Config {
                cases: 256,
                failure_persistence: None,
                rng_seed: RngSeed::Fixed(13),
                ..Config::default()
            }
        }

        /// A term or a joiner of ServiceNow's encoded queries, for near-valid text.
        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("^".to_owned()),
                Just("^OR".to_owned()),
                Just("^NQ".to_owned()),
                Just("^EQ".to_owned()),
                Just("active=true".to_owned()),
                Just("urgency<=2".to_owned()),
                Just("categoryINa,b".to_owned()),
                Just("short_descriptionLIKEvpn".to_owned()),
                Just("assigned_toISEMPTY".to_owned()),
                Just("numberSTARTSWITHINC".to_owned()),
                Just("sys_class_name=problem".to_owned()),
                Just("ORDERBYnumber".to_owned()),
                Just("caller_id.vip=true".to_owned()),
                Just("opened_at>javascript:gs.daysAgo(7)".to_owned()),
                "[a-z_]{1,6}[=!<>A-Z]{1,4}[ -~]{0,6}",
                "\\PC{1,4}",
            ]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_translates_or_is_refused_without_panicking(text in "\\PC{0,200}") {
                let _ = translate(&text, &tables());
            }

            #[test]
            fn near_valid_triggers_translate_or_are_refused(pieces in proptest::collection::vec(piece(), 0..80)) {
                let _ = translate(&pieces.concat(), &tables());
            }

            #[test]
            fn long_triggers_translate_on_a_small_stack(count in 0usize..5000, joiner in prop_oneof![Just("^"), Just("^OR"), Just("^NQ")]) {
                let text = vec!["urgency=1"; count].join(joiner);
                let done = std::thread::Builder::new()
                    .stack_size(2 << 20)
                    .spawn(move || translate(&text, &tables()).map(drop))
                    .expect("thread")
                    .join();
                prop_assert!(done.is_ok());
            }
        }
    }
}
