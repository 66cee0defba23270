//! JQL, the subset integrations use for triggers, polling and webhook filters
//! (tracker-apis.md §2.5): clauses `field op value` joined by `AND`/`OR`/`NOT` and parentheses,
//! the operators `= != > >= < <= ~ !~ IN NOT IN IS IS NOT`, `EMPTY`/`NULL`, the functions
//! `currentUser()`, `now()`, `startOfDay()`, `endOfDay()`, and `ORDER BY field [ASC|DESC], …`.
//!
//! Date literals are those JQL takes: `"yyyy-MM-dd HH:mm"`, `"yyyy/MM/dd HH:mm"`,
//! `"yyyy-MM-dd"`, `"yyyy/MM/dd"`, relative `"-5m"`, `"-2h"`, `"-1d"`, `"-1w"` (minutes when no
//! unit) and a bare number as epoch milliseconds. The emulator evaluates them in UTC, the time
//! zone its users have.
//!
//! The parser knows no fields: [`Query::check_fields`] asks the caller which exist, and
//! evaluation asks a [`Subject`] (an issue) for its values.

use jiff::Timestamp;

/// Why a JQL string could not be run; the text is Jira's wording where we know it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JqlError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, JqlError> {
    Err(JqlError(msg.into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    NotLike,
    In,
    NotIn,
    Is,
    IsNot,
}

/// A value on the right of an operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A word or quoted string, as written.
    Literal(String),
    Empty,
    /// `name()`, lower-cased.
    Function(String),
    List(Vec<Operand>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Clause {
        /// Lower-cased field name (custom fields as `cf[10010]` or their quoted name).
        field: String,
        op: Op,
        value: Operand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// A parsed query: an optional condition and the ordering.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub condition: Option<Expr>,
    pub order: Vec<(String, Direction)>,
}

/// What a field holds, as the evaluator compares it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Names a value answers to (e.g. a status's name and id, a user's accountId and email);
    /// for multi-valued fields (labels, components) every value's names. Empty when unset.
    Terms(Vec<String>),
    /// Free text, searched with `~`.
    Text(String),
    Time(Option<Timestamp>),
    Number(Option<f64>),
}

/// An issue as JQL sees it.
pub trait Subject {
    /// The value of a field by its lower-cased JQL name; `None` for a field it does not have.
    fn value(&self, field: &str) -> Option<FieldValue>;
}

/// What evaluation needs from outside: the time and the searching user.
#[derive(Debug, Clone)]
pub struct Context {
    pub now: Timestamp,
    pub current_user: String,
}

// --- lexer -----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn lex(s: &str) -> Result<Vec<Tok>, JqlError> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::LParen);
            }
            ')' => {
                chars.next();
                out.push(Tok::RParen);
            }
            ',' => {
                chars.next();
                out.push(Tok::Comma);
            }
            '"' | '\'' => {
                chars.next();
                let mut text = String::new();
                let mut closed = false;
                while let Some((_, d)) = chars.next() {
                    match d {
                        '\\' => match chars.next() {
                            Some((_, e)) => text.push(e),
                            None => break,
                        },
                        d if d == c => {
                            closed = true;
                            break;
                        }
                        d => text.push(d),
                    }
                }
                if !closed {
                    return err(format!(
                        "Error in the JQL Query: The quoted string starting at character {i} is not closed."
                    ));
                }
                out.push(Tok::Quoted(text));
            }
            '=' | '!' | '<' | '>' | '~' | '&' | '|' => {
                let rest = &s[i..];
                let op = ["!=", ">=", "<=", "!~", "&&", "||", "=", ">", "<", "~", "!"]
                    .into_iter()
                    .find(|o| rest.starts_with(o))
                    .ok_or_else(|| JqlError(format!("Error in the JQL Query: The character '{c}' is a reserved JQL character.")))?;
                for _ in 0..op.chars().count() {
                    chars.next();
                }
                out.push(Tok::Op(op));
            }
            _ => {
                let mut word = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_whitespace() || "=!<>~(),\"'&|".contains(d) {
                        break;
                    }
                    word.push(d);
                    chars.next();
                }
                out.push(Tok::Word(word));
            }
        }
    }
    Ok(out)
}

// --- parser ----------------------------------------------------------------------------------

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Open parentheses and NOTs around the clause being read, bounded by [`MAX_NESTING`].
    depth: usize,
}

/// How deep parentheses and NOTs may nest: far beyond any real query, and shallow enough that
/// reading, evaluating and dropping the expression never exhausts the stack.
const MAX_NESTING: usize = 64;

