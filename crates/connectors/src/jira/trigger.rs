//! Triggers on a node that serves Jira are written in JQL, as Exalate's Jira triggers are, and
//! run against the mirror: each clause becomes a condition on the mirrored issue.
//!
//! Supported: `project = SUP` / `project in (SUP, OPS)` (a synced project), `issuetype`
//! (`type`), `status`, `priority`, `resolution`, `parent`, `key` (`issuekey`), `duedate`,
//! `created`, `updated`, `resolutiondate` (by the names and values Jira sent; dates compare as
//! Jira writes them, so give them as `"2026-01-31"`), `statusCategory` (To Do, In Progress,
//! Done or Jira's keys), `summary`, `description`, `text` (`~`, `!~`), `labels`, `assignee`,
//! `reporter` (by display name or e-mail), custom fields as `cf[10010]` or by their name
//! (`"Story Points" > 3`); operators `=`, `!=`, `~`, `!~`, `<`, `<=`, `>`, `>=`, `in`,
//! `not in`, `is [not] empty` (`null`, `= EMPTY`); `AND`, `OR`, `NOT`, parentheses. `ORDER BY` is
//! ignored: a trigger selects, it does not order.
//!
//! What the mirror cannot answer is refused when the trigger is saved, naming the clause,
//! rather than matching more or less than Jira would: functions (`currentUser()`,
//! `startOfDay()`, `membersOf(…)`), relative dates (`-7d`), history (`WAS`, `CHANGED`), and
//! fields the mirror keeps in a shape its queries cannot look into (components, versions,
//! sprints, watchers, links). A trigger is untrusted text: it is at most [`MAX_LENGTH`] bytes,
//! nests at most [`MAX_NESTING`] parentheses or `NOT`s, and its translation at most
//! [`MAX_DEPTH`] levels; beyond, an error says so, never a stack overflow.

use tandem_model::query::{Cond, Expr, Field, MAX_DEPTH, Op, Query, Value};
use tandem_model::{ProjectKey, Status};

use super::schema::JiraSchema;
use crate::schema::Schema;

/// The longest trigger accepted, in bytes.
pub const MAX_LENGTH: usize = 64 * 1024;
/// The deepest parentheses and `NOT`s may nest.
pub const MAX_NESTING: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Comma,
    Op(&'static str),
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Word(w) => f.write_str(w),
            Tok::Quoted(q) => write!(f, "\"{q}\""),
            Tok::Open => f.write_str("("),
            Tok::Close => f.write_str(")"),
            Tok::Comma => f.write_str(","),
            Tok::Op(o) => f.write_str(o),
        }
    }
}

