//! Errors and their rendering: every error carries a [`Span`], and [`ScriptError::render`] shows
//! the line, column, source line with a caret, plain words and the stack of script methods.

use std::fmt;

/// A byte range in the script's source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end.max(start) as u32,
        }
    }
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// What kind of failure stopped the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The source does not parse.
    Parse,
    /// A Groovy exception (thrown by the script or by the runtime) that nothing caught; the
    /// string is the exception's class name, e.g. `NullPointerException`.
    Exception(String),
    /// A sandbox limit was exceeded (steps, memory, depth, time); never catchable by scripts.
    Limit,
}

/// One entry of the script-level call stack at the point of failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackEntry {
    pub name: std::borrow::Cow<'static, str>,
    pub span: Span,
}

/// An error raised while parsing or running a script.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct ScriptError {
    pub kind: ErrorKind,
    pub message: String,
    pub span: Span,
    pub stack: Vec<StackEntry>,
}

impl ScriptError {
    pub fn parse(message: impl Into<String>, span: Span) -> ScriptError {
        ScriptError {
            kind: ErrorKind::Parse,
            message: message.into(),
            span,
            stack: Vec::new(),
        }
    }
    pub fn limit(message: impl Into<String>, span: Span) -> ScriptError {
        ScriptError {
            kind: ErrorKind::Limit,
            message: message.into(),
            span,
            stack: Vec::new(),
        }
    }

    /// 1-based line and column (in characters) of the error in `source`.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        line_col(source, self.span.start as usize)
    }

    /// A rendering for people: message, location, source line with a caret, and the stack.
    pub fn render(&self, source: &str, file_name: &str) -> String {
        let (line, col) = self.line_col(source);
        let text = source.lines().nth(line.saturating_sub(1)).unwrap_or("");
        let width = line.to_string().len();
        let label = match &self.kind {
            ErrorKind::Parse => "syntax error".to_string(),
            ErrorKind::Exception(c) => format!("error ({c})"),
            ErrorKind::Limit => "limit exceeded".to_string(),
        };
        let span_len = {
            let start = self.span.start as usize;
            let end = (self.span.end as usize).min(source.len());
            let line_end = source
                .get(start..)
                .and_then(|r| r.find('\n'))
                .map_or(source.len(), |i| start + i);
            source
                .get(start..end.min(line_end))
                .map_or(1, |s| s.chars().count().max(1))
        };
        let mut out = format!(
            "{label}: {}\n{:w$}--> {file_name}:{line}:{col}\n{:w$} |\n{line} | {text}\n{:w$} | {}{}\n",
            self.message,
            "",
            "",
            "",
            " ".repeat(col.saturating_sub(1)),
            "^".repeat(span_len),
            w = width
        );
        let mut i = self.stack.len();
        while i > 0 {
            i -= 1;
            let entry = &self.stack[i];
            let mut same = 0;
            while i > 0 && self.stack[i - 1] == *entry {
                i -= 1;
                same += 1;
            }
            let (l, c) = line_col(source, entry.span.start as usize);
            out.push_str(&format!(
                "{:w$} = in {} called at line {l}, column {c}\n",
                "",
                entry.name,
                w = width
            ));
            if same > 0 {
                out.push_str(&format!(
                    "{:w$}   (and {same} more times the same)\n",
                    "",
                    w = width
                ));
            }
        }
        out
    }
}

/// 1-based line and character column of byte offset `pos`.
pub fn line_col(source: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(source.len());
    let mut line = 1;
    let mut line_start = 0;
    for (i, b) in source.bytes().enumerate() {
        if i >= pos {
            break;
        }
        if b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
    }
    let col = source
        .get(line_start..pos)
        .map_or(1, |s| s.chars().count() + 1);
    (line, col)
}

/// The closest candidate to `name` by Damerau–Levenshtein distance, if close enough to be a
/// plausible typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = distance(&name.to_lowercase(), &c.to_lowercase());
        let max = (name.chars().count().max(3)) / 3 + 1;
        if d <= max && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// Optimal string alignment distance (Damerau–Levenshtein with adjacent transpositions).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Parse => f.write_str("syntax error"),
            ErrorKind::Exception(c) => f.write_str(c),
            ErrorKind::Limit => f.write_str("limit exceeded"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("summry", ["summary", "status"]).as_deref(),
            Some("summary")
        );
        assert_eq!(did_you_mean("xyz", ["summary"]), None);
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("", 0), (1, 1));
    }
}
