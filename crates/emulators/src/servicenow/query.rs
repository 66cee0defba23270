//! `sysparm_query`: the encoded-query parser and the matcher that applies it to records.
//!
//! Grammar (tracker-apis.md §1.5): terms separated by `^`; `^OR` joins a condition to the one
//! before it, `^NQ` starts a new OR-ed group, `ORDERBY<f>` / `ORDERBYDESC<f>` sort. A condition
//! is `<field><OP><value>`; field names are lower case, operators upper case or symbols, so the
//! boundary between them is unambiguous. `^^` is a literal caret inside a value.
//!
//! ServiceNow silently drops invalid terms and applies the rest (§1.4). The parser therefore
//! never fails as a whole: it keeps every valid term and records a [`QueryError`] per dropped
//! one, so the server can either ignore them (faithful default) or answer 400 (strict mode).
//!
//! Comparison follows the field's type: integers numerically, date-times as date-times, text
//! case-insensitively. An empty value behaves like SQL NULL: `!=`, `NOT IN`, `NOT LIKE` and the
//! ordering operators never match it (inference: ServiceNow stores empty as NULL).
//!
//! A field may be dot-walked through reference columns (`caller_id.user_name=beth`): the
//! condition reads the referenced record's column, which the matcher finds through [`Lookup`].
//! Relative dates (`RELATIVEGT@hour@ago@48`) and the `javascript:gs.…()` date helpers are
//! resolved to a date-time when the query is parsed, against the instance's clock.

use std::cmp::Ordering;

use indexmap::IndexMap;

use super::schema::{FieldType, TableDef};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
    Like,
    NotLike,
    InstanceOf,
    StartsWith,
    EndsWith,
    IsEmpty,
    IsNotEmpty,
    Anything,
    Between,
}

/// Operators by their spelling, longest first where one is a prefix of another.
const OPERATORS: &[(&str, Op)] = &[
    ("ISNOTEMPTY", Op::IsNotEmpty),
    ("ISEMPTY", Op::IsEmpty),
    ("ANYTHING", Op::Anything),
    ("NOT IN", Op::NotIn),
    ("NOT LIKE", Op::NotLike),
    ("INSTANCEOF", Op::InstanceOf),
    ("STARTSWITH", Op::StartsWith),
    ("ENDSWITH", Op::EndsWith),
    ("BETWEEN", Op::Between),
    ("LIKE", Op::Like),
    ("CONTAINS", Op::Like),
    ("IN", Op::In),
    ("!=", Op::Ne),
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("=", Op::Eq),
    (">", Op::Gt),
    ("<", Op::Lt),
];

/// One `<field><OP><value>` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    pub value: String,
}

/// One `ORDERBY` / `ORDERBYDESC` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub field: String,
    pub descending: bool,
}

/// A term that was dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(
        "query term `{term}` has no field name: write <field><operator><value>, e.g. active=true"
    )]
    MissingField { term: String },
    #[error(
        "query term `{term}`: `{found}` is not an operator the emulator knows; use =, !=, >, >=, <, <=, \
         IN, NOT IN, LIKE, NOT LIKE, STARTSWITH, ENDSWITH, ISEMPTY, ISNOTEMPTY, ANYTHING, BETWEEN, \
         INSTANCEOF or RELATIVEGT/GE/LT/LE@unit@ago|ahead@n{hint}"
    )]
    UnknownOperator {
        term: String,
        found: String,
        hint: &'static str,
    },
    #[error(
        "query term `{term}`: BETWEEN needs two values joined by @, e.g. BETWEEN2025-01-01@2025-02-01"
    )]
    BadBetween { term: String },
    #[error(
        "query term `{term}`: the emulator runs only these scripts: gs.dateGenerate('YYYY-MM-DD','HH:MM:SS'), \
         gs.daysAgo(n), gs.daysAgoStart(n), gs.daysAgoEnd(n), gs.hoursAgo(n), gs.minutesAgo(n), \
         gs.beginningOfToday(), gs.endOfToday(), gs.beginningOfYesterday(), gs.endOfYesterday(), \
         gs.beginningOfLast7Days(), gs.beginningOfLast30Days()"
    )]
    UnsupportedScript { term: String },
    #[error(
        "query term `{term}`: a relative date is written RELATIVEGT@<minute|hour|dayofweek|week|month|year>@<ago|ahead>@<n>, \
         e.g. sys_created_onRELATIVEGT@hour@ago@48"
    )]
    BadRelative { term: String },
    #[error("query term `{term}`: `{field}` needs a field name after it")]
    EmptyOrderBy { term: String, field: String },
    #[error("query term `{term}`: table `{table}` has no field `{field}`")]
    UnknownField {
        term: String,
        field: String,
        table: String,
    },
    #[error(
        "query term `{term}`: `{field}` of table `{table}` is not a reference, so it cannot be dot-walked"
    )]
    NotAReference {
        term: String,
        field: String,
        table: String,
    },
}