const OPS: &[&str] = &["!=", "!~", ">=", "<=", "=", "~", ">", "<"];

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            ',' => {
                chars.next();
                out.push(Tok::Comma);
            }
            '"' | '\'' => {
                chars.next();
                let quote = c;
                let mut s = String::new();
                let mut closed = false;
                while let Some((_, ch)) = chars.next() {
                    match ch {
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                s.push(e);
                            }
                        }
                        ch if ch == quote => {
                            closed = true;
                            break;
                        }
                        _ => s.push(ch),
                    }
                }
                if !closed {
                    return Err(format!(
                        "the text quoted at column {} is never closed",
                        at + 1
                    ));
                }
                out.push(Tok::Quoted(s));
            }
            _ => {
                if let Some(op) = OPS.iter().find(|op| text[at..].starts_with(**op)) {
                    for _ in 0..op.chars().count() {
                        chars.next();
                    }
                    out.push(Tok::Op(op));
                    continue;
                }
                let mut w = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || "()\",'=!~<>".contains(c) {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                if w.is_empty() {
                    // A lone `!`.
                    return Err(format!("`{c}` at column {} is not JQL", at + 1));
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

/// What a clause's field is on the mirror.
enum Target {
    Project,
    Category,
    Item(Field),
    Custom(String),
    /// Compared as Jira writes dates.
    Date(String),
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    schema: &'a JiraSchema,
}

fn is_word(t: Option<&Tok>, w: &str) -> bool {
    matches!(t, Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn at_order_by(&self) -> bool {
        is_word(self.peek(), "order") && is_word(self.toks.get(self.pos + 1), "by")
    }

    fn or(&mut self, depth: usize) -> Result<Expr, String> {
        let mut terms = vec![self.and(depth)?];
        while is_word(self.peek(), "or") {
            self.pos += 1;
            terms.push(self.and(depth)?);
        }
        Expr::any(terms).ok_or_else(|| "an empty OR".to_owned())
    }

    fn and(&mut self, depth: usize) -> Result<Expr, String> {
        let mut terms = vec![self.unary(depth)?];
        while is_word(self.peek(), "and") {
            self.pos += 1;
            terms.push(self.unary(depth)?);
        }
        Expr::all(terms).ok_or_else(|| "an empty AND".to_owned())
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, String> {
        if depth >= MAX_NESTING {
            return Err(format!(
                "the trigger nests deeper than {MAX_NESTING} parentheses or NOTs"
            ));
        }
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(Tok::Open) => {
                self.pos += 1;
                let inner = self.or(depth + 1)?;
                match self.next() {
                    Some(Tok::Close) => Ok(inner),
                    Some(t) => Err(format!("expected `)`, found `{t}`")),
                    None => Err("a `(` is never closed".into()),
                }
            }
            _ => self.clause(),
        }
    }

    fn value(&mut self, field: &str) -> Result<(String, bool), String> {
        match self.next() {
            Some(Tok::Quoted(q)) => Ok((q, true)),
            Some(Tok::Word(w)) => {
                if self.peek() == Some(&Tok::Open) {
                    return Err(format!(
                        "`{field} … {w}()`: JQL functions run in Jira and cannot be checked on the mirror; name the value itself"
                    ));
                }
                Ok((w, false))
            }
            Some(t) => Err(format!("`{field}`: expected a value, found `{t}`")),
            None => Err(format!("`{field}`: the value is missing")),
        }
    }

    fn list(&mut self, field: &str) -> Result<Vec<(String, bool)>, String> {
        match self.next() {
            Some(Tok::Open) => {}
            Some(Tok::Word(w)) if self.peek() == Some(&Tok::Open) => {
                return Err(format!(
                    "`{field} in {w}()`: JQL functions run in Jira and cannot be checked on the mirror; list the values"
                ));
            }
            _ => return Err(format!("`{field} in`: expected a list such as (A, B)")),
        }
        let mut out = vec![self.value(field)?];
        loop {
            match self.next() {
                Some(Tok::Comma) => out.push(self.value(field)?),
                Some(Tok::Close) => return Ok(out),
                Some(t) => {
                    return Err(format!("`{field} in (…`: expected `,` or `)`, found `{t}`"));
                }
                None => return Err(format!("`{field} in (…`: the list is never closed")),
            }
        }
    }

    fn clause(&mut self) -> Result<Expr, String> {
        let (name, quoted) = match self.next() {
            Some(Tok::Word(w)) => (w, false),
            Some(Tok::Quoted(q)) => (q, true),
            Some(t) => return Err(format!("expected a field, found `{t}`")),
            None => return Err("a condition is missing at the end".into()),
        };
        let target = self.target(&name, quoted)?;
        let (op, values): (Op, Vec<(String, bool)>) = match self.next() {
            Some(Tok::Op(o)) => {
                let op = match o {
                    "=" => Op::Eq,
                    "!=" => Op::Ne,
                    "~" => Op::Contains,
                    "!~" => Op::NotContains,
                    ">" => Op::Gt,
                    ">=" => Op::Ge,
                    "<" => Op::Lt,
                    _ => Op::Le,
                };
                (op, vec![self.value(&name)?])
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => (Op::In, self.list(&name)?),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") && is_word(self.peek(), "in") => {
                self.pos += 1;
                (Op::NotIn, self.list(&name)?)
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                let not = is_word(self.peek(), "not");
                if not {
                    self.pos += 1;
                }
                match self.next() {
                    Some(Tok::Word(e))
                        if e.eq_ignore_ascii_case("empty") || e.eq_ignore_ascii_case("null") =>
                    {
                        (if not { Op::IsNotEmpty } else { Op::IsEmpty }, Vec::new())
                    }
                    _ => return Err(format!("`{name} is`: expected EMPTY or NOT EMPTY")),
                }
            }
            Some(Tok::Word(w)) if ["was", "changed"].iter().any(|h| w.eq_ignore_ascii_case(h)) => {
                return Err(format!(
                    "`{name} {w}`: the issue's history cannot be checked on the mirror; compare its value now"
                ));
            }
            Some(t) => return Err(format!("`{name}`: expected an operator, found `{t}`")),
            None => return Err(format!("`{name}`: the operator is missing")),
        };
        // `= EMPTY` and `!= EMPTY` are JQL's other spelling of `IS [NOT] EMPTY`.
        let (op, values) = match (op, values.as_slice()) {
            (Op::Eq | Op::Ne, [(v, false)])
                if v.eq_ignore_ascii_case("empty") || v.eq_ignore_ascii_case("null") =>
            {
                let op = if op == Op::Eq {
                    Op::IsEmpty
                } else {
                    Op::IsNotEmpty
                };
                (op, Vec::new())
            }
            _ => (op, values),
        };
        self.condition(&name, target, op, values)
    }

    fn target(&self, name: &str, quoted: bool) -> Result<Target, String> {
        let lower = name.to_ascii_lowercase();
        if !quoted {
            if let Some(id) = lower.strip_prefix("cf[").and_then(|r| r.strip_suffix(']')) {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("`{name}`: custom fields are named cf[10010]"));
                }
                return Ok(Target::Custom(
                    self.schema.key_of(&format!("customfield_{id}")),
                ));
            }
            let known = match lower.as_str() {
                "project" => Some(Target::Project),
                "statuscategory" => Some(Target::Category),
                "summary" => Some(Target::Item(Field::Summary)),
                "description" => Some(Target::Item(Field::Description)),
                "text" => Some(Target::Item(Field::Text)),
                "assignee" => Some(Target::Item(Field::Assignee)),
                "reporter" => Some(Target::Item(Field::Reporter)),
                "labels" | "label" => Some(Target::Item(Field::Labels)),
                "key" | "issuekey" | "issue" => Some(Target::Custom("issuekey".into())),
                "id" => Some(Target::Custom("id".into())),
                "status" => Some(Target::Custom("status".into())),
                "priority" => Some(Target::Custom("priority".into())),
                "issuetype" | "type" => Some(Target::Custom("issuetype".into())),
                "resolution" => Some(Target::Custom("resolution".into())),
                "parent" => Some(Target::Custom("parent".into())),
                "duedate" | "due" => Some(Target::Date("duedate".into())),
                "created" | "createddate" => Some(Target::Date("created".into())),
                "updated" | "updateddate" => Some(Target::Date("updated".into())),
                "resolutiondate" | "resolved" => Some(Target::Date("resolutiondate".into())),
                "component" | "components" | "fixversion" | "fixversions" | "affectedversion"
                | "affectedversions" | "sprint" | "epic" | "watcher" | "watchers" | "voter"
                | "voters" | "issuelinktype" | "attachments" | "comment" | "creator" | "filter"
                | "worklogdate" | "worklogauthor" | "lastviewed" => {
                    return Err(format!(
                        "`{name}` cannot be checked on the mirror yet; select on another field (labels, status, a custom field)"
                    ));
                }
                _ => None,
            };
            if let Some(t) = known {
                return Ok(t);
            }
        }
        match self.schema.key_for_name(name) {
            Some(key) => Ok(Target::Custom(key)),
            None => Err(format!("Jira has no field named `{name}`")),
        }
    }

    fn condition(
        &self,
        name: &str,
        target: Target,
        op: Op,
        values: Vec<(String, bool)>,
    ) -> Result<Expr, String> {
        let cond = |field: Field, values: Vec<Value>| Ok(Expr::Cond(Cond { field, op, values }));
        let equality = matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn);
        match target {
            Target::Project => {
                if !equality {
                    return Err(format!("`{name}` compares with =, !=, in, not in"));
                }
                let keys = values
                    .iter()
                    .map(|(v, _)| self.project(v))
                    .collect::<Result<Vec<_>, _>>()?;
                cond(
                    Field::Project,
                    keys.into_iter().map(Value::Project).collect(),
                )
            }
            Target::Category => {
                if !equality && !matches!(op, Op::IsEmpty | Op::IsNotEmpty) {
                    return Err(format!("`{name}` compares with =, !=, in, not in"));
                }
                let statuses = values
                    .iter()
                    .map(|(v, _)| category(v).map(Value::Status))
                    .collect::<Result<Vec<_>, _>>()?;
                cond(Field::Status, statuses)
            }
            Target::Item(field) => cond(
                field,
                values.into_iter().map(|(v, _)| Value::Text(v)).collect(),
            ),
            Target::Custom(key) => cond(
                Field::Custom(key),
                values
                    .into_iter()
                    .map(|(v, quoted)| match v.parse::<f64>() {
                        Ok(n) if !quoted && n.is_finite() => Value::Number(n),
                        _ => Value::Text(v),
                    })
                    .collect(),
            ),
            Target::Date(key) => {
                let dates = values
                    .into_iter()
                    .map(|(v, _)| date(name, &v).map(Value::Text))
                    .collect::<Result<Vec<_>, _>>()?;
                cond(Field::Custom(key), dates)
            }
        }
    }

    fn project(&self, value: &str) -> Result<ProjectKey, String> {
        let projects = self
            .schema
            .collections()
            .ok_or("no Jira projects are synced")?;
        projects
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(value))
            .map(|(_, k)| k.clone())
            .ok_or_else(|| {
                format!(
                    "`project = {value}`: {value} is not a synced Jira project ({})",
                    projects
                        .iter()
                        .map(|(c, _)| c)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

/// A status category by its name or Jira's key.
fn category(v: &str) -> Result<Status, String> {
    match v.to_ascii_lowercase().as_str() {
        "new" | "to do" | "todo" => Ok(Status::ToDo),
        "indeterminate" | "in progress" => Ok(Status::InProgress),
        "done" | "complete" => Ok(Status::Done),
        _ => Err(format!(
            "`statusCategory = {v}`: the categories are To Do, In Progress and Done"
        )),
    }
}

/// A date as Jira writes it (`2026-01-31`, `2026-01-31T14:30`), from JQL's `2026/01/31` or
/// `"2026-01-31 14:30"`; relative dates are refused.
fn date(field: &str, v: &str) -> Result<String, String> {
    let t = v.trim();
    if t.starts_with(['-', '+']) || t.ends_with(['d', 'w', 'h', 'm', 'y']) {
        return Err(format!(
            "`{field} … {v}`: relative dates cannot be checked on the mirror; give a date such as \"2026-01-31\""
        ));
    }
    let t = t.replace('/', "-");
    let ok = t.len() >= 10
        && t.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !ok {
        return Err(format!(
            "`{field} … {v}`: not a date; write it as \"2026-01-31\" or \"2026-01-31 14:30\""
        ));
    }
    Ok(t.replacen(' ', "T", 1))
}

fn height(e: &Expr) -> usize {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => 1 + height(a).max(height(b)),
        Expr::Not(a) => 1 + height(a),
        Expr::Cond(_) => 1,
    }
}

/// The trigger as a query over the mirror items of the synced projects.
pub fn translate(text: &str, schema: &JiraSchema) -> Result<Query, String> {
    if text.len() > MAX_LENGTH {
        return Err(format!(
            "the trigger is {} bytes long; at most {MAX_LENGTH} are accepted",
            text.len()
        ));
    }
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
        schema,
    };
    let filter = if p.peek().is_none() || p.at_order_by() {
        None
    } else {
        Some(p.or(0)?)
    };
    if p.peek().is_some() && !p.at_order_by() {
        let rest = p.peek().map(ToString::to_string).unwrap_or_default();
        return Err(format!(
            "unexpected `{rest}`: join conditions with AND or OR"
        ));
    }
    let projects = schema.collections().ok_or("no Jira projects are synced")?;
    let scope = Expr::any(
        projects
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
    .ok_or("no Jira projects are synced")?;
    let filter = match filter {
        Some(f) => Expr::And(Box::new(scope), Box::new(f)),
        None => scope,
    };
    if height(&filter) > MAX_DEPTH {
        return Err(format!(
            "the trigger nests deeper than {MAX_DEPTH} levels once translated; split it or use fewer parentheses"
        ));
    }
    Ok(Query {
        filter: Some(filter),
        order: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::Flavour;

    fn schema() -> JiraSchema {
        JiraSchema::new(
            Flavour::Cloud,
            super::super::schema::projects(&["SUP".into(), "OPS".into()]),
        )
        .with_fields(vec![
            ("customfield_10010".into(), "Severity".into()),
            ("customfield_10011".into(), "Story Points".into()),
        ])
    }

    fn shown(q: &str) -> String {
        format!("{:?}", translate(q, &schema()).expect(q).filter)
    }

    fn refused(q: &str) -> String {
        match schema().parse_trigger(q) {
            Ok(query) => panic!("{q} was accepted: {query:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn exalate_jira_triggers_translate() {
        let q = shown("project = SUP AND issuetype = Bug");
        assert!(q.contains("Project(ProjectKey(\"SUP\"))"), "{q}");
        assert!(
            q.contains("Custom(\"issuetype\"), op: Eq, values: [Text(\"Bug\")]"),
            "{q}"
        );
        let q = shown("status = \"In Progress\" OR priority in (High, Highest)");
        assert!(
            q.contains("Custom(\"status\"), op: Eq, values: [Text(\"In Progress\")]"),
            "{q}"
        );
        assert!(
            q.contains("op: In, values: [Text(\"High\"), Text(\"Highest\")]"),
            "{q}"
        );
        assert!(shown("labels = sync").contains("Labels, op: Eq"));
        assert!(shown("summary ~ \"printer\"").contains("Summary, op: Contains"));
        assert!(shown("text ~ vpn").contains("Text, op: Contains"));
        assert!(shown("assignee is EMPTY").contains("Assignee, op: IsEmpty"));
        assert_eq!(shown("assignee = EMPTY"), shown("assignee is EMPTY"));
        assert_eq!(
            shown("resolution != null"),
            shown("resolution is not empty")
        );
        assert!(
            shown("summary = \"empty\"").contains("Text(\"empty\")"),
            "quoted is text"
        );
        assert!(shown("assignee = alex@example.com").contains("Assignee, op: Eq"));
        assert!(shown("resolution is not null").contains("IsNotEmpty"));
        assert!(shown("labels not in (a, b)").contains("NotIn"));
        assert!(shown("NOT (status = Done)").contains("Not(Cond"));
        assert!(shown("statusCategory != Done").contains("Status, op: Ne, values: [Status(Done)]"));
        assert!(shown("key = SUP-12").contains("Custom(\"issuekey\")"));
        assert!(shown("created >= 2026/01/31").contains("Text(\"2026-01-31\")"));
        assert!(shown("updated < \"2026-01-31 14:30\"").contains("Text(\"2026-01-31T14:30\")"));
        // Custom fields by id or by name; numbers compare as numbers.
        assert!(shown("cf[10010] = \"Sev 1\"").contains("Custom(\"Severity\")"));
        assert!(shown("\"Story Points\" > 3").contains("Number(3.0)"));
        assert!(shown("severity = 'Sev 2'").contains("Custom(\"Severity\")"));
        assert!(shown("cf[10777] = x").contains("Custom(\"customfield_10777\")"));
        // ORDER BY is ignored; a trigger without a condition covers the synced projects.
        assert_eq!(
            shown("project = SUP ORDER BY created DESC"),
            shown("project = SUP")
        );
        assert_eq!(shown("ORDER BY key"), shown(""));
        assert!(shown("").starts_with("Some(Or(Cond"), "{}", shown(""));
        // AND binds tighter than OR, as in Jira.
        let q = shown("labels = a OR labels = b AND labels = c");
        assert!(
            q.contains("Or(Cond(Cond { field: Labels, op: Eq, values: [Text(\"a\")] }), And("),
            "{q}"
        );
    }

    #[test]
    fn what_the_mirror_cannot_answer_is_refused_naming_the_term() {
        for (q, says) in [
            ("assignee = currentUser()", "currentUser()"),
            ("created >= startOfDay()", "startOfDay()"),
            ("assignee in membersOf(\"jira-users\")", "membersOf()"),
            ("created > -7d", "relative dates"),
            ("status WAS Done", "history"),
            ("status changed", "history"),
            ("component = Backend", "`component`"),
            ("fixVersion = 1.0", "`fixVersion`"),
            ("sprint in openSprints()", "`sprint`"),
            ("project = HR", "HR is not a synced Jira project"),
            ("project ~ SUP", "compares with"),
            ("\"No Such Field\" = 1", "No Such Field"),
            ("statusCategory = Waiting", "categories"),
            ("status = ", "missing"),
            ("status = Done labels = x", "join conditions"),
            ("(status = Done", "never closed"),
            ("summary ~ \"open", "never closed"),
            ("cf[abc] = 1", "cf[10010]"),
            ("created > 31.01.2026", "not a date"),
            ("created > yesterday", "relative dates"),
            ("status ! Done", "not JQL"),
        ] {
            let e = refused(q);
            assert!(e.contains(says), "{q}: {e}");
        }
        assert!(matches!(
            schema().parse_trigger("  "),
            Err(crate::schema::TriggerError::Empty { .. })
        ));
    }

    #[test]
    fn untrusted_nesting_and_length_are_bounded_with_a_clear_error() {
        let deep = format!("{}status = Done{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(refused(&deep).contains("nests deeper than 32"));
        let nots = format!("{}status = Done", "NOT ".repeat(10_000));
        assert!(refused(&nots).contains("nests deeper than 32"));
        let ok = format!("{}status = Done{}", "(".repeat(31), ")".repeat(31));
        assert!(translate(&ok, &schema()).is_ok());
        let long = vec!["labels = a"; 10_000].join(" OR ");
        assert!(refused(&long).contains("bytes long"));
        // Thousands of conditions join as balanced trees.
        let many = vec!["labels = a"; 3_000].join(" AND ");
        let q = translate(&many, &schema()).expect("translates");
        assert!(height(&q.filter.expect("filter")) <= 20);
        // Parentheses deep and wide together stay under the query depth limit, or are refused.
        let wide = format!(
            "{}{}{}",
            "(".repeat(31),
            vec!["labels = a"; 1_000].join(" OR "),
            ")".repeat(31)
        );
        match translate(&wide, &schema()) {
            Ok(q) => assert!(height(&q.filter.expect("filter")) <= MAX_DEPTH),
            Err(e) => assert!(e.contains("levels once translated"), "{e}"),
        }
    }

    /// The translation answers on the mirror as Jira would: the store's search over mirrored
    /// issues.
    #[test]
    fn triggers_select_mirrored_issues_in_the_store() {
        use crate::schema::Mapping;
        use tandem_model::Actor;
        use tandem_store::prelude::*;
        use tandem_store::{Page, sqlite::SqliteOptions, sqlite::SqliteStore};

        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(&dir.path().join("t.db"), SqliteOptions::default())
            .expect("open the store");
        let s = schema();
        let sup: ProjectKey = "SUP".parse().expect("key");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let found = runtime.block_on(async {
            store
                .create_project(tandem_model::NewProject {
                    key: sup.clone(),
                    name: "Support".into(),
                    description: String::new(),
                })
                .await
                .expect("project");
            for (key, status, category, kind, severity, points) in [
                ("SUP-1", "In Review", "indeterminate", "Bug", "Sev 1", 3.0),
                ("SUP-2", "To Do", "new", "Task", "Sev 2", 8.0),
                ("SUP-3", "Done", "done", "Bug", "Sev 2", 5.0),
            ] {
                let serde_json::Value::Object(fields) = serde_json::json!({
                    "issuekey": key,
                    "summary": format!("Printer {key}"),
                    "status": {"name": status, "statusCategory": {"key": category}},
                    "issuetype": {"name": kind},
                    "priority": {"name": "High"},
                    "labels": ["fire"],
                    "customfield_10010": {"value": severity, "id": "1"},
                    "customfield_10011": points,
                }) else {
                    unreachable!("an object literal")
                };
                let r = crate::tracker::RemoteRecord {
                    id: key.replace("SUP-", "100"),
                    updated_by: String::new(),
                    fields,
                };
                store
                    .create_item(s.new_item(&r, &sup), &Actor::user("Jira"))
                    .await
                    .expect("mirror item");
            }
            let mut found = Vec::new();
            for trigger in [
                "status = \"In Review\"",
                "issuetype = Bug AND status != Done",
                "statusCategory = Done",
                "cf[10010] = \"Sev 2\"",
                "\"Story Points\" >= 5",
                "key in (SUP-1, SUP-3)",
                "project = SUP AND NOT issuetype = Bug",
                "priority = High ORDER BY key",
            ] {
                let query = translate(trigger, &s).expect(trigger);
                let result = store
                    .search_items(&query, Page::default(), jiff::Timestamp::now())
                    .await
                    .expect("search");
                let mut keys: Vec<String> = result
                    .items
                    .iter()
                    .map(|i| {
                        i.custom_fields["issuekey"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned()
                    })
                    .collect();
                keys.sort();
                found.push((trigger, keys));
            }
            found
        });
        let expected: [&[&str]; 8] = [
            &["SUP-1"],
            &["SUP-1"],
            &["SUP-3"],
            &["SUP-2", "SUP-3"],
            &["SUP-2", "SUP-3"],
            &["SUP-1", "SUP-3"],
            &["SUP-2"],
            &["SUP-1", "SUP-2", "SUP-3"],
        ];
        for ((trigger, got), want) in found.iter().zip(expected) {
            assert_eq!(got, want, "{trigger}");
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
                rng_seed: RngSeed::Fixed(29),
                ..Config::default()
            }
        }

        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                Just(" AND ".to_owned()),
                Just(" OR ".to_owned()),
                Just(" NOT ".to_owned()),
                Just("(".to_owned()),
                Just(")".to_owned()),
                Just("status = Done".to_owned()),
                Just("priority in (High, Low)".to_owned()),
                Just("cf[10010] ~ \"x\"".to_owned()),
                Just("assignee = currentUser()".to_owned()),
                Just(" ORDER BY key".to_owned()),
                "[a-z\\[\\]0-9]{1,6} ?[=!~<>]{1,2} ?[ -~]{0,6}",
                "\\PC{1,4}",
            ]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_translates_or_is_refused_without_panicking(text in "\\PC{0,200}") {
                let _ = translate(&text, &schema());
            }

            #[test]
            fn near_valid_triggers_translate_or_are_refused(pieces in proptest::collection::vec(piece(), 0..80)) {
                let _ = translate(&pieces.concat(), &schema());
            }
        }
    }
}