/// How many tokens a query may have: a chain of ANDs and ORs nests one level per clause, so
/// its length is bounded as well.
const MAX_TOKENS: usize = 4096;

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn at_order_by(&self) -> bool {
        is_kw(self.peek(), "order") && is_kw(self.peek_at(1), "by")
    }

    fn or(&mut self) -> Result<Expr, JqlError> {
        let mut left = self.and()?;
        while is_kw(self.peek(), "or") || self.peek() == Some(&Tok::Op("||")) {
            self.next();
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, JqlError> {
        let mut left = self.not()?;
        while is_kw(self.peek(), "and") || self.peek() == Some(&Tok::Op("&&")) {
            self.next();
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, JqlError> {
        let negated = is_kw(self.peek(), "not") || self.peek() == Some(&Tok::Op("!"));
        if !negated && self.peek() != Some(&Tok::LParen) {
            return self.clause();
        }
        if self.depth >= MAX_NESTING {
            return err(format!(
                "Error in the JQL Query: parentheses and NOTs nest deeper than {MAX_NESTING}."
            ));
        }
        self.depth += 1;
        self.next();
        let e = if negated {
            Expr::Not(Box::new(self.not()?))
        } else {
            let e = self.or()?;
            if self.next() != Some(Tok::RParen) {
                return err("Error in the JQL Query: Expecting ')' before the end of the query.");
            }
            e
        };
        self.depth -= 1;
        Ok(e)
    }

    fn clause(&mut self) -> Result<Expr, JqlError> {
        let field = match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w.to_lowercase(),
            Some(t) => {
                return err(format!(
                    "Error in the JQL Query: Expecting a field name but got {t:?}."
                ));
            }
            None => {
                return err(
                    "Error in the JQL Query: Expecting a field name before the end of the query.",
                );
            }
        };
        let op = match self.next() {
            Some(Tok::Op("=")) => Op::Eq,
            Some(Tok::Op("!=")) => Op::Ne,
            Some(Tok::Op(">")) => Op::Gt,
            Some(Tok::Op(">=")) => Op::Ge,
            Some(Tok::Op("<")) => Op::Lt,
            Some(Tok::Op("<=")) => Op::Le,
            Some(Tok::Op("~")) => Op::Like,
            Some(Tok::Op("!~")) => Op::NotLike,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("is") => {
                if is_kw(self.peek(), "not") {
                    self.next();
                    Op::IsNot
                } else {
                    Op::Is
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                if is_kw(self.peek(), "in") {
                    self.next();
                    Op::NotIn
                } else {
                    return err("Error in the JQL Query: Expecting 'IN' after 'NOT'.");
                }
            }
            _ => {
                return err(format!(
                    "Error in the JQL Query: Expecting operator after the field '{field}'."
                ));
            }
        };
        let value = match op {
            Op::In | Op::NotIn => self.list()?,
            _ => self.operand()?,
        };
        if matches!(op, Op::Is | Op::IsNot) && value != Operand::Empty {
            return err("Error in the JQL Query: The operator 'IS' only takes EMPTY or NULL.");
        }
        Ok(Expr::Clause { field, op, value })
    }

    fn list(&mut self) -> Result<Operand, JqlError> {
        if self.next() != Some(Tok::LParen) {
            return err("Error in the JQL Query: Expecting '(' after 'IN'.");
        }
        let mut items = Vec::new();
        loop {
            items.push(self.operand()?);
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::RParen) => break,
                _ => return err("Error in the JQL Query: Expecting ',' or ')' in the list."),
            }
        }
        Ok(Operand::List(items))
    }

    fn operand(&mut self) -> Result<Operand, JqlError> {
        match self.next() {
            Some(Tok::Quoted(s)) => Ok(Operand::Literal(s)),
            Some(Tok::Word(w)) => {
                if w.eq_ignore_ascii_case("empty") || w.eq_ignore_ascii_case("null") {
                    return Ok(Operand::Empty);
                }
                if self.peek() == Some(&Tok::LParen) {
                    self.next();
                    // Arguments are accepted and ignored by the functions we know.
                    while let Some(t) = self.next() {
                        if t == Tok::RParen {
                            let name = w.to_lowercase();
                            return match name.as_str() {
                                "currentuser" | "now" | "startofday" | "endofday" => {
                                    Ok(Operand::Function(name))
                                }
                                _ => err(format!(
                                    "Error in the JQL Query: Unable to find JQL function '{w}()'."
                                )),
                            };
                        }
                    }
                    return err(
                        "Error in the JQL Query: Expecting ')' after the function's arguments.",
                    );
                }
                Ok(Operand::Literal(w))
            }
            _ => err("Error in the JQL Query: Expecting either a value, list or function."),
        }
    }

    fn order(&mut self) -> Result<Vec<(String, Direction)>, JqlError> {
        let mut out = Vec::new();
        loop {
            let field = match self.next() {
                Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w.to_lowercase(),
                _ => {
                    return err("Error in the JQL Query: Expecting a field name after 'ORDER BY'.");
                }
            };
            let dir = if is_kw(self.peek(), "asc") {
                self.next();
                Direction::Asc
            } else if is_kw(self.peek(), "desc") {
                self.next();
                Direction::Desc
            } else {
                Direction::Asc
            };
            out.push((field, dir));
            if self.peek() == Some(&Tok::Comma) {
                self.next();
            } else {
                return Ok(out);
            }
        }
    }
}

impl Query {
    pub fn parse(jql: &str) -> Result<Self, JqlError> {
        let toks = lex(jql)?;
        if toks.len() > MAX_TOKENS {
            return err(format!(
                "Error in the JQL Query: the query is longer than {MAX_TOKENS} terms."
            ));
        }
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
        };
        let condition = if p.peek().is_none() || p.at_order_by() {
            None
        } else {
            Some(p.or()?)
        };
        let order = if p.at_order_by() {
            p.next();
            p.next();
            p.order()?
        } else {
            Vec::new()
        };
        if let Some(t) = p.peek() {
            return err(format!(
                "Error in the JQL Query: Unexpected {t:?} at the end of the query."
            ));
        }
        Ok(Self { condition, order })
    }

    /// Every field the query names, in its condition and its ordering.
    pub fn fields(&self) -> Vec<&str> {
        fn walk<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
            match e {
                Expr::And(a, b) | Expr::Or(a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::Not(a) => walk(a, out),
                Expr::Clause { field, .. } => out.push(field),
            }
        }
        let mut out = Vec::new();
        if let Some(c) = &self.condition {
            walk(c, &mut out);
        }
        out.extend(self.order.iter().map(|(f, _)| f.as_str()));
        out
    }

    /// Fails with Jira's message for the first field `known` does not know.
    pub fn check_fields(&self, known: impl Fn(&str) -> bool) -> Result<(), JqlError> {
        match self.fields().into_iter().find(|f| !known(f)) {
            Some(f) => err(format!(
                "Field '{f}' does not exist or you do not have permission to view it."
            )),
            None => Ok(()),
        }
    }

    /// Fails with Jira's message for the first date literal given to a field `is_date` names
    /// that is not a date JQL takes (Jira checks them before searching).
    pub fn check_dates(
        &self,
        is_date: impl Fn(&str) -> bool,
        now: Timestamp,
    ) -> Result<(), JqlError> {
        fn walk(e: &Expr, is_date: &dyn Fn(&str) -> bool, now: Timestamp) -> Result<(), JqlError> {
            match e {
                Expr::And(a, b) | Expr::Or(a, b) => {
                    walk(a, is_date, now)?;
                    walk(b, is_date, now)
                }
                Expr::Not(a) => walk(a, is_date, now),
                Expr::Clause { field, value, .. } if is_date(field) => {
                    let literals: Vec<&Operand> = match value {
                        Operand::List(items) => items.iter().collect(),
                        v => vec![v],
                    };
                    for l in literals {
                        if let Operand::Literal(s) = l {
                            parse_date(s, now)?;
                        }
                    }
                    Ok(())
                }
                Expr::Clause { .. } => Ok(()),
            }
        }
        match &self.condition {
            Some(c) => walk(c, &is_date, now),
            None => Ok(()),
        }
    }

    /// Whether `subject` matches (a query without a condition matches everything).
    pub fn matches(&self, subject: &dyn Subject, ctx: &Context) -> Result<bool, JqlError> {
        match &self.condition {
            None => Ok(true),
            Some(e) => eval(e, subject, ctx),
        }
    }
}

