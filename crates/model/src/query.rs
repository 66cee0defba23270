//! The built-in tracker's query language, a small JQL:
//!
//! ```text
//! project = OPS AND labels = sync AND status != Done AND updated >= "2026-11-01" ORDER BY updated DESC
//! priority IN (High, Highest) OR (assignee IS EMPTY AND text ~ "printer")
//! "Customer Tier" = Gold AND created >= -7d
//! ```
//!
//! Keywords and field names are case-insensitive. Values are bare words, quoted strings or
//! numbers; dates are `"2026-11-01"`, `"2026-11-01 14:30"` or relative (`-7d`, `-12h`, `-30m`,
//! `-2w`). Custom fields are named in quotes (`"Story Points" > 3`) or as `cf[Story Points]`.
//! Parsing checks every value against its field, so a misspelt status is an error naming it
//! rather than a query that silently matches nothing.
//!
//! A query nests at most [`MAX_DEPTH`] levels: parentheses, `NOT`s and each `AND`/`OR` joining
//! a condition to those before it count as one level each. Deeper text (it comes from API
//! callers and console links) is an error naming the limit, never a stack overflow here or in
//! the walks over the tree (SQL generation, drop), and never over SQLite's own depth limit.

use std::fmt;

use jiff::{SignedDuration, Timestamp};

use crate::item::{ItemKey, Priority, ProjectKey, Status};

/// The deepest a query may nest: far more than a person writes, far below what overflows a
/// 2 MiB stack in a debug build or SQLite's expression depth limit (1000).
pub const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Option<Expr>,
    pub order: Vec<OrderBy>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cond(Cond),
}