/// What the matcher needs of the instance beyond the record at hand: the tables a dot-walk
/// goes through and the records it reaches.
pub trait Lookup {
    fn table_def(&self, name: &str) -> Option<&TableDef>;
    fn record(&self, table: &str, sys_id: &str) -> Option<&IndexMap<String, String>>;
}

/// A parsed query: OR-ed groups of AND-ed clusters of OR-ed conditions, plus the sort.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `groups[g][c][k]`: group `g` (joined by `^NQ`), cluster `c` (joined by `^`), condition `k`
    /// (joined by `^OR`).
    pub groups: Vec<Vec<Vec<Condition>>>,
    pub order: Vec<OrderBy>,
    /// Terms that were dropped.
    pub errors: Vec<QueryError>,
}

/// Splits on `^`, reading `^^` as a literal caret.
fn split_terms(s: &str) -> Vec<String> {
    let mut terms = vec![String::new()];
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '^' {
            if chars.peek() == Some(&'^') {
                chars.next();
                push_char(&mut terms, '^');
            } else {
                terms.push(String::new());
            }
        } else {
            push_char(&mut terms, ch);
        }
    }
    terms
}

fn push_char(terms: &mut [String], ch: char) {
    if let Some(last) = terms.last_mut() {
        last.push(ch);
    }
}

/// Parses an encoded query; never fails, see the module docs. `now` is the instance's clock,
/// for relative dates and date scripts.
pub fn parse(input: &str, now: jiff::civil::DateTime) -> Query {
    let mut q = Query::default();
    let mut group: Vec<Vec<Condition>> = Vec::new();
    for term in split_terms(input) {
        if term.is_empty() || term == "EQ" {
            continue;
        }
        if let Some(rest) = term.strip_prefix("ORDERBYDESC") {
            push_order(&mut q, &term, "ORDERBYDESC", rest, true);
        } else if let Some(rest) = term.strip_prefix("ORDERBY") {
            push_order(&mut q, &term, "ORDERBY", rest, false);
        } else if let Some(rest) = term.strip_prefix("NQ") {
            if !group.is_empty() {
                q.groups.push(std::mem::take(&mut group));
            }
            match parse_condition(rest, &term, now) {
                Ok(c) => group.push(vec![c]),
                Err(e) => q.errors.push(e),
            }
        } else if let Some(rest) = term.strip_prefix("OR") {
            match parse_condition(rest, &term, now) {
                Ok(c) => match group.last_mut() {
                    Some(cluster) => cluster.push(c),
                    None => group.push(vec![c]),
                },
                Err(e) => q.errors.push(e),
            }
        } else {
            match parse_condition(&term, &term, now) {
                Ok(c) => group.push(vec![c]),
                Err(e) => q.errors.push(e),
            }
        }
    }
    if !group.is_empty() {
        q.groups.push(group);
    }
    q
}

fn push_order(q: &mut Query, term: &str, keyword: &str, field: &str, descending: bool) {
    if field.is_empty() {
        q.errors.push(QueryError::EmptyOrderBy {
            term: term.to_owned(),
            field: keyword.to_owned(),
        });
    } else {
        q.order.push(OrderBy {
            field: field.to_owned(),
            descending,
        });
    }
}

fn is_field_char(ch: char) -> bool {
    ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '.'
}

fn parse_condition(
    text: &str,
    term: &str,
    now: jiff::civil::DateTime,
) -> Result<Condition, QueryError> {
    let split = text.find(|ch| !is_field_char(ch)).unwrap_or(text.len());
    let (field, rest) = text.split_at(split);
    if field.is_empty() {
        return Err(QueryError::MissingField {
            term: term.to_owned(),
        });
    }
    if let Some(relative) = rest.strip_prefix("RELATIVE") {
        return relative_condition(field, relative, term, now);
    }
    let Some((op, value)) = OPERATORS
        .iter()
        .find_map(|(spelling, op)| rest.strip_prefix(spelling).map(|v| (*op, v)))
    else {
        let found: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == ' ' || "=!<>".contains(*c))
            .take(20)
            .collect();
        let hint = if found.starts_with("NOTLIKE") {
            " (\"does not contain\" is NOT LIKE, with a space)"
        } else {
            ""
        };
        return Err(QueryError::UnknownOperator {
            term: term.to_owned(),
            found: if found.is_empty() {
                "(nothing)".to_owned()
            } else {
                found
            },
            hint,
        });
    };
    let value = match op {
        Op::IsEmpty | Op::IsNotEmpty | Op::Anything => String::new(),
        // Each bound may be a script: pysnow writes `BETWEENjavascript:gs.dateGenerate(…)@javascript:…`.
        Op::Between => match value.split_once('@') {
            Some((lo, hi)) => format!(
                "{}@{}",
                script_value(lo, term, now)?,
                script_value(hi, term, now)?
            ),
            None => value.to_owned(),
        },
        _ => script_value(value, term, now)?,
    };
    if op == Op::Between && value.split('@').count() != 2 {
        return Err(QueryError::BadBetween {
            term: term.to_owned(),
        });
    }
    Ok(Condition {
        field: field.to_owned(),
        op,
        value,
    })
}