// --- evaluation ------------------------------------------------------------------------------

fn eval(e: &Expr, s: &dyn Subject, ctx: &Context) -> Result<bool, JqlError> {
    match e {
        Expr::And(a, b) => Ok(eval(a, s, ctx)? && eval(b, s, ctx)?),
        Expr::Or(a, b) => Ok(eval(a, s, ctx)? || eval(b, s, ctx)?),
        Expr::Not(a) => Ok(!eval(a, s, ctx)?),
        Expr::Clause { field, op, value } => {
            let v = s.value(field).ok_or_else(|| {
                JqlError(format!(
                    "Field '{field}' does not exist or you do not have permission to view it."
                ))
            })?;
            clause(field, &v, *op, value, ctx)
        }
    }
}

fn is_empty(v: &FieldValue) -> bool {
    match v {
        FieldValue::Terms(t) => t.is_empty(),
        FieldValue::Text(t) => t.is_empty(),
        FieldValue::Time(t) => t.is_none(),
        FieldValue::Number(n) => n.is_none(),
    }
}

fn clause(
    field: &str,
    v: &FieldValue,
    op: Op,
    value: &Operand,
    ctx: &Context,
) -> Result<bool, JqlError> {
    match op {
        Op::Is => return Ok(is_empty(v)),
        Op::IsNot => return Ok(!is_empty(v)),
        Op::In | Op::NotIn => {
            let Operand::List(items) = value else {
                return err("Error in the JQL Query: Expecting a list after 'IN'.");
            };
            let mut any = false;
            for item in items {
                any |= if *item == Operand::Empty {
                    is_empty(v)
                } else {
                    equals(field, v, item, ctx)?
                };
            }
            return Ok(if op == Op::In {
                any
            } else {
                !any && !is_empty(v)
            });
        }
        _ => {}
    }
    if *value == Operand::Empty {
        return match op {
            Op::Eq => Ok(is_empty(v)),
            Op::Ne => Ok(!is_empty(v)),
            _ => err(format!("The operator '{op:?}' does not support EMPTY.")),
        };
    }
    match op {
        Op::Eq => equals(field, v, value, ctx),
        // As in Jira, `!=` does not match issues where the field is empty.
        Op::Ne => Ok(!is_empty(v) && !equals(field, v, value, ctx)?),
        Op::Like | Op::NotLike => {
            let FieldValue::Text(text) = v else {
                return err(format!(
                    "The operator '~' is not supported by the '{field}' field."
                ));
            };
            let needle = literal(value, ctx)?;
            let text = text.to_lowercase();
            let hit = needle
                .to_lowercase()
                .split_whitespace()
                .all(|w| text.contains(w.trim_matches('*')));
            Ok(if op == Op::Like { hit } else { !hit })
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            let ord = match v {
                FieldValue::Time(None) | FieldValue::Number(None) => return Ok(false),
                FieldValue::Time(Some(t)) => t.cmp(&time(value, ctx)?),
                FieldValue::Number(Some(n)) => {
                    let x = number(value, ctx)?;
                    n.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal)
                }
                _ => {
                    return err(format!(
                        "The operator '{}' is not supported by the '{field}' field.",
                        op_text(op)
                    ));
                }
            };
            Ok(match op {
                Op::Gt => ord.is_gt(),
                Op::Ge => ord.is_ge(),
                Op::Lt => ord.is_lt(),
                _ => ord.is_le(),
            })
        }
        _ => Ok(false),
    }
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Lt => "<",
        _ => "<=",
    }
}