impl Expr {
    /// The projects an item must be in to match, when the expression says (every item it
    /// matches is in one of them): `project = A`, `project IN (A, B)`, either AND-ed with
    /// anything, or OR-ed with another that says. `None` when an item of any project may match.
    pub fn required_projects(&self) -> Option<Vec<ProjectKey>> {
        match self {
            Expr::Cond(Cond {
                field: Field::Project,
                op: Op::Eq | Op::In,
                values,
            }) => Some(
                values
                    .iter()
                    .filter_map(|v| match v {
                        Value::Project(p) => Some(p.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
            Expr::And(a, b) => match (a.required_projects(), b.required_projects()) {
                (Some(a), Some(b)) => Some(a.into_iter().filter(|p| b.contains(p)).collect()),
                (Some(one), None) | (None, Some(one)) => Some(one),
                (None, None) => None,
            },
            Expr::Or(a, b) => {
                let (mut a, b) = (a.required_projects()?, b.required_projects()?);
                a.extend(b);
                a.sort();
                a.dedup();
                Some(a)
            }
            Expr::Not(_) | Expr::Cond(_) => None,
        }
    }

    /// All of `exprs` joined by AND, as a balanced tree: its height grows with the logarithm of
    /// their number, so code that joins many conditions (a trigger's terms) stays far below
    /// [`MAX_DEPTH`]. `None` when there are none.
    pub fn all(exprs: Vec<Expr>) -> Option<Expr> {
        balanced(exprs, Expr::And)
    }

    /// Any of `exprs` (OR), balanced as [`Expr::all`].
    pub fn any(exprs: Vec<Expr>) -> Option<Expr> {
        balanced(exprs, Expr::Or)
    }
}

/// Joins neighbours pairwise, level by level, keeping their order.
fn balanced(mut exprs: Vec<Expr>, op: fn(Box<Expr>, Box<Expr>) -> Expr) -> Option<Expr> {
    while exprs.len() > 1 {
        let mut joined = Vec::with_capacity(exprs.len().div_ceil(2));
        let mut rest = exprs.into_iter();
        while let Some(a) = rest.next() {
            joined.push(match rest.next() {
                Some(b) => op(Box::new(a), Box::new(b)),
                None => a,
            });
        }
        exprs = joined;
    }
    exprs.pop()
}

/// One condition. `values` holds one value for comparisons, several for `IN`, none for `IS`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    pub field: Field,
    pub op: Op,
    pub values: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Project,
    Key,
    Summary,
    Description,
    /// Summary, description and comment bodies together.
    Text,
    Status,
    Priority,
    Assignee,
    Reporter,
    Labels,
    Created,
    Updated,
    Custom(String),
}

const NAMED_FIELDS: &[(&str, Field)] = &[
    ("project", Field::Project),
    ("key", Field::Key),
    ("issuekey", Field::Key),
    ("summary", Field::Summary),
    ("description", Field::Description),
    ("text", Field::Text),
    ("status", Field::Status),
    ("priority", Field::Priority),
    ("assignee", Field::Assignee),
    ("reporter", Field::Reporter),
    ("labels", Field::Labels),
    ("label", Field::Labels),
    ("created", Field::Created),
    ("updated", Field::Updated),
];

impl Field {
    fn named(name: &str) -> Option<Field> {
        let lower = name.to_ascii_lowercase();
        NAMED_FIELDS
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|(_, f)| f.clone())
    }

    fn kind(&self) -> FieldKind {
        match self {
            Field::Project => FieldKind::Project,
            Field::Key => FieldKind::Key,
            Field::Summary | Field::Description | Field::Text => FieldKind::LongText,
            Field::Status => FieldKind::Status,
            Field::Priority => FieldKind::Priority,
            Field::Assignee | Field::Reporter => FieldKind::Person,
            Field::Labels => FieldKind::Labels,
            Field::Created | Field::Updated => FieldKind::Time,
            Field::Custom(_) => FieldKind::Custom,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Custom(name) => write!(f, "\"{name}\""),
            other => {
                let name = NAMED_FIELDS
                    .iter()
                    .find(|(_, field)| field == other)
                    .map_or("?", |(n, _)| n);
                f.write_str(name)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Project,
    Key,
    LongText,
    Status,
    Priority,
    Person,
    Labels,
    Time,
    Custom,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `~`: contains the text (case-insensitive).
    Contains,
    /// `!~`
    NotContains,
    /// The text begins with the value (case-insensitive). No syntax of its own in this query
    /// language: ServiceNow triggers (`numberSTARTSWITHINC`) make it.
    StartsWith,
    /// The text ends with the value (case-insensitive); as [`Op::StartsWith`], from `ENDSWITH`.
    EndsWith,
    In,
    NotIn,
    IsEmpty,
    IsNotEmpty,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "~",
            Op::NotContains => "!~",
            Op::StartsWith => "STARTSWITH",
            Op::EndsWith => "ENDSWITH",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsEmpty => "IS EMPTY",
            Op::IsNotEmpty => "IS NOT EMPTY",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Project(ProjectKey),
    Key(ItemKey),
    Status(Status),
    Priority(Priority),
    Time(TimeValue),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeValue {
    At(Timestamp),
    /// Relative to when the query runs: `-7d` is seven days before now.
    Ago(SignedDuration),
}

impl TimeValue {
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            TimeValue::At(t) => t,
            TimeValue::Ago(d) => now.checked_sub(d).unwrap_or(Timestamp::MIN),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub field: Field,
    pub descending: bool,
}

/// A query that does not parse, with the 1-based column where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at column {column})")]
pub struct QueryError {
    pub message: String,
    pub column: usize,
}

impl Query {
    /// Everything, newest first.
    pub fn all() -> Query {
        Query {
            filter: None,
            order: vec![OrderBy {
                field: Field::Updated,
                descending: true,
            }],
        }
    }

    /// Parses a query; without an ORDER BY it is ordered newest first.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        Query::parse_with_keys(text, &mut |_| None)
    }

    /// [`Query::parse`], where a `key` value that is not an item key may still name an item:
    /// `key_of` says which (on a node that serves ServiceNow, a record's number, INC0010005, is
    /// its mirror item's key). A value `key_of` does not know is an error, as in `parse`.
    pub fn parse_with_keys(
        text: &str,
        key_of: &mut dyn FnMut(&str) -> Option<ItemKey>,
    ) -> Result<Query, QueryError> {
        let mut query = Query::parse_written(text, key_of)?;
        if query.order.is_empty() {
            query.order = Query::all().order;
        }
        Ok(query)
    }

    /// Parses a query without adding the default order: `order` is empty unless the text has an
    /// ORDER BY (which a sync trigger must not have).
    pub fn parse_as_written(text: &str) -> Result<Query, QueryError> {
        Query::parse_written(text, &mut |_| None)
    }

    fn parse_written(
        text: &str,
        key_of: &mut dyn FnMut(&str) -> Option<ItemKey>,
    ) -> Result<Query, QueryError> {
        let tokens = lex(text)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            len: text.chars().count(),
            depth: 0,
            key_of,
        };
        let filter = if p.at_end() || p.peek_keyword("ORDER") {
            None
        } else {
            Some(p.expr()?.0)
        };
        let mut order = Vec::new();
        if p.peek_keyword("ORDER") {
            p.bump();
            p.expect_keyword("BY")?;
            loop {
                let (field, column) = p.field()?;
                if matches!(field, Field::Text | Field::Labels) {
                    return Err(QueryError {
                        message: format!("cannot order by {field}"),
                        column,
                    });
                }
                let descending = if p.peek_keyword("DESC") {
                    p.bump();
                    true
                } else {
                    if p.peek_keyword("ASC") {
                        p.bump();
                    }
                    false
                };
                order.push(OrderBy { field, descending });
                if !p.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        if let Some(tok) = p.tokens.get(p.pos) {
            return Err(QueryError {
                message: format!(
                    "unexpected {}: expected AND, OR, ORDER BY or the end",
                    tok.tok
                ),
                column: tok.column,
            });
        }
        Ok(Query { filter, order })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(Op),
    LParen,
    RParen,
    Comma,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "'{w}'"),
            Tok::Quoted(q) => write!(f, "\"{q}\""),
            Tok::Op(op) => write!(f, "'{op}'"),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::Comma => f.write_str("','"),
        }
    }
}

struct Token {
    tok: Tok,
    column: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let single = |tok| Token { tok, column };
        match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => out.push(single(Tok::LParen)),
            ')' => out.push(single(Tok::RParen)),
            ',' => out.push(single(Tok::Comma)),
            '=' => out.push(single(Tok::Op(Op::Eq))),
            '~' => out.push(single(Tok::Op(Op::Contains))),
            '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, width) = match (c, next) {
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('!', Some('~')) => (Op::NotContains, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', _) => (Op::Gt, 1),
                    _ => {
                        return Err(QueryError {
                            message: "'!' must be followed by '=' or '~'".into(),
                            column,
                        });
                    }
                };
                out.push(single(Tok::Op(op)));
                i += width;
                continue;
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(QueryError {
                                message: format!("unclosed quote {quote}"),
                                column,
                            });
                        }
                        Some('\\') if i + 1 < chars.len() => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&ch) if ch == quote => break,
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(single(Tok::Quoted(s)));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(
                        chars[i],
                        '(' | ')' | ',' | '=' | '!' | '<' | '>' | '~' | '"' | '\''
                    )
                {
                    i += 1;
                }
                // `cf[Story Points]` may hold spaces: take everything up to the bracket.
                let word: String = chars[start..i].iter().collect();
                if word.to_ascii_lowercase().starts_with("cf[") && !word.ends_with(']') {
                    while i < chars.len() && chars[i] != ']' {
                        i += 1;
                    }
                    if i == chars.len() {
                        return Err(QueryError {
                            message: "unclosed 'cf[': write cf[Field name]".into(),
                            column,
                        });
                    }
                    i += 1;
                }
                out.push(single(Tok::Word(chars[start..i].iter().collect())));
                continue;
            }
        }
        i += 1;
    }
    Ok(out)
}

