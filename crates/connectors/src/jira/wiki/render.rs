//! ADF written as wiki markup: `h1.`, `*`/`#` list prefixes, `{code}`/`{noformat}`,
//! `{quote}`, tables, marks as delimiters, mentions as `[~id]`, text escaped where it could
//! read as markup; what wiki markup cannot hold is named in the result's `lossy`.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{MAX_DEPTH, MEDIA_SCHEME, attr_str, children, kind};
use crate::jira::adf::{self, Converted};
/// An ADF document as wiki markup.
pub fn from_adf(doc: &Value) -> Converted<String> {
    let mut w = WikiWriter::default();
    let text = w.blocks(children(doc), 1);
    Converted {
        value: text,
        lossy: w.lossy.into_iter().collect(),
    }
}

#[derive(Default)]
struct WikiWriter {
    lossy: BTreeSet<String>,
}

impl WikiWriter {
    fn lose(&mut self, what: impl Into<String>) {
        self.lossy.insert(what.into());
    }

    fn blocks(&mut self, nodes: &[Value], depth: usize) -> String {
        nodes
            .iter()
            .map(|n| self.block(n, depth, ""))
            .filter(|b| !b.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    fn block(&mut self, n: &Value, depth: usize, list_prefix: &str) -> String {
        if depth > MAX_DEPTH {
            self.lose(format!(
                "nesting deeper than {MAX_DEPTH} levels (kept as text)"
            ));
            return escape(&adf::flat_text(n));
        }
        let inner = depth + 1;
        match kind(n) {
            "paragraph" => guard_line_start(&self.inlines(children(n), inner)),
            "heading" => {
                let level = n
                    .pointer("/attrs/level")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .clamp(1, 6);
                format!(
                    "h{level}. {}",
                    self.inlines(children(n), inner).replace('\n', " ")
                )
            }
            "bulletList" | "orderedList" => {
                let marker = if kind(n) == "orderedList" { '#' } else { '*' };
                if n.pointer("/attrs/order")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    != 1
                {
                    self.lose("ordered list start number");
                }
                let prefix = format!("{list_prefix}{marker}");
                let mut lines = Vec::new();
                for item in children(n) {
                    let mut text_parts = Vec::new();
                    let mut nested = Vec::new();
                    for b in children(item) {
                        match kind(b) {
                            "bulletList" | "orderedList" => {
                                nested.push(self.block(b, inner + 1, &prefix))
                            }
                            "paragraph" => text_parts.push(self.inlines(children(b), inner + 1)),
                            _ => {
                                self.lose(
                                    "block other than a paragraph in a list item (kept as text)",
                                );
                                text_parts.push(escape(&adf::flat_text(b)));
                            }
                        }
                    }
                    if text_parts.len() > 1 {
                        self.lose("several paragraphs in one list item (joined)");
                    }
                    let text = text_parts.join("\\\\ ").replace('\n', "\\\\ ");
                    lines.push(format!("{prefix} {text}"));
                    lines.extend(nested);
                }
                lines.join("\n")
            }
            "codeBlock" => {
                let code: String = children(n)
                    .iter()
                    .map(|t| t.get("text").and_then(Value::as_str).unwrap_or_default())
                    .collect();
                let language = attr_str(n, "language");
                if language.is_empty() {
                    format!("{{noformat}}\n{code}\n{{noformat}}")
                } else {
                    format!("{{code:{language}}}\n{code}\n{{code}}")
                }
            }
            "blockquote" => format!("{{quote}}\n{}\n{{quote}}", self.blocks(children(n), inner)),
            "panel" => {
                self.lose("panel (became a quote)");
                format!("{{quote}}\n{}\n{{quote}}", self.blocks(children(n), inner))
            }
            "rule" => "----".to_owned(),
            "table" => children(n)
                .iter()
                .map(|row| {
                    let mut line = String::new();
                    for cell in children(row) {
                        let sep = if kind(cell) == "tableHeader" {
                            "||"
                        } else {
                            "|"
                        };
                        let text = children(cell)
                            .iter()
                            .map(|p| {
                                if kind(p) == "paragraph" {
                                    self.inlines(children(p), inner + 2)
                                } else {
                                    escape(&adf::flat_text(p))
                                }
                            })
                            .collect::<Vec<_>>()
                            .join("\\\\ ")
                            .replace('\n', "\\\\ ");
                        line.push_str(sep);
                        line.push_str(&text);
                    }
                    let last = children(row)
                        .last()
                        .map_or("|", |c| if kind(c) == "tableHeader" { "||" } else { "|" });
                    line.push_str(last);
                    line
                })
                .collect::<Vec<_>>()
                .join("\n"),
            "mediaSingle" | "mediaGroup" => children(n)
                .iter()
                .map(|m| self.media(m))
                .collect::<Vec<_>>()
                .join("\n\n"),
            "media" => self.media(n),
            other => {
                self.lose(format!("`{other}` node (kept as text)"));
                escape(&adf::flat_text(n))
            }
        }
    }

    fn media(&mut self, m: &Value) -> String {
        let target = match attr_str(m, "type") {
            "external" => attr_str(m, "url").to_owned(),
            _ => {
                self.lose("Jira Cloud media (named by its id)");
                format!("{MEDIA_SCHEME}{}", attr_str(m, "id"))
            }
        };
        if !attr_str(m, "alt").is_empty() {
            self.lose("image alt text");
        }
        format!("!{}!", target.replace('!', "%21"))
    }

    fn inlines(&mut self, nodes: &[Value], depth: usize) -> String {
        let mut out = String::new();
        for n in nodes {
            match kind(n) {
                "text" => {
                    let text = n.get("text").and_then(Value::as_str).unwrap_or_default();
                    out.push_str(&self.marked(text, n.get("marks")));
                }
                "hardBreak" => out.push('\n'),
                "mention" => {
                    let id = attr_str(n, "id");
                    let text = attr_str(n, "text");
                    if !text.is_empty() && text.trim_start_matches('@') != id {
                        self.lose("mention display name (Jira shows the user's current name)");
                    }
                    out.push_str(&format!("[~{id}]"));
                }
                _ if depth > MAX_DEPTH => out.push_str(&escape(&adf::flat_text(n))),
                other => {
                    self.lose(format!("`{other}` node (kept as text)"));
                    out.push_str(&escape(&adf::flat_text(n)));
                }
            }
        }
        out
    }

    fn marked(&mut self, text: &str, marks: Option<&Value>) -> String {
        let marks: Vec<&Value> = marks
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let has = |name: &str| marks.iter().any(|m| kind(m) == name);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return text.to_owned();
        }
        let lead = &text[..text.len() - text.trim_start().len()];
        let trail = &text[text.trim_end().len()..];
        let mut s = if has("code") {
            format!("{{{{{}}}}}", trimmed.replace('}', "\\}"))
        } else {
            escape(trimmed)
        };
        for (mark, delim) in [
            ("strike", "-"),
            ("underline", "+"),
            ("em", "_"),
            ("strong", "*"),
        ] {
            if has(mark) {
                s = format!("{delim}{s}{delim}");
            }
        }
        for m in &marks {
            match kind(m) {
                "subsup" => {
                    let d = if attr_str(m, "type") == "sub" {
                        "~"
                    } else {
                        "^"
                    };
                    s = format!("{d}{s}{d}");
                }
                "textColor" | "backgroundColor" => self.lose("text colour"),
                "strong" | "em" | "code" | "strike" | "underline" | "link" => {}
                other => self.lose(format!("`{other}` mark")),
            }
        }
        if let Some(link) = marks.iter().find(|m| kind(m) == "link") {
            let href = attr_str(link, "href");
            s = if s == escape(href) {
                format!("[{href}]")
            } else {
                format!("[{s}|{href}]")
            };
        }
        format!("{lead}{s}{trail}")
    }
}

/// Characters that start markup, backslash-escaped where they could be read as markup.
fn escape(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let escape = match c {
            '*' | '_' | '{' | '}' | '[' | ']' | '|' | '!' => true,
            // Only at a word's edge can these open or close a mark.
            '-' | '+' | '^' | '~' => {
                !prev.is_some_and(char::is_alphanumeric) || !next.is_some_and(char::is_alphanumeric)
            }
            '?' => next == Some('?'),
            // `&#92;` is how a backslash is written; the text itself must not read as one.
            '&' => chars[i..].starts_with(&['&', '#', '9', '2', ';']),
            '\\' => true,
            _ => false,
        };
        if c == '\\' {
            out.push_str("&#92;");
            continue;
        }
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A paragraph that would read as a heading, list, quote or rule keeps its start escaped.
fn guard_line_start(p: &str) -> String {
    let head = p.len() >= 3
        && p.as_bytes()[0] == b'h'
        && (b'1'..=b'6').contains(&p.as_bytes()[1])
        && p[2..].starts_with(". ");
    if head || p.starts_with("bq. ") || p.starts_with('#') {
        let mut chars = p.chars();
        let first = chars.next().unwrap_or_default();
        return format!("\\{first}{}", chars.as_str());
    }
    p.to_owned()
}