fn literal(value: &Operand, ctx: &Context) -> Result<String, JqlError> {
    match value {
        Operand::Literal(s) => Ok(s.clone()),
        Operand::Function(f) if f == "currentuser" => Ok(ctx.current_user.clone()),
        _ => err("Error in the JQL Query: Expecting a value."),
    }
}

fn equals(field: &str, v: &FieldValue, value: &Operand, ctx: &Context) -> Result<bool, JqlError> {
    match v {
        FieldValue::Terms(terms) => {
            let want = literal(value, ctx)?;
            Ok(terms.iter().any(|t| t.eq_ignore_ascii_case(&want)))
        }
        FieldValue::Text(text) => Ok(text.eq_ignore_ascii_case(&literal(value, ctx)?)),
        FieldValue::Time(t) => Ok(*t == Some(time(value, ctx)?)),
        FieldValue::Number(n) => Ok(*n == Some(number(value, ctx)?)),
    }
    .map_err(|e: JqlError| JqlError(format!("{e} (field '{field}')")))
}

fn number(value: &Operand, ctx: &Context) -> Result<f64, JqlError> {
    let s = literal(value, ctx)?;
    s.trim()
        .parse()
        .map_err(|_| JqlError(format!("The value '{s}' is not a number.")))
}

/// A date literal or function as an instant (UTC).
pub fn time(value: &Operand, ctx: &Context) -> Result<Timestamp, JqlError> {
    match value {
        Operand::Function(f) => {
            let day = jiff::tz::TimeZone::UTC.to_datetime(ctx.now).date();
            let at = |d: jiff::civil::Date| {
                jiff::tz::TimeZone::UTC
                    .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                    .map_err(|e| JqlError(e.to_string()))
            };
            match f.as_str() {
                "now" => Ok(ctx.now),
                "startofday" => at(day),
                "endofday" => Ok(at(day)?
                    .checked_add(jiff::SignedDuration::from_secs(86_399))
                    .map_err(|e| JqlError(e.to_string()))?),
                _ => err(format!("The function '{f}()' does not give a date.")),
            }
        }
        Operand::Literal(s) => parse_date(s, ctx.now),
        _ => err("Error in the JQL Query: Expecting a date."),
    }
}