struct Parser<'k> {
    tokens: Vec<Token>,
    pos: usize,
    len: usize,
    /// Parentheses and `NOT`s open around the current token (the parser's recursion).
    depth: usize,
    /// The item a `key` value that is not an item key names, if any ([`Query::parse_with_keys`]).
    key_of: &'k mut dyn FnMut(&str) -> Option<ItemKey>,
}

/// An expression and its height (a condition is 1).
type Parsed = (Expr, usize);

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    fn column(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.len + 1, |t| t.column)
    }

    fn bump(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.pos);
        self.pos += 1;
        t
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.tokens.get(self.pos).is_some_and(|t| &t.tok == tok) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), QueryError> {
        if self.peek_keyword(kw) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{kw}'")))
        }
    }

    fn unexpected(&self, wanted: &str) -> QueryError {
        let found = self
            .tokens
            .get(self.pos)
            .map_or("the end of the query".to_owned(), |t| t.tok.to_string());
        QueryError {
            message: format!("expected {wanted}, found {found}"),
            column: self.column(),
        }
    }

    fn too_deep(&self) -> QueryError {
        QueryError {
            message: format!(
                "the query is nested too deeply: at most {MAX_DEPTH} levels of parentheses, NOT, AND and OR"
            ),
            column: self.column(),
        }
    }

    /// `op(left, right)`, refused when it would be higher than [`MAX_DEPTH`].
    fn join(
        &self,
        (left, hl): Parsed,
        (right, hr): Parsed,
        op: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> Result<Parsed, QueryError> {
        let height = 1 + hl.max(hr);
        if height > MAX_DEPTH {
            return Err(self.too_deep());
        }
        Ok((op(Box::new(left), Box::new(right)), height))
    }

    fn expr(&mut self) -> Result<Parsed, QueryError> {
        let mut left = self.and()?;
        while self.peek_keyword("OR") {
            self.bump();
            let right = self.and()?;
            left = self.join(left, right, Expr::Or)?;
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Parsed, QueryError> {
        let mut left = self.unary()?;
        while self.peek_keyword("AND") {
            self.bump();
            let right = self.unary()?;
            left = self.join(left, right, Expr::And)?;
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Parsed, QueryError> {
        let negated = self.peek_keyword("NOT");
        if !negated
            && !self
                .tokens
                .get(self.pos)
                .is_some_and(|t| t.tok == Tok::LParen)
        {
            return Ok((Expr::Cond(self.cond()?), 1));
        }
        // Recursion: bounded before it goes deeper, whatever the tree's height.
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        self.bump();
        let parsed = if negated {
            let (inner, height) = self.unary()?;
            if height + 1 > MAX_DEPTH {
                return Err(self.too_deep());
            }
            (Expr::Not(Box::new(inner)), height + 1)
        } else {
            let inner = self.expr()?;
            if !self.eat(&Tok::RParen) {
                return Err(self.unexpected("')'"));
            }
            inner
        };
        self.depth -= 1;
        Ok(parsed)
    }

    fn field(&mut self) -> Result<(Field, usize), QueryError> {
        let column = self.column();
        let field = match self.tokens.get(self.pos).map(|t| &t.tok) {
            Some(Tok::Quoted(name)) => Field::named(name).unwrap_or(Field::Custom(name.clone())),
            Some(Tok::Word(w)) => {
                if let Some(name) = w
                    .strip_prefix("cf[")
                    .or_else(|| w.strip_prefix("CF["))
                    .and_then(|r| r.strip_suffix(']'))
                {
                    Field::Custom(name.trim().to_owned())
                } else if let Some(f) = Field::named(w) {
                    f
                } else {
                    let hint = did_you_mean(w, NAMED_FIELDS.iter().map(|(n, _)| *n))
                        .map(|s| format!("did you mean '{s}'? "))
                        .unwrap_or_default();
                    return Err(QueryError {
                        message: format!(
                            "unknown field '{w}': {hint}custom fields are written in quotes, e.g. \"{w}\""
                        ),
                        column,
                    });
                }
            }
            _ => return Err(self.unexpected("a field name")),
        };
        self.pos += 1;
        Ok((field, column))
    }

    fn cond(&mut self) -> Result<Cond, QueryError> {
        let (field, _) = self.field()?;
        let op_column = self.column();
        let op = match self.tokens.get(self.pos).map(|t| &t.tok) {
            Some(Tok::Op(op)) => {
                let op = *op;
                self.pos += 1;
                op
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("IN") => {
                self.pos += 1;
                Op::In
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("NOT") => {
                self.pos += 1;
                self.expect_keyword("IN")?;
                Op::NotIn
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("IS") => {
                self.pos += 1;
                let negated = self.peek_keyword("NOT");
                if negated {
                    self.pos += 1;
                }
                if !(self.peek_keyword("EMPTY") || self.peek_keyword("NULL")) {
                    return Err(self.unexpected("EMPTY"));
                }
                self.pos += 1;
                let op = if negated { Op::IsNotEmpty } else { Op::IsEmpty };
                check_op(&field, op, op_column)?;
                return Ok(Cond {
                    field,
                    op,
                    values: Vec::new(),
                });
            }
            _ => {
                return Err(self.unexpected("an operator (=, !=, <, <=, >, >=, ~, !~, IN, IS)"));
            }
        };
        check_op(&field, op, op_column)?;
        let values = if matches!(op, Op::In | Op::NotIn) {
            if !self.eat(&Tok::LParen) {
                return Err(self.unexpected("'(' after IN"));
            }
            let mut values = vec![self.value(&field)?];
            while self.eat(&Tok::Comma) {
                values.push(self.value(&field)?);
            }
            if !self.eat(&Tok::RParen) {
                return Err(self.unexpected("',' or ')'"));
            }
            values
        } else {
            vec![self.value(&field)?]
        };
        Ok(Cond { field, op, values })
    }

    fn value(&mut self, field: &Field) -> Result<Value, QueryError> {
        let column = self.column();
        let raw = match self.tokens.get(self.pos).map(|t| &t.tok) {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w.clone(),
            _ => return Err(self.unexpected(&format!("a value for {field}"))),
        };
        self.pos += 1;
        let err = |message: String| QueryError { message, column };
        Ok(match field.kind() {
            FieldKind::Project => Value::Project(
                raw.to_ascii_uppercase()
                    .parse()
                    .map_err(|e: crate::ValidationError| err(e.to_string()))?,
            ),
            FieldKind::Key => Value::Key(match raw.to_ascii_uppercase().parse::<ItemKey>() {
                Ok(key) => key,
                Err(e) => (self.key_of)(&raw).ok_or_else(|| err(e.to_string()))?,
            }),
            FieldKind::Status => {
                Value::Status(raw.parse().map_err(|e: crate::ValidationError| {
                    err(e.to_string() + " (quote names with spaces: \"In Progress\")")
                })?)
            }
            FieldKind::Priority => Value::Priority(
                raw.parse()
                    .map_err(|e: crate::ValidationError| err(e.to_string()))?,
            ),
            FieldKind::Time => Value::Time(parse_time(&raw).ok_or_else(|| {
                err(format!(
                    "'{raw}' is not a date: use \"2026-11-01\", \"2026-11-01 14:30\" or a relative time such as -7d, -12h, -30m"
                ))
            })?),
            FieldKind::Custom => match raw.parse::<f64>() {
                Ok(n) if n.is_finite() => Value::Number(n),
                _ => Value::Text(raw),
            },
            FieldKind::LongText | FieldKind::Person | FieldKind::Labels => Value::Text(raw),
        })
    }
}

/// Which operators make sense on which field; anything else is an error naming both.
fn check_op(field: &Field, op: Op, column: usize) -> Result<(), QueryError> {
    use FieldKind as K;
    let ok = match field.kind() {
        K::Project | K::Status | K::Person | K::Labels => {
            matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn)
                || (matches!(op, Op::IsEmpty | Op::IsNotEmpty)
                    && matches!(field.kind(), K::Person | K::Labels))
        }
        K::Key | K::Priority | K::Time => !matches!(
            op,
            Op::Contains | Op::NotContains | Op::StartsWith | Op::EndsWith
        ),
        K::LongText => matches!(
            op,
            Op::Contains | Op::NotContains | Op::IsEmpty | Op::IsNotEmpty
        ),
        K::Custom => true,
    };
    if ok {
        return Ok(());
    }
    let hint = if field.kind() == K::LongText {
        format!(": search text with ~, e.g. {field} ~ \"printer\"")
    } else {
        String::new()
    };
    Err(QueryError {
        message: format!("operator {op} cannot be used with {field}{hint}"),
        column,
    })
}

fn parse_time(raw: &str) -> Option<TimeValue> {
    if let Some(rel) = raw.strip_prefix('-') {
        let unit = rel.chars().last()?;
        let n: i64 = rel[..rel.len() - unit.len_utf8()].parse().ok()?;
        let secs = match unit {
            'w' => n.checked_mul(7 * 86_400)?,
            'd' => n.checked_mul(86_400)?,
            'h' => n.checked_mul(3_600)?,
            'm' => n.checked_mul(60)?,
            _ => return None,
        };
        return Some(TimeValue::Ago(SignedDuration::from_secs(secs)));
    }
    if let Ok(ts) = raw.parse::<Timestamp>() {
        return Some(TimeValue::At(ts));
    }
    let civil = raw.parse::<jiff::civil::DateTime>().ok().or_else(|| {
        raw.parse::<jiff::civil::Date>()
            .ok()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    })?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(civil)
        .ok()
        .map(TimeValue::At)
}

/// The closest candidate within two edits, for "did you mean" hints.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(query: &str, expected: &str) {
        let err = Query::parse(query).expect_err(query);
        assert_eq!(err.to_string(), expected, "{query}");
    }

    #[test]
    fn the_projects_a_query_requires_are_those_every_match_is_in() {
        let required = |q: &str| {
            Query::parse(q)
                .unwrap()
                .filter
                .and_then(|f| f.required_projects())
                .map(|p| p.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        assert_eq!(required("project = ENG"), Some(vec!["ENG".to_owned()]));
        assert_eq!(
            required("project IN (ENG, OPS) AND labels = shared"),
            Some(vec!["ENG".to_owned(), "OPS".to_owned()])
        );
        assert_eq!(
            required("project = ENG OR (project = OPS AND priority = High)"),
            Some(vec!["ENG".to_owned(), "OPS".to_owned()])
        );
        assert_eq!(
            required("project IN (ENG, OPS) AND project = OPS"),
            Some(vec!["OPS".to_owned()])
        );
        assert_eq!(required("project = ENG OR priority = High"), None);
        assert_eq!(required("project != ENG"), None);
        assert_eq!(required("NOT project = ENG"), None);
        assert_eq!(required("labels = shared"), None);
    }

    #[test]
    fn a_query_as_written_has_no_order_unless_it_says_so() {
        // Regression: triggers were checked with `parse`, whose default order read as an
        // ORDER BY, so every trigger was refused.
        assert!(
            Query::parse_as_written("project = SUP")
                .unwrap()
                .order
                .is_empty()
        );
        assert_eq!(
            Query::parse("project = SUP").unwrap().order,
            Query::all().order
        );
        let ordered = Query::parse_as_written("project = SUP ORDER BY key").unwrap();
        assert_eq!(ordered.order.len(), 1);
    }

    #[test]
    fn parses_the_issue_example() {
        let q = Query::parse(
            r#"project = OPS AND labels = sync AND status != Done AND updated >= "2026-11-01" ORDER BY updated DESC, key"#,
        )
        .unwrap();
        assert_eq!(q.order.len(), 2);
        assert!(q.order[0].descending && !q.order[1].descending);
        let Some(Expr::And(left, right)) = q.filter else {
            panic!("expected AND at the top");
        };
        assert_eq!(
            *right,
            Expr::Cond(Cond {
                field: Field::Updated,
                op: Op::Ge,
                values: vec![Value::Time(TimeValue::At(
                    "2026-11-01T00:00:00Z".parse().unwrap()
                ))],
            })
        );
        assert!(matches!(*left, Expr::And(..)));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let q = Query::parse("status = Done OR priority = High AND labels = x").unwrap();
        assert!(matches!(q.filter, Some(Expr::Or(_, ref r)) if matches!(**r, Expr::And(..))));
    }

    #[test]
    fn in_is_and_custom_fields() {
        let q = Query::parse(
            r#"priority in (High, highest) and assignee is empty and "Story Points" > 3 and cf[Customer Tier] = Gold and status not in ("In Progress")"#,
        )
        .unwrap();
        assert!(q.filter.is_some());
        assert_eq!(Query::parse("").unwrap(), Query::all());
        assert!(Query::parse("created >= -7d ORDER BY priority").is_ok());
    }

    #[test]
    fn errors_name_the_problem_and_column() {
        check_err(
            "statsu = Done",
            "unknown field 'statsu': did you mean 'status'? custom fields are written in quotes, e.g. \"statsu\" (at column 1)",
        );
        check_err(
            "status = Closed",
            "unknown status 'Closed': use one of To Do, In Progress, Done (quote names with spaces: \"In Progress\") (at column 10)",
        );
        check_err(
            "summary = x",
            "operator = cannot be used with summary: search text with ~, e.g. summary ~ \"printer\" (at column 9)",
        );
        check_err(
            "updated > yesterday",
            "'yesterday' is not a date: use \"2026-11-01\", \"2026-11-01 14:30\" or a relative time such as -7d, -12h, -30m (at column 11)",
        );
        check_err(
            "status = Done AND",
            "expected a field name, found the end of the query (at column 18)",
        );
        check_err(
            "status = Done labels = x",
            "unexpected 'labels': expected AND, OR, ORDER BY or the end (at column 15)",
        );
        check_err("summary ~ \"open", "unclosed quote \" (at column 11)");
    }

    #[test]
    fn a_key_value_that_is_no_item_key_is_asked_of_the_node() {
        let mut asked = Vec::new();
        let mut numbers = |raw: &str| {
            asked.push(raw.to_owned());
            match raw.to_ascii_uppercase().as_str() {
                "INC0010005" => "INC-9".parse().ok(),
                "INC0010006" => "INC-10".parse().ok(),
                _ => None,
            }
        };
        let query = Query::parse_with_keys(
            "key = inc0010005 OR key in (INC0010006, OPS-1)",
            &mut numbers,
        )
        .expect("numbers are keys");
        let key = |k: &str| Value::Key(k.parse().expect("key"));
        let cond = |op, values| {
            Box::new(Expr::Cond(Cond {
                field: Field::Key,
                op,
                values,
            }))
        };
        assert_eq!(
            query.filter,
            Some(Expr::Or(
                cond(Op::Eq, vec![key("INC-9")]),
                cond(Op::In, vec![key("INC-10"), key("OPS-1")]),
            ))
        );
        // What the node does not know stays an error.
        let err = Query::parse_with_keys("key = INC9999999", &mut numbers).unwrap_err();
        assert_eq!(err, Query::parse("key = INC9999999").unwrap_err());
        // Only what is not an item key is asked.
        assert_eq!(asked, ["inc0010005", "INC0010006", "INC9999999"]);
    }

    #[test]
    fn no_input_panics() {
        for q in [
            "(",
            ")",
            "!",
            "cf[",
            "\"",
            "a = ",
            "-",
            "updated > -",
            "updated > -5x",
            "key < OPS-",
            "status in (",
            "ORDER",
            "ORDER BY",
            "((((status = Done",
            "é = ü",
            "updated > -99999999999999999d",
        ] {
            let _ = Query::parse(q);
        }
    }

    #[test]
    fn nesting_past_the_limit_is_an_error_naming_it() {
        let at_limit = format!(
            "{}status = Done{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(Query::parse(&at_limit).is_ok());
        for deep in [
            format!("{}status = Done{}", "(".repeat(5000), ")".repeat(5000)),
            format!("{}status = Done", "NOT ".repeat(5000)),
            vec!["status = Done"; 5000].join(" AND "),
            vec!["status = Done"; 5000].join(" OR "),
            format!("{}status = Done", "NOT (".repeat(5000)),
        ] {
            let err = Query::parse(&deep).expect_err("too deep");
            assert!(
                err.message.contains("nested too deeply") && err.message.contains("100"),
                "{err}"
            );
        }
        // Chains inside parentheses add up: the tree, not each level, is bounded.
        let chain = vec!["status = Done"; 60].join(" AND ");
        let nested = format!("({chain}) AND ({chain}) OR {chain}");
        assert!(Query::parse(&nested).is_ok());
        let err = Query::parse(&format!("(({chain}) AND {chain}) AND {chain}")).expect_err("deep");
        assert!(err.message.contains("nested too deeply"), "{err}");
    }

    #[test]
    fn balanced_joins_keep_the_order_and_stay_shallow() {
        fn height(e: &Expr) -> usize {
            match e {
                Expr::And(a, b) | Expr::Or(a, b) => 1 + height(a).max(height(b)),
                Expr::Not(a) => 1 + height(a),
                Expr::Cond(_) => 1,
            }
        }
        let conds: Vec<Expr> = (0..10_000)
            .map(|n| {
                Expr::Cond(Cond {
                    field: Field::Custom(n.to_string()),
                    op: Op::IsEmpty,
                    values: Vec::new(),
                })
            })
            .collect();
        let joined = Expr::all(conds.clone()).expect("some");
        assert_eq!(height(&joined), 15);
        let mut order = Vec::new();
        let mut stack = vec![&joined];
        while let Some(e) = stack.pop() {
            match e {
                Expr::And(a, b) => stack.extend([&**b, &**a]),
                Expr::Cond(c) => order.push(c.field.to_string()),
                _ => unreachable!(),
            }
        }
        let expected: Vec<String> = (0..10_000).map(|n| format!("\"{n}\"")).collect();
        assert_eq!(order, expected);
        assert_eq!(Expr::any(Vec::new()), None);
        assert_eq!(Expr::any(conds[..1].to_vec()), Some(conds[0].clone()));
    }

    mod random {
        use proptest::prelude::*;
        use proptest::test_runner::Config;

        use super::super::*;

        /// Bits of the language, so that random text is near-valid, not only noise.
        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("(".to_owned()),
                Just(")".to_owned()),
                Just(" AND ".to_owned()),
                Just(" OR ".to_owned()),
                Just("NOT ".to_owned()),
                Just("status = Done".to_owned()),
                Just("priority IN (High, Low)".to_owned()),
                Just("labels IS NOT EMPTY".to_owned()),
                Just("\"Story Points\" > 3".to_owned()),
                Just("cf[Tier] ~ 'x'".to_owned()),
                Just("updated >= -7d".to_owned()),
                Just(" ORDER BY key DESC".to_owned()),
                Just(",".to_owned()),
                Just("\"".to_owned()),
                "[a-zA-Z0-9=!<>~ ]{1,8}",
            ]
        }

        /// A condition nested `depth` deep in parentheses and NOTs, chained `width` times.
        fn deep() -> impl Strategy<Value = String> {
            (0usize..400, 0usize..400, 1usize..300, any::<bool>()).prop_map(
                |(parens, nots, width, close)| {
                    let chain = vec!["status = Done"; width].join(" AND ");
                    format!(
                        "{}{}{chain}{}",
                        "NOT ".repeat(nots),
                        "(".repeat(parens),
                        if close {
                            ")".repeat(parens)
                        } else {
                            String::new()
                        }
                    )
                },
            )
        }

        fn config() -> Config {
            Config {
                cases: 256,
                failure_persistence: None,
                rng_seed: proptest::test_runner::RngSeed::Fixed(13),
                ..Config::default()
            }
        }

        /// Parses on a thread with a tokio worker's 2 MiB stack: an overflow fails the test.
        fn parse_on_small_stack(text: String) -> Result<(), String> {
            std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || Query::parse(&text).map(drop).map_err(|e| e.to_string()))
                .map_err(|e| e.to_string())?
                .join()
                .map_err(|_| "the parser panicked".to_owned())?
                .or(Ok(()))
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,120}") {
                let _ = Query::parse(&text);
            }

            #[test]
            fn near_valid_queries_never_panic(pieces in proptest::collection::vec(piece(), 0..40)) {
                let _ = Query::parse(&pieces.concat());
            }

            #[test]
            fn deep_queries_are_refused_or_parsed_on_a_small_stack(text in deep()) {
                prop_assert_eq!(parse_on_small_stack(text), Ok(()));
            }
        }
    }
}
