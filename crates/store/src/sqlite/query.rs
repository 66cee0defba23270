//! Compiles a [`Query`] to a SQL filter and ORDER BY list over `items i`. Every value is a bound
//! parameter; the SQL text holds only fixed fragments, so a query's text never reaches SQL.
//!
//! Semantics, as in JQL:
//! - Every condition is true or false, never NULL, so `NOT` is an exact complement.
//! - `!=` and `NOT IN` (and `!~` on custom fields) match only items that *have* a value: an
//!   unassigned item is not `assignee != alice`. `IS EMPTY` finds the others.
//! - Text (`~`) matches a case-insensitive substring; `text ~` searches summary, description
//!   and comment bodies. People match by name or email, case-insensitively.
//! - `priority > Medium` means more urgent. `key < OPS-10` compares numbers within OPS.
//! - Custom fields compare numbers numerically — a text value that is a number too — and text
//!   case-insensitively (`= true` also matches a JSON boolean); a list value matches when any
//!   element does.
//!
//! Values of the wrong kind for their field can only come from a hand-built AST (the parser
//! checks them); they are read leniently and at worst match nothing.

use jiff::Timestamp;
use rusqlite::types::Value as Sql;
use tandem_model::query::{Cond, Expr, Field, Op, OrderBy, Query, Value};
use tandem_model::{ItemKey, Priority, Status};

use super::fold;
use super::items::priority_rank;

pub(super) struct Compiled {
    /// A boolean expression over `items i`.
    pub filter: String,
    pub filter_params: Vec<Sql>,
    /// ORDER BY terms, ending with a tie-break on the row id so that pages are stable.
    pub order: String,
    pub order_params: Vec<Sql>,
}

pub(super) fn compile(query: &Query, now: Timestamp) -> Compiled {
    let mut filter = Builder::new(now);
    match &query.filter {
        Some(expr) => filter.expr(expr),
        None => filter.sql.push('1'),
    }
    let mut order = Builder::new(now);
    order.order(&query.order);
    Compiled {
        filter: filter.sql,
        filter_params: filter.params,
        order: order.sql,
        order_params: order.params,
    }
}

struct Builder {
    sql: String,
    params: Vec<Sql>,
    now: Timestamp,
}

/// SQL for a comparison operator, for the operators that are one.
fn sql_op(op: Op) -> Option<&'static str> {
    Some(match op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        _ => return None,
    })
}

/// A value's text, whatever its kind.
fn text_of(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Number(n) => number_text(*n),
        Value::Project(p) => p.to_string(),
        Value::Key(k) => k.to_string(),
        Value::Status(s) => s.to_string(),
        Value::Priority(p) => p.to_string(),
        Value::Time(t) => format!("{t:?}"),
    }
}