/// Parses a JQL date literal (see the module's documentation).
pub fn parse_date(s: &str, now: Timestamp) -> Result<Timestamp, JqlError> {
    let s = s.trim();
    let invalid = || {
        JqlError(format!(
            "Date value '{s}' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', \
             'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
        ))
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = s.parse().map_err(|_| invalid())?;
        return Timestamp::from_millisecond(ms).map_err(|_| invalid());
    }
    if let Some(offset) = relative(s) {
        return now
            .checked_add(jiff::SignedDuration::from_mins(offset))
            .map_err(|_| invalid());
    }
    let normal = s.replace('/', "-");
    let civil = if normal.len() == 10 {
        jiff::civil::Date::strptime("%Y-%m-%d", &normal)
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    } else {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", &normal)
    }
    .map_err(|_| invalid())?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(civil)
        .map_err(|_| invalid())
}

/// `-5m`, `+2h`, `-1d`, `-1w`, `4w 2d`, `-30` (minutes): the offset in minutes.
fn relative(s: &str) -> Option<i64> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' => {}
            'm' | 'h' | 'd' | 'w' => {
                let n: i64 = digits.parse().ok()?;
                digits.clear();
                let unit = match c {
                    'm' => 1,
                    'h' => 60,
                    'd' => 1440,
                    _ => 10_080,
                };
                total = total.checked_add(n.checked_mul(unit)?)?;
                any = true;
            }
            _ => return None,
        }
    }
    if !digits.is_empty() {
        // Minutes when no unit, and only a signed bare number (a bare unsigned one is millis).
        if any || s.starts_with(['-', '+']) {
            total = total.checked_add(digits.parse().ok()?)?;
            any = true;
        } else {
            return None;
        }
    }
    any.then_some(sign * total)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Fake(HashMap<&'static str, FieldValue>);

    impl Subject for Fake {
        fn value(&self, field: &str) -> Option<FieldValue> {
            self.0.get(field).cloned()
        }
    }

    #[test]
    fn nesting_and_length_are_bounded_before_they_reach_the_stack() {
        let deep = format!(
            "{}status = Done{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(Query::parse(&deep).is_err());
        assert!(Query::parse(&"NOT ".repeat(100_000)).is_err());
        let long = vec!["status = Done"; 100_000].join(" AND ");
        assert!(Query::parse(&long).is_err());
        let fine = format!("{}status = Done{}", "(".repeat(20), ")".repeat(20));
        assert!(Query::parse(&fine).is_ok());
        assert!(Query::parse(&vec!["status = Done"; 200].join(" AND ")).is_ok());
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn ctx() -> Context {
        Context {
            now: ts("2025-01-31T14:10:00Z"),
            current_user: "acc-1".into(),
        }
    }

    fn issue() -> Fake {
        Fake(HashMap::from([
            (
                "project",
                FieldValue::Terms(vec!["SUP".into(), "10000".into()]),
            ),
            (
                "key",
                FieldValue::Terms(vec!["SUP-7".into(), "10007".into()]),
            ),
            (
                "status",
                FieldValue::Terms(vec!["In Progress".into(), "3".into()]),
            ),
            (
                "updated",
                FieldValue::Time(Some(ts("2025-01-31T14:05:30Z"))),
            ),
            ("resolved", FieldValue::Time(None)),
            (
                "labels",
                FieldValue::Terms(vec!["ops".into(), "urgent".into()]),
            ),
            (
                "summary",
                FieldValue::Text("Printer on fire in Building 4".into()),
            ),
            ("assignee", FieldValue::Terms(vec!["acc-1".into()])),
            ("story points", FieldValue::Number(Some(5.0))),
        ]))
    }

    fn run(jql: &str) -> bool {
        Query::parse(jql)
            .unwrap_or_else(|e| panic!("{jql}: {e}"))
            .matches(&issue(), &ctx())
            .unwrap_or_else(|e| panic!("{jql}: {e}"))
    }

    #[test]
    fn the_polling_query_parses_and_matches() {
        let q =
            Query::parse(r#"project = SUP AND updated >= "2025-01-31 14:05" ORDER BY updated ASC"#)
                .expect("parses");
        assert_eq!(q.order, vec![("updated".to_owned(), Direction::Asc)]);
        assert!(q.matches(&issue(), &ctx()).expect("evaluates"));
        assert!(!run(r#"project = SUP AND updated >= "2025-01-31 14:06""#));
        assert!(run(r#"updated >= "2025/01/31 14:05""#));
        assert!(run(r#"updated >= "2025-01-31""#));
        assert!(
            run(r#"updated >= "-5m""#),
            "relative: 14:05 now-5m is 14:05:00"
        );
        assert!(!run(r#"updated >= "-4m""#));
        assert!(run(r#"updated >= -1d"#));
        assert!(
            run("updated > 1738332000000"),
            "a bare number is epoch millis"
        );
    }

    #[test]
    fn operators_and_precedence() {
        assert!(run("status = 'In Progress'"));
        assert!(run("status = 3"), "a status answers to its id");
        assert!(run("status != Done"));
        assert!(run("status in (Done, \"In Progress\")"));
        assert!(!run("status not in (Done, \"In Progress\")"));
        assert!(
            run("key in (SUP-1, sup-7)"),
            "keys compare case-insensitively"
        );
        assert!(
            run("project = OTHER OR status = 3 AND labels = ops"),
            "AND binds tighter"
        );
        assert!(!run("(project = OTHER OR status = 3) AND labels = nope"));
        assert!(run("NOT project = OTHER"));
        assert!(run("labels = urgent && project = SUP"));
        assert!(run("resolved is EMPTY AND assignee IS NOT EMPTY"));
        assert!(run("assignee = currentUser()"));
        assert!(run("summary ~ \"printer fire\""));
        assert!(run("summary !~ laptop"));
        assert!(run("\"Story Points\" >= 5 and \"story points\" < 6"));
        assert!(run("updated <= now()"));
    }

    #[test]
    fn errors_name_what_is_wrong() {
        for bad in [
            "project = ",
            "project SUP",
            "status in Done",
            "(project = SUP",
            "summary ~ \"open",
            "project = SUP ORDER updated",
            "project = SUP AND",
            "assignee = membersOf2(x)",
            "status is Done",
        ] {
            assert!(Query::parse(bad).is_err(), "{bad} should not parse");
        }
        let q = Query::parse("nosuchfield = 1").expect("parses");
        let e = q
            .check_fields(|f| f == "project")
            .expect_err("unknown field");
        assert!(e.0.contains("nosuchfield"), "{e}");
        assert!(
            Query::parse("updated >= \"yesterday\"")
                .expect("parses")
                .matches(&issue(), &ctx())
                .is_err()
        );
        assert!(
            Query::parse("labels > 3")
                .expect("parses")
                .matches(&issue(), &ctx())
                .is_err()
        );
        let dated =
            Query::parse("updated >= yesterday OR created > \"2025-01-01\"").expect("parses");
        assert!(
            dated.check_dates(|f| f == "updated", ctx().now).is_err(),
            "checked before any issue is seen"
        );
        assert!(dated.check_dates(|f| f == "created", ctx().now).is_ok());
    }

    #[test]
    fn order_by_alone_has_no_condition() {
        let q = Query::parse("ORDER BY updated DESC, key").expect("parses");
        assert_eq!(q.condition, None);
        assert_eq!(q.order.len(), 2);
        assert_eq!(q.order[0].1, Direction::Desc);
        assert_eq!(Query::parse("").expect("parses").condition, None);
    }

    #[test]
    fn relative_dates() {
        assert_eq!(relative("-5m"), Some(-5));
        assert_eq!(relative("-2h"), Some(-120));
        assert_eq!(relative("-1d"), Some(-1440));
        assert_eq!(relative("4w 2d"), Some(4 * 10_080 + 2 * 1440));
        assert_eq!(relative("-30"), Some(-30));
        assert_eq!(relative("2025-01-01"), None);
        assert_eq!(
            relative("12"),
            None,
            "an unsigned bare number is millis, not minutes"
        );
    }
}