/// `RELATIVEGT@hour@ago@48`: a comparison with a moment relative to now, resolved here.
fn relative_condition(
    field: &str,
    relative: &str,
    term: &str,
    now: jiff::civil::DateTime,
) -> Result<Condition, QueryError> {
    let bad = || QueryError::BadRelative {
        term: term.to_owned(),
    };
    let (op, spec) = [
        ("GE", Op::Ge),
        ("GT", Op::Gt),
        ("LE", Op::Le),
        ("LT", Op::Lt),
    ]
    .iter()
    .find_map(|(s, op)| relative.strip_prefix(s).map(|rest| (*op, rest)))
    .ok_or_else(bad)?;
    let parts: Vec<&str> = spec.split('@').collect();
    let ["", unit, direction, count] = parts.as_slice() else {
        return Err(bad());
    };
    let n: i64 = count.trim().parse().map_err(|_| bad())?;
    let n = match *direction {
        "ago" => n.checked_neg().ok_or_else(bad)?,
        "ahead" => n,
        _ => return Err(bad()),
    };
    let span = match *unit {
        "minute" => jiff::Span::new().try_minutes(n),
        "hour" => jiff::Span::new().try_hours(n),
        "dayofweek" | "day" => jiff::Span::new().try_days(n),
        "week" => jiff::Span::new().try_weeks(n),
        "month" => jiff::Span::new().try_months(n),
        "year" => jiff::Span::new().try_years(n),
        _ => return Err(bad()),
    }
    .map_err(|_| bad())?;
    let at = now.checked_add(span).map_err(|_| bad())?;
    Ok(Condition {
        field: field.to_owned(),
        op,
        value: format_datetime(at),
    })
}