/// A number as people write it: `5`, not `5.0`.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl Builder {
    fn new(now: Timestamp) -> Self {
        Builder {
            sql: String::new(),
            params: Vec::new(),
            now,
        }
    }

    fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    fn param(&mut self, value: impl Into<Sql>) {
        self.sql.push('?');
        self.params.push(value.into());
    }

    /// `?, ?, ?` for each value.
    fn param_list(&mut self, values: Vec<Sql>) {
        for (at, value) in values.into_iter().enumerate() {
            if at > 0 {
                self.push(", ");
            }
            self.param(value);
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::And(a, b) | Expr::Or(a, b) => {
                let joiner = if matches!(expr, Expr::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
                self.push("(");
                self.expr(a);
                self.push(joiner);
                self.expr(b);
                self.push(")");
            }
            Expr::Not(inner) => {
                self.push("(NOT ");
                self.expr(inner);
                self.push(")");
            }
            Expr::Cond(cond) => self.cond(cond),
        }
    }

    fn cond(&mut self, c: &Cond) {
        let now = self.now;
        match &c.field {
            Field::Project => self.scalar("i.project", c, None, |v| {
                Sql::Text(match v {
                    Value::Project(p) => p.to_string(),
                    other => text_of(other).to_ascii_uppercase(),
                })
            }),
            Field::Summary => self.scalar("i.summary", c, Some("''"), |v| Sql::Text(text_of(v))),
            Field::Description => {
                self.scalar("i.description", c, Some("''"), |v| Sql::Text(text_of(v)))
            }
            Field::Status => self.scalar("i.status", c, None, |v| {
                Sql::Text(match v {
                    Value::Status(s) => s.as_str().to_owned(),
                    other => text_of(other)
                        .parse::<Status>()
                        .map_or_else(|_| text_of(other), |s| s.as_str().to_owned()),
                })
            }),
            Field::Priority => self.scalar("i.priority", c, None, |v| {
                Sql::Integer(match v {
                    Value::Priority(p) => priority_rank(*p),
                    other => text_of(other).parse::<Priority>().map_or(0, priority_rank),
                })
            }),
            Field::Created | Field::Updated => {
                let column = if c.field == Field::Created {
                    "i.created"
                } else {
                    "i.updated"
                };
                self.scalar(column, c, None, move |v| {
                    Sql::Integer(match v {
                        Value::Time(t) => t.resolve(now).as_millisecond(),
                        other => text_of(other)
                            .parse::<Timestamp>()
                            .map_or(0, |t| t.as_millisecond()),
                    })
                })
            }
            Field::Key => self.key(c),
            Field::Text => self.text(c),
            Field::Assignee => self.person("i.assignee_name", "i.assignee_email", c),
            Field::Reporter => self.person("i.reporter_name", "i.reporter_email", c),
            Field::Labels => self.labels(c),
            Field::Custom(name) => self.custom(name, c),
        }
    }

    /// A condition on a NOT NULL column. `empty` is the SQL value that means "empty", if the
    /// column can be empty at all.
    fn scalar(
        &mut self,
        column: &str,
        c: &Cond,
        empty: Option<&str>,
        conv: impl Fn(&Value) -> Sql,
    ) {
        let first = c.values.first();
        match (c.op, first) {
            (Op::In | Op::NotIn, _) if !c.values.is_empty() => {
                self.push(&format!(
                    "{column}{} IN (",
                    if c.op == Op::NotIn { " NOT" } else { "" }
                ));
                self.param_list(c.values.iter().map(&conv).collect());
                self.push(")");
            }
            (Op::Contains | Op::NotContains, Some(v)) => {
                let not = if c.op == Op::NotContains { "NOT " } else { "" };
                self.push(&format!("{not}instr(tandem_fold({column}), "));
                self.param(fold(&text_of(v)));
                self.push(") > 0");
            }
            (Op::IsEmpty | Op::IsNotEmpty, _) => {
                let is = c.op == Op::IsEmpty;
                match empty {
                    Some(e) => self.push(&format!("{column} {} {e}", if is { "=" } else { "<>" })),
                    None => self.push(if is { "0" } else { "1" }),
                }
            }
            (op, Some(v)) => match sql_op(op) {
                Some(sql) => {
                    self.push(&format!("{column} {sql} "));
                    self.param(conv(v));
                }
                None => self.push("0"),
            },
            (_, None) => self.push("0"),
        }
    }

    /// `key` compares item numbers within the key's project.
    fn key(&mut self, c: &Cond) {
        let keys: Vec<ItemKey> = c
            .values
            .iter()
            .filter_map(|v| match v {
                Value::Key(k) => Some(k.clone()),
                other => text_of(other).to_ascii_uppercase().parse().ok(),
            })
            .collect();
        let (negate, sql) = match c.op {
            Op::IsEmpty => return self.push("0"),
            Op::IsNotEmpty => return self.push("1"),
            Op::In | Op::Eq => (false, "="),
            Op::NotIn | Op::Ne => (true, "="),
            op => (false, sql_op(op).unwrap_or("=")),
        };
        if keys.is_empty()
            || matches!(
                c.op,
                Op::Contains | Op::NotContains | Op::StartsWith | Op::EndsWith
            )
        {
            return self.push(if negate { "1" } else { "0" });
        }
        self.push(if negate { "(NOT (" } else { "((" });
        for (at, key) in keys.iter().enumerate() {
            if at > 0 {
                self.push(" OR ");
            }
            self.push("(i.project = ");
            self.param(key.project.as_str().to_owned());
            self.push(&format!(" AND i.number {sql} "));
            self.param(key.number);
            self.push(")");
        }
        self.push("))");
    }

    /// `text`: summary, description and comment bodies together.
    fn text(&mut self, c: &Cond) {
        match (c.op, c.values.first()) {
            (Op::Contains | Op::NotContains, Some(v)) => {
                let needle = fold(&text_of(v));
                self.push(if c.op == Op::NotContains {
                    "(NOT ("
                } else {
                    "(("
                });
                self.push("instr(tandem_fold(i.summary), ");
                self.param(needle.clone());
                self.push(") > 0 OR instr(tandem_fold(i.description), ");
                self.param(needle.clone());
                self.push(
                    ") > 0 OR EXISTS (SELECT 1 FROM comments c WHERE c.item_id = i.id \
                     AND instr(tandem_fold(c.body), ",
                );
                self.param(needle);
                self.push(") > 0)))");
            }
            (Op::IsEmpty | Op::IsNotEmpty, _) => {
                self.push(if c.op == Op::IsEmpty { "(" } else { "(NOT (" });
                self.push(
                    "i.summary = '' AND i.description = '' AND NOT EXISTS \
                     (SELECT 1 FROM comments c WHERE c.item_id = i.id)",
                );
                self.push(if c.op == Op::IsEmpty { ")" } else { "))" });
            }
            _ => self.push("0"),
        }
    }

    /// A person matches by name or email, case-insensitively.
    fn person(&mut self, name: &str, email: &str, c: &Cond) {
        let matches_any = |b: &mut Builder, contains: bool| {
            b.push("(");
            for (at, v) in c.values.iter().enumerate() {
                if at > 0 {
                    b.push(" OR ");
                }
                let needle = fold(&text_of(v));
                if contains {
                    b.push(&format!("instr(tandem_fold({name}), "));
                    b.param(needle.clone());
                    b.push(&format!(") > 0 OR coalesce(instr(tandem_fold({email}), "));
                    b.param(needle);
                    b.push(") > 0, 0)");
                } else {
                    b.push(&format!("tandem_fold({name}) = "));
                    b.param(needle.clone());
                    b.push(&format!(" OR coalesce(tandem_fold({email}) = "));
                    b.param(needle);
                    b.push(", 0)");
                }
            }
            b.push(")");
        };
        match c.op {
            Op::IsEmpty => self.push(&format!("{name} IS NULL")),
            Op::IsNotEmpty => self.push(&format!("{name} IS NOT NULL")),
            _ if c.values.is_empty() => self.push("0"),
            Op::Eq | Op::In | Op::Contains => {
                self.push(&format!("({name} IS NOT NULL AND "));
                matches_any(self, c.op == Op::Contains);
                self.push(")");
            }
            Op::Ne | Op::NotIn | Op::NotContains => {
                self.push(&format!("({name} IS NOT NULL AND NOT "));
                matches_any(self, c.op == Op::NotContains);
                self.push(")");
            }
            // Only ServiceNow triggers make these, on their columns (custom fields).
            Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::StartsWith | Op::EndsWith => self.push("0"),
        }
    }

    /// Labels match exactly; an item has a label when its JSON array holds it.
    fn labels(&mut self, c: &Cond) {
        let has = |b: &mut Builder| {
            b.push("EXISTS (SELECT 1 FROM json_each(i.labels) WHERE value IN (");
            b.param_list(c.values.iter().map(|v| Sql::Text(text_of(v))).collect());
            b.push("))");
        };
        match c.op {
            Op::IsEmpty => self.push("i.labels = '[]'"),
            Op::IsNotEmpty => self.push("i.labels <> '[]'"),
            _ if c.values.is_empty() => self.push("0"),
            Op::Eq | Op::In => has(self),
            Op::Ne | Op::NotIn => {
                self.push("(i.labels <> '[]' AND NOT ");
                has(self);
                self.push(")");
            }
            Op::Contains | Op::NotContains => {
                let not = if c.op == Op::NotContains {
                    "i.labels <> '[]' AND NOT "
                } else {
                    ""
                };
                self.push(&format!(
                    "({not}EXISTS (SELECT 1 FROM json_each(i.labels) WHERE instr(tandem_fold(value), "
                ));
                self.param(fold(&text_of(&c.values[0])));
                self.push(") > 0))");
            }
            Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::StartsWith | Op::EndsWith => self.push("0"),
        }
    }

    /// Whether the item has a value (not null, "", [] or a reference to nothing) for the
    /// custom field `name`.
    fn custom_has_value(&mut self, name: &str) {
        self.push("EXISTS (SELECT 1 FROM json_each(i.custom_fields) f WHERE f.key = ");
        self.param(name.to_owned());
        self.push(
            " AND f.type <> 'null' AND NOT (f.type = 'text' AND f.value = '') \
             AND NOT (f.type = 'array' AND json_array_length(f.value) = 0) \
             AND NOT (f.type = 'object' AND json_type(f.value, '$.value') = 'text' \
                      AND json_extract(f.value, '$.value') = ''))",
        );
    }

    /// Whether some value of the custom field `name` (the value, an element of a list, or the
    /// `value` of a reference such as ServiceNow's `{"link": …, "value": "<sys_id>"}`)
    /// satisfies `matcher`, which writes a condition on the alias it is given.
    fn custom_any(&mut self, name: &str, matcher: &dyn Fn(&mut Builder, &str)) {
        self.push("EXISTS (SELECT 1 FROM json_each(i.custom_fields) f WHERE f.key = ");
        self.param(name.to_owned());
        self.push(" AND (");
        matcher(self, "f");
        self.push(" OR (f.type = 'array' AND EXISTS (SELECT 1 FROM json_each(f.value) e WHERE ");
        matcher(self, "e");
        self.push(
            ")) OR (f.type = 'object' AND EXISTS (SELECT 1 FROM json_each(f.value) r \
             WHERE r.key = 'value' AND ",
        );
        matcher(self, "r");
        self.push("))))");
    }

    /// One value of a custom field (`alias.type`, `alias.value`) against one query value.
    fn custom_match(&mut self, alias: &str, op: Op, v: &Value) {
        let cmp = sql_op(op);
        match v {
            Value::Number(n) => {
                self.push(&format!(
                    "(({alias}.type IN ('integer', 'real') AND {alias}.value "
                ));
                self.push(cmp.unwrap_or("="));
                self.push(" ");
                self.param(*n);
                self.push(")");
                if op == Op::Eq || cmp.is_none() {
                    self.push(&format!(" OR ({alias}.type = 'text' AND {alias}.value = "));
                    self.param(number_text(*n));
                    self.push(")");
                } else if let Some(cmp) = cmp {
                    // Text that is a number compares as one: trackers such as ServiceNow send
                    // every value as a string ("2").
                    self.push(&format!(
                        " OR ({alias}.type = 'text' AND {alias}.value GLOB '*[0-9]*' \
                         AND {alias}.value NOT GLOB '*[^0-9.+-]*' \
                         AND CAST({alias}.value AS REAL) {cmp} "
                    ));
                    self.param(*n);
                    self.push(")");
                }
                self.push(")");
            }
            other => {
                let text = text_of(other);
                // `= true` / `= false` also match JSON booleans.
                let boolean = matches!(op, Op::Eq | Op::In)
                    && matches!(fold(&text).as_str(), "true" | "false");
                self.push(if boolean { "((" } else { "(" });
                self.push(&format!("{alias}.type = 'text' AND "));
                match (op, cmp) {
                    (Op::Contains | Op::NotContains, _) => {
                        self.push(&format!("instr(tandem_fold({alias}.value), "));
                        self.param(fold(&text));
                        self.push(") > 0");
                    }
                    (Op::StartsWith | Op::EndsWith, _) => {
                        // SQLite's substr counts characters: the first or last as many as
                        // the value has. Every text starts and ends with nothing.
                        let needle = fold(&text);
                        let n = needle.chars().count();
                        if n == 0 {
                            self.push("1");
                        } else {
                            let from = if op == Op::StartsWith {
                                format!("1, {n}")
                            } else {
                                format!("-{n}")
                            };
                            self.push(&format!("substr(tandem_fold({alias}.value), {from}) = "));
                            self.param(needle);
                        }
                    }
                    (Op::Eq | Op::Ne | Op::In | Op::NotIn, _) | (_, None) => {
                        self.push(&format!("tandem_fold({alias}.value) = "));
                        self.param(fold(&text));
                    }
                    (_, Some(sql)) => {
                        self.push(&format!("{alias}.value {sql} "));
                        self.param(text.clone());
                    }
                }
                self.push(")");
                if boolean {
                    self.push(&format!(" OR {alias}.type = "));
                    self.param(fold(&text));
                    self.push(")");
                }
            }
        }
    }

    fn custom(&mut self, name: &str, c: &Cond) {
        // Negated operators are "has a value, and no value matches the positive operator".
        let positive = match c.op {
            Op::Ne => Op::Eq,
            Op::NotIn => Op::In,
            Op::NotContains => Op::Contains,
            op => op,
        };
        let any_value_matches = |b: &mut Builder, alias: &str| {
            b.push("(");
            for (at, v) in c.values.iter().enumerate() {
                if at > 0 {
                    b.push(" OR ");
                }
                b.custom_match(alias, positive, v);
            }
            b.push(")");
        };
        match c.op {
            Op::IsEmpty => {
                self.push("(NOT ");
                self.custom_has_value(name);
                self.push(")");
            }
            Op::IsNotEmpty => self.custom_has_value(name),
            _ if c.values.is_empty() => self.push("0"),
            Op::Ne | Op::NotIn | Op::NotContains => {
                self.push("(");
                self.custom_has_value(name);
                self.push(" AND NOT ");
                self.custom_any(name, &any_value_matches);
                self.push(")");
            }
            _ => self.custom_any(name, &any_value_matches),
        }
    }

    fn order(&mut self, order: &[OrderBy]) {
        let mut last_descending = false;
        for term in order {
            let dir = if term.descending { " DESC" } else { " ASC" };
            let start = self.sql.len();
            match &term.field {
                Field::Project => self.push("i.project"),
                Field::Key => self.push(&format!("i.project{dir}, i.number")),
                Field::Summary => self.push("i.summary COLLATE NOCASE"),
                Field::Description => self.push("i.description COLLATE NOCASE"),
                Field::Status => {
                    self.push("CASE i.status");
                    for (rank, status) in Status::ALL.iter().enumerate() {
                        self.push(&format!(" WHEN '{}' THEN {rank}", status.as_str()));
                    }
                    self.push(" END");
                }
                Field::Priority => self.push("i.priority"),
                Field::Assignee => self.push("i.assignee_name COLLATE NOCASE"),
                Field::Reporter => self.push("i.reporter_name COLLATE NOCASE"),
                Field::Created => self.push("i.created"),
                Field::Updated => self.push("i.updated"),
                Field::Custom(name) => {
                    self.push("(SELECT value FROM json_each(i.custom_fields) WHERE key = ");
                    self.param(name.clone());
                    self.push(")");
                }
                // Not orderable (the parser refuses them).
                Field::Text | Field::Labels => continue,
            }
            if start > 0 {
                self.sql.insert_str(start, ", ");
            }
            self.push(dir);
            self.push(" NULLS LAST");
            last_descending = term.descending;
        }
        if !self.sql.is_empty() {
            self.push(", ");
        }
        self.push(if last_descending {
            "i.id DESC"
        } else {
            "i.id ASC"
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(text: &str) -> Compiled {
        let query = Query::parse(text).expect("query parses");
        compile(&query, Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let c =
            compiled(r#"summary ~ "x'); DROP TABLE items; --" AND "Evil\" Field" = "1' OR 1=1""#);
        assert!(!c.filter.contains("DROP"), "{}", c.filter);
        assert!(!c.filter.contains("Evil"), "{}", c.filter);
        assert!(!c.filter.contains("1=1"), "{}", c.filter);
        assert_eq!(
            c.filter.matches('?').count(),
            c.filter_params.len(),
            "{}",
            c.filter
        );
    }

    #[test]
    fn order_ends_with_a_stable_tie_break() {
        let c = compiled("ORDER BY priority DESC, key");
        assert_eq!(
            c.order,
            "i.priority DESC NULLS LAST, i.project ASC, i.number ASC NULLS LAST, i.id ASC"
        );
        assert_eq!(compiled("").order, "i.updated DESC NULLS LAST, i.id DESC");
    }

    #[test]
    fn numbers_print_as_people_write_them() {
        assert_eq!(number_text(5.0), "5");
        assert_eq!(number_text(2.5), "2.5");
    }
}