fn format_datetime(dt: jiff::civil::DateTime) -> String {
    dt.strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// Resolves the `javascript:` date helpers against `now`; plain values pass through.
fn script_value(value: &str, term: &str, now: jiff::civil::DateTime) -> Result<String, QueryError> {
    let Some(script) = value.strip_prefix("javascript:") else {
        return Ok(value.to_owned());
    };
    let unsupported = || QueryError::UnsupportedScript {
        term: term.to_owned(),
    };
    let call = script
        .trim()
        .strip_prefix("gs.")
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(unsupported)?;
    let (name, args) = call.split_once('(').ok_or_else(unsupported)?;
    let args: Vec<&str> = args
        .split(',')
        .map(|p| p.trim().trim_matches(|c| c == '\'' || c == '"'))
        .filter(|p| !p.is_empty())
        .collect();
    let count = || -> Result<i64, QueryError> {
        match args.as_slice() {
            [n] => n.parse::<i64>().map_err(|_| unsupported()),
            _ => Err(unsupported()),
        }
    };
    let day_start = |days_ago: i64| -> Result<jiff::civil::DateTime, QueryError> {
        let day = now
            .date()
            .checked_sub(
                jiff::Span::new()
                    .try_days(days_ago)
                    .map_err(|_| unsupported())?,
            )
            .map_err(|_| unsupported())?;
        Ok(day.to_datetime(jiff::civil::Time::midnight()))
    };
    let day_end = |days_ago: i64| -> Result<jiff::civil::DateTime, QueryError> {
        let start = day_start(days_ago)?;
        Ok(start
            .with()
            .hour(23)
            .minute(59)
            .second(59)
            .build()
            .unwrap_or(start))
    };
    let ago = |span: Result<jiff::Span, jiff::Error>| -> Result<jiff::civil::DateTime, QueryError> {
        now.checked_sub(span.map_err(|_| unsupported())?)
            .map_err(|_| unsupported())
    };
    let at = match name {
        // gs.dateGenerate(date, range): range is a time, 'start' or 'end' of the day; pysnow
        // passes one argument, the whole date-time, which is read as that moment.
        "dateGenerate" => {
            return match args.as_slice() {
                [date, "start"] => Ok(format!("{date} 00:00:00")),
                [date, "end"] => Ok(format!("{date} 23:59:59")),
                [date, time] => Ok(format!("{date} {time}")),
                [moment] if datetime(moment).is_some() => Ok((*moment).to_owned()),
                _ => Err(unsupported()),
            };
        }
        "daysAgo" => ago(jiff::Span::new().try_days(count()?))?,
        "hoursAgo" => ago(jiff::Span::new().try_hours(count()?))?,
        "minutesAgo" => ago(jiff::Span::new().try_minutes(count()?))?,
        "daysAgoStart" => day_start(count()?)?,
        "daysAgoEnd" => day_end(count()?)?,
        "beginningOfToday" => day_start(0)?,
        "endOfToday" => day_end(0)?,
        "beginningOfYesterday" => day_start(1)?,
        "endOfYesterday" => day_end(1)?,
        // (inference) the start of the day seven (thirty) days back.
        "beginningOfLast7Days" => day_start(7)?,
        "beginningOfLast30Days" => day_start(30)?,
        _ => return Err(unsupported()),
    };
    Ok(format_datetime(at))
}

impl Query {
    /// Drops conditions and sorts on fields the table does not have (dot-walks included),
    /// recording why.
    pub fn check_fields(&mut self, table: &TableDef, lookup: &dyn Lookup) {
        let mut errors = Vec::new();
        let mut known = |field: &str, term: String| match check_path(table, lookup, field, &term) {
            Ok(()) => true,
            Err(e) => {
                errors.push(e);
                false
            }
        };
        for group in &mut self.groups {
            for cluster in group.iter_mut() {
                cluster.retain(|c| known(&c.field, c.field.clone()));
            }
            group.retain(|cluster| !cluster.is_empty());
        }
        self.groups.retain(|g| !g.is_empty());
        self.order
            .retain(|o| known(&o.field, format!("ORDERBY{}", o.field)));
        self.errors.extend(errors);
    }

    /// Whether a record satisfies the conditions (no conditions: every record does).
    pub fn matches(
        &self,
        table: &TableDef,
        lookup: &dyn Lookup,
        record: &IndexMap<String, String>,
    ) -> bool {
        self.groups.is_empty()
            || self.groups.iter().any(|group| {
                group.iter().all(|cluster| {
                    cluster
                        .iter()
                        .any(|c| condition_matches(table, lookup, record, c))
                })
            })
    }

    /// Sorts records by the `ORDERBY` terms (stable: ties keep insertion order).
    pub fn sort(
        &self,
        table: &TableDef,
        lookup: &dyn Lookup,
        records: &mut [&IndexMap<String, String>],
    ) {
        if self.order.is_empty() {
            return;
        }
        records.sort_by(|a, b| {
            for o in &self.order {
                let (ty, va) = resolve(table, lookup, a, &o.field);
                let (_, vb) = resolve(table, lookup, b, &o.field);
                let ord = sort_cmp(ty, va, vb);
                let ord = if o.descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }
}

/// Checks that `field` names a column, each dot-walked step going through a reference.
fn check_path(
    table: &TableDef,
    lookup: &dyn Lookup,
    field: &str,
    term: &str,
) -> Result<(), QueryError> {
    let mut def = table;
    let mut steps = field.split('.').peekable();
    while let Some(name) = steps.next() {
        let Some(f) = def.field(name) else {
            return Err(QueryError::UnknownField {
                term: term.to_owned(),
                field: name.to_owned(),
                table: def.name.to_owned(),
            });
        };
        if steps.peek().is_none() {
            return Ok(());
        }
        let FieldType::Reference(target) = f.ty else {
            return Err(QueryError::NotAReference {
                term: term.to_owned(),
                field: name.to_owned(),
                table: def.name.to_owned(),
            });
        };
        def = lookup
            .table_def(target)
            .ok_or_else(|| QueryError::UnknownField {
                term: term.to_owned(),
                field: name.to_owned(),
                table: def.name.to_owned(),
            })?;
    }
    Ok(())
}

/// A field's type and value on a record, following dot-walks; `""` when a reference on the
/// way is empty or dangling.
fn resolve<'a>(
    table: &'a TableDef,
    lookup: &'a dyn Lookup,
    record: &'a IndexMap<String, String>,
    field: &str,
) -> (FieldType, &'a str) {
    let mut def = table;
    let mut current = Some(record);
    let mut steps = field.split('.').peekable();
    while let Some(name) = steps.next() {
        let ty = def.field(name).map_or(FieldType::String, |f| f.ty);
        let value = current.and_then(|r| r.get(name)).map_or("", String::as_str);
        if steps.peek().is_none() {
            return (ty, value);
        }
        let FieldType::Reference(target) = ty else {
            return (FieldType::String, "");
        };
        let Some(next) = lookup.table_def(target) else {
            return (FieldType::String, "");
        };
        def = next;
        current = if value.is_empty() {
            None
        } else {
            lookup.record(target, value)
        };
    }
    (FieldType::String, "")
}

fn condition_matches(
    table: &TableDef,
    lookup: &dyn Lookup,
    record: &IndexMap<String, String>,
    c: &Condition,
) -> bool {
    let (ty, v) = resolve(table, lookup, record, &c.field);
    let q = c.value.as_str();
    let lower = |s: &str| s.to_lowercase();
    match c.op {
        Op::Eq => typed_eq(ty, v, q),
        Op::Ne => !v.is_empty() && !typed_eq(ty, v, q),
        Op::Gt => ordered(ty, v, q).is_some_and(Ordering::is_gt),
        Op::Ge => ordered(ty, v, q).is_some_and(Ordering::is_ge),
        Op::Lt => ordered(ty, v, q).is_some_and(Ordering::is_lt),
        Op::Le => ordered(ty, v, q).is_some_and(Ordering::is_le),
        Op::In => q.split(',').any(|item| typed_eq(ty, v, item.trim())),
        Op::NotIn => !v.is_empty() && !q.split(',').any(|item| typed_eq(ty, v, item.trim())),
        Op::Like => lower(v).contains(&lower(q)),
        Op::NotLike => !v.is_empty() && !lower(v).contains(&lower(q)),
        Op::InstanceOf => super::schema::is_instance_of(v, q),
        Op::StartsWith => lower(v).starts_with(&lower(q)),
        Op::EndsWith => lower(v).ends_with(&lower(q)),
        Op::IsEmpty => v.is_empty(),
        Op::IsNotEmpty => !v.is_empty(),
        Op::Anything => true,
        Op::Between => match q.split_once('@') {
            Some((lo, hi)) => {
                ordered(ty, v, lo).is_some_and(Ordering::is_ge)
                    && ordered(ty, v, hi).is_some_and(Ordering::is_le)
            }
            None => false,
        },
    }
}

fn typed_eq(ty: FieldType, v: &str, q: &str) -> bool {
    match ty {
        FieldType::Integer => match (v.parse::<i64>(), q.parse::<i64>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => v == q,
        },
        FieldType::Boolean => bool_of(v) == bool_of(q),
        FieldType::DateTime => match (datetime(v), datetime(q)) {
            (Some(a), Some(b)) => a == b,
            _ => v == q,
        },
        FieldType::Reference(_) => v == q,
        _ => v.to_lowercase() == q.to_lowercase(),
    }
}

fn bool_of(s: &str) -> &str {
    match s {
        "true" | "1" => "true",
        "false" | "0" | "" => "false",
        other => other,
    }
}

/// Compares a non-empty record value with a query value; `None` when they cannot be compared.
fn ordered(ty: FieldType, v: &str, q: &str) -> Option<Ordering> {
    if v.is_empty() {
        return None;
    }
    match ty {
        FieldType::Integer => Some(v.parse::<i64>().ok()?.cmp(&q.trim().parse::<i64>().ok()?)),
        FieldType::DateTime => Some(datetime(v)?.cmp(&datetime(q)?)),
        _ => Some(v.to_lowercase().cmp(&q.to_lowercase())),
    }
}

/// Sort order: empty first (NULLs first, as ascending SQL does), then by type.
fn sort_cmp(ty: FieldType, a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => ordered(ty, a, b).unwrap_or_else(|| a.cmp(b)),
    }
}

/// Reads `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD` (midnight).
pub fn datetime(s: &str) -> Option<jiff::civil::DateTime> {
    let s = s.trim();
    if let Ok(dt) = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s) {
        return Some(dt);
    }
    jiff::civil::Date::strptime("%Y-%m-%d", s)
        .ok()
        .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
}

#[cfg(test)]
mod tests {
    use super::super::schema::{TableDef, tables};
    use super::*;

    /// The clock the tests parse against.
    fn now() -> jiff::civil::DateTime {
        jiff::civil::date(2025, 8, 10).at(12, 0, 0, 0)
    }

    fn parse(s: &str) -> Query {
        super::parse(s, now())
    }

    /// Tables and records for dot-walks.
    #[derive(Default)]
    struct Fixture {
        tables: Vec<TableDef>,
        records: Vec<(&'static str, IndexMap<String, String>)>,
    }

    impl Lookup for Fixture {
        fn table_def(&self, name: &str) -> Option<&TableDef> {
            self.tables.iter().find(|t| t.name == name)
        }
        fn record(&self, table: &str, sys_id: &str) -> Option<&IndexMap<String, String>> {
            self.records
                .iter()
                .find(|(t, r)| *t == table && r.get("sys_id").is_some_and(|id| id == sys_id))
                .map(|(_, r)| r)
        }
    }

    fn row(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn cond(field: &str, op: Op, value: &str) -> Condition {
        Condition {
            field: field.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn and_or_and_new_query_groups_nest_as_servicenow_documents() {
        let q = parse("active=true^priority=1^ORpriority=2^NQstate=6");
        assert!(q.errors.is_empty());
        assert_eq!(
            q.groups,
            vec![
                vec![
                    vec![cond("active", Op::Eq, "true")],
                    vec![cond("priority", Op::Eq, "1"), cond("priority", Op::Eq, "2")],
                ],
                vec![vec![cond("state", Op::Eq, "6")]],
            ]
        );
    }

    #[test]
    fn every_operator_is_recognised() {
        let cases = [
            ("a=1", Op::Eq, "1"),
            ("a!=1", Op::Ne, "1"),
            ("a>1", Op::Gt, "1"),
            ("a>=1", Op::Ge, "1"),
            ("a<1", Op::Lt, "1"),
            ("a<=1", Op::Le, "1"),
            ("aIN1,2", Op::In, "1,2"),
            ("aNOT IN1,2", Op::NotIn, "1,2"),
            ("aLIKEx", Op::Like, "x"),
            ("aCONTAINSx", Op::Like, "x"),
            ("aNOT LIKEx", Op::NotLike, "x"),
            ("aINSTANCEOFtask", Op::InstanceOf, "task"),
            ("aSTARTSWITHx", Op::StartsWith, "x"),
            ("aENDSWITHx", Op::EndsWith, "x"),
            ("aISEMPTY", Op::IsEmpty, ""),
            ("aISNOTEMPTY", Op::IsNotEmpty, ""),
            ("aANYTHING", Op::Anything, ""),
            ("aBETWEEN1@2", Op::Between, "1@2"),
        ];
        for (text, op, value) in cases {
            let q = parse(text);
            assert_eq!(q.groups, vec![vec![vec![cond("a", op, value)]]], "{text}");
        }
    }

    #[test]
    fn order_terms_are_collected_in_order() {
        let q = parse("active=true^ORDERBYnumber^ORDERBYDESCcategory");
        assert_eq!(
            q.order,
            vec![
                OrderBy {
                    field: "number".into(),
                    descending: false
                },
                OrderBy {
                    field: "category".into(),
                    descending: true
                },
            ]
        );
    }

    #[test]
    fn invalid_terms_are_dropped_with_a_reason_and_the_rest_kept() {
        let q = parse("=x^stateFOO3^priority=1^ORDERBY^aBETWEEN1");
        assert_eq!(q.groups, vec![vec![vec![cond("priority", Op::Eq, "1")]]]);
        assert!(matches!(q.errors[0], QueryError::MissingField { .. }));
        assert!(
            matches!(&q.errors[1], QueryError::UnknownOperator { found, .. } if found == "FOO")
        );
        assert!(matches!(q.errors[2], QueryError::EmptyOrderBy { .. }));
        assert!(matches!(q.errors[3], QueryError::BadBetween { .. }));
        assert!(q.errors[1].to_string().contains("stateFOO3"));
    }

    #[test]
    fn the_made_up_notlike_is_an_unknown_operator_that_points_to_not_like() {
        let q = parse("short_descriptionNOTLIKEprinter");
        assert!(q.groups.is_empty());
        let e = q.errors[0].to_string();
        assert!(e.contains("NOT LIKE, with a space"), "{e}");
        assert!(e.contains("short_descriptionNOTLIKEprinter"), "{e}");
    }

    #[test]
    fn relative_dates_and_date_scripts_resolve_against_the_clock() {
        let value = |s: &str| {
            let q = parse(s);
            assert!(q.errors.is_empty(), "{s}: {:?}", q.errors);
            (q.groups[0][0][0].op, q.groups[0][0][0].value.clone())
        };
        assert_eq!(
            value("sys_created_onRELATIVEGT@hour@ago@48"),
            (Op::Gt, "2025-08-08 12:00:00".into())
        );
        assert_eq!(
            value("due_dateRELATIVELE@dayofweek@ahead@1"),
            (Op::Le, "2025-08-11 12:00:00".into())
        );
        assert_eq!(
            value("opened_at>javascript:gs.daysAgo(3)"),
            (Op::Gt, "2025-08-07 12:00:00".into())
        );
        assert_eq!(
            value("opened_at>=javascript:gs.daysAgoStart(1)").1,
            "2025-08-09 00:00:00"
        );
        assert_eq!(
            value("opened_at<=javascript:gs.endOfToday()").1,
            "2025-08-10 23:59:59"
        );
        assert_eq!(
            value("opened_at>=javascript:gs.beginningOfLast7Days()").1,
            "2025-08-03 00:00:00"
        );
        assert_eq!(
            value("opened_at>javascript:gs.minutesAgo(30)").1,
            "2025-08-10 11:30:00"
        );
        assert_eq!(
            value(
                "opened_atBETWEENjavascript:gs.dateGenerate(\"2025-08-01 10:00:00\")@javascript:gs.dateGenerate('2025-08-02','end')"
            ),
            (
                Op::Between,
                "2025-08-01 10:00:00@2025-08-02 23:59:59".into()
            )
        );
        assert_eq!(
            value("opened_at>=javascript:gs.dateGenerate('2025-08-02','start')").1,
            "2025-08-02 00:00:00"
        );
        for bad in [
            "opened_atRELATIVEGT@fortnight@ago@1",
            "opened_atRELATIVEGT@hour@later@1",
            "opened_atRELATIVEGT@hour@ago",
            "opened_atRELATIVEEQ@hour@ago@1",
            "opened_at>javascript:gs.nowDateTime()",
            "opened_at>javascript:gs.daysAgo(x)",
            "opened_at>javascript:alert(1)",
        ] {
            let q = parse(bad);
            assert!(q.groups.is_empty() && q.errors.len() == 1, "{bad}: {q:?}");
            assert!(q.errors[0].to_string().contains(bad), "{bad}");
        }
    }

    #[test]
    fn instanceof_matches_a_table_and_the_tables_that_extend_it() {
        let tables = tables();
        let incident = tables
            .iter()
            .find(|t| t.name == "incident")
            .expect("incident");
        let lookup = Fixture::default();
        let record = row(&[("sys_class_name", "incident")]);
        let yes = |s: &str| parse(s).matches(incident, &lookup, &record);
        assert!(yes("sys_class_nameINSTANCEOFtask"));
        assert!(yes("sys_class_nameINSTANCEOFincident"));
        assert!(!yes("sys_class_nameINSTANCEOFproblem"));
    }

    #[test]
    fn dot_walked_conditions_read_the_referenced_record() {
        let lookup = Fixture {
            tables: tables(),
            records: vec![(
                "sys_user",
                row(&[
                    ("sys_id", "u1"),
                    ("user_name", "beth.anglin"),
                    ("active", "true"),
                ]),
            )],
        };
        let incident = lookup.table_def("incident").expect("incident");
        let called = row(&[("caller_id", "u1")]);
        let nobody = row(&[("caller_id", "")]);
        let dangling = row(&[("caller_id", "gone")]);
        let check = |s: &str| {
            let mut q = parse(s);
            q.check_fields(incident, &lookup);
            assert!(q.errors.is_empty(), "{s}: {:?}", q.errors);
            [&called, &nobody, &dangling].map(|r| q.matches(incident, &lookup, r))
        };
        assert_eq!(
            check("caller_id.user_name=beth.anglin"),
            [true, false, false]
        );
        assert_eq!(
            check("caller_id.user_nameSTARTSWITHbeth"),
            [true, false, false]
        );
        assert_eq!(check("caller_id.active=true"), [true, false, false]);
        assert_eq!(check("caller_id.user_nameISEMPTY"), [false, true, true]);
        for (bad, says) in [
            ("caller_id.nosuch=1", "has no field `nosuch`"),
            ("short_description.x=1", "is not a reference"),
            ("nosuch.user_name=1", "has no field `nosuch`"),
        ] {
            let mut q = parse(bad);
            q.check_fields(incident, &lookup);
            assert!(q.groups.is_empty(), "{bad}");
            assert!(
                q.errors[0].to_string().contains(says),
                "{bad}: {}",
                q.errors[0]
            );
        }
    }

    #[test]
    fn double_caret_is_a_literal_caret() {
        let q = parse("short_description=a^^b^active=true");
        assert_eq!(
            q.groups[0][0],
            vec![cond("short_description", Op::Eq, "a^b")]
        );
        assert_eq!(q.groups[0].len(), 2);
    }

    #[test]
    fn date_generate_becomes_a_plain_date_time() {
        let q = parse("sys_updated_on>=javascript:gs.dateGenerate('2025-08-01','10:00:00')");
        assert_eq!(q.groups[0][0][0].value, "2025-08-01 10:00:00");
        assert!(matches!(
            parse("sys_updated_on>=javascript:gs.daysAgo(3)^x=javascript:current.x").errors[0],
            QueryError::UnsupportedScript { .. }
        ));
    }

    #[test]
    fn unknown_fields_are_dropped_by_check_fields() {
        let tables = tables();
        let incident = tables
            .iter()
            .find(|t| t.name == "incident")
            .expect("incident table");
        let mut q = parse("nosuch=1^ORpriority=1^ORDERBYnosuch^ORDERBYnumber");
        q.check_fields(incident, &Fixture::default());
        assert_eq!(q.groups, vec![vec![vec![cond("priority", Op::Eq, "1")]]]);
        assert_eq!(q.order.len(), 1);
        assert_eq!(q.errors.len(), 2);
    }

    #[test]
    fn comparisons_follow_field_types() {
        let tables = tables();
        let incident = tables
            .iter()
            .find(|t| t.name == "incident")
            .expect("incident table");
        let record: IndexMap<String, String> = [
            ("state", "10"),
            ("short_description", "Printer On Fire"),
            ("sys_updated_on", "2025-08-01 10:00:00"),
            ("active", "true"),
            ("category", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let yes = |s: &str| {
            let mut q = parse(s);
            q.check_fields(incident, &Fixture::default());
            assert!(q.errors.is_empty(), "{s}: {:?}", q.errors);
            q.matches(incident, &Fixture::default(), &record)
        };
        assert!(yes("state>9"), "numeric, not lexicographic");
        assert!(!yes("state<9"));
        assert!(yes("sys_updated_on>=2025-08-01"));
        assert!(yes("sys_updated_on<2025-08-01 10:00:01"));
        assert!(!yes("sys_updated_on>2025-08-01 10:00:00"));
        assert!(yes("short_description=printer on fire"), "case-insensitive");
        assert!(yes("short_descriptionLIKEon f"));
        assert!(yes("short_descriptionNOT LIKEpaper"));
        assert!(!yes("short_descriptionNOT LIKEfire"));
        assert!(
            !yes("categoryNOT LIKEx"),
            "empty is NULL: NOT LIKE does not match it"
        );
        assert!(yes(
            "short_descriptionSTARTSWITHprint^short_descriptionENDSWITHFIRE"
        ));
        assert!(yes("active=1"));
        assert!(yes("categoryISEMPTY^stateISNOTEMPTY"));
        assert!(!yes("category!=x"), "empty is NULL: != does not match it");
        assert!(yes("stateIN1,10^stateNOT IN1,2"));
        assert!(yes("stateBETWEEN10@11"));
        assert!(yes("state=1^NQstate=10"));
        assert!(!yes("state=1^ORstate=2"));
    }

    #[test]
    fn sorting_is_typed_with_empty_first() {
        let tables = tables();
        let incident = tables
            .iter()
            .find(|t| t.name == "incident")
            .expect("incident table");
        let rows: Vec<IndexMap<String, String>> = ["10", "", "9"]
            .iter()
            .map(|s| {
                [("state".to_owned(), (*s).to_owned())]
                    .into_iter()
                    .collect()
            })
            .collect();
        let mut refs: Vec<_> = rows.iter().collect();
        parse("ORDERBYstate").sort(incident, &Fixture::default(), &mut refs);
        let got: Vec<&str> = refs.iter().map(|r| r["state"].as_str()).collect();
        assert_eq!(got, ["", "9", "10"]);
        parse("ORDERBYDESCstate").sort(incident, &Fixture::default(), &mut refs);
        let got: Vec<&str> = refs.iter().map(|r| r["state"].as_str()).collect();
        assert_eq!(got, ["10", "9", ""]);
    }

    fn config() -> proptest::test_runner::Config {
        proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(13),
            ..proptest::test_runner::Config::default()
        }
    }

    /// A term or joiner, for near-valid encoded queries of any length.
    fn piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            Just("^".to_owned()),
            Just("^^".to_owned()),
            Just("^OR".to_owned()),
            Just("^NQ".to_owned()),
            Just("EQ".to_owned()),
            Just("state=1".to_owned()),
            Just("stateIN1,2".to_owned()),
            Just("short_descriptionLIKEx".to_owned()),
            Just("short_descriptionNOT LIKEx".to_owned()),
            Just("caller_id.user_name=x".to_owned()),
            Just("opened_atRELATIVEGT@hour@ago@48".to_owned()),
            Just("opened_at>javascript:gs.daysAgo(7)".to_owned()),
            Just("opened_atBETWEEN2025-01-01@2025-02-01".to_owned()),
            Just("opened_at>javascript:gs.dateGenerate('2025-01-01','00:00:00')".to_owned()),
            Just("ORDERBYDESCstate".to_owned()),
            Just("ORDERBY".to_owned()),
            "[a-z_]{1,6}[=!<>A-Z ]{1,6}[ -~]{0,6}",
        ]
    }

    proptest::proptest! {
        #![proptest_config(config())]

        #[test]
        fn near_valid_and_long_queries_parse_and_match(
            pieces in proptest::collection::vec(piece(), 0..60),
            repeat in 1usize..200,
        ) {
            let tables = tables();
            let text = pieces.concat().repeat(repeat);
            let mut q = parse(&text);
            q.check_fields(&tables[0], &Fixture::default());
            let record = IndexMap::new();
            let _ = q.matches(&tables[0], &Fixture::default(), &record);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,80}") {
            let _ = parse(&s);
        }

        #[test]
        fn parsing_query_like_text_never_panics(s in "[a-z_=!<>^@, A-Z0-9]{0,60}") {
            let tables = tables();
            let mut q = parse(&s);
            q.check_fields(&tables[0], &Fixture::default());
            let record = IndexMap::new();
            let _ = q.matches(&tables[0], &Fixture::default(), &record);
        }
    }
}
