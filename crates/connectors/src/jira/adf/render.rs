//! ADF rendered as Markdown: block by block, marks as delimiters (whitespace kept outside
//! them), text escaped where it could read as markup, and everything Markdown cannot hold
//! named in the result's `lossy`. Recursion stops at [`MAX_DEPTH`]; deeper nodes become text.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{
    Converted, MAX_DEPTH, MEDIA_SCHEME, MENTION_SCHEME, attr, attr_str, children, flat_text,
    indent_after_first, is_block, kind,
};
/// Renders an ADF document (or any node) as Markdown.
pub fn to_markdown(doc: &Value) -> Converted<String> {
    let mut r = MdWriter::default();
    let text = if kind(doc) == "doc" {
        r.blocks(children(doc), 1)
    } else {
        r.blocks(std::slice::from_ref(doc), 1)
    };
    Converted {
        value: text,
        lossy: r.lossy.into_iter().collect(),
    }
}

#[derive(Default)]
struct MdWriter {
    lossy: BTreeSet<String>,
}

impl MdWriter {
    fn lose(&mut self, what: impl Into<String>) {
        self.lossy.insert(what.into());
    }

    fn too_deep(&mut self, node: &Value) -> String {
        self.lose(format!(
            "nesting deeper than {MAX_DEPTH} levels (kept as text)"
        ));
        escape(&flat_text(node))
    }

    fn blocks(&mut self, nodes: &[Value], depth: usize) -> String {
        let mut parts = Vec::new();
        let mut inline_run: Vec<Value> = Vec::new();
        for n in nodes {
            if is_block(n) {
                if !inline_run.is_empty() {
                    parts.push(self.inlines(&std::mem::take(&mut inline_run), depth));
                }
                parts.push(self.block(n, depth));
            } else {
                inline_run.push(n.clone());
            }
        }
        if !inline_run.is_empty() {
            parts.push(self.inlines(&inline_run, depth));
        }
        parts.retain(|p| !p.is_empty());
        parts.join("\n\n")
    }

    fn block(&mut self, n: &Value, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return self.too_deep(n);
        }
        let inner = depth + 1;
        match kind(n) {
            "paragraph" => guard_line_start(&self.inlines(children(n), inner)),
            "heading" => {
                let level = attr(n, "level")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .clamp(1, 6);
                format!(
                    "{} {}",
                    "#".repeat(level as usize),
                    self.inlines(children(n), inner).replace('\n', " ")
                )
            }
            "bulletList" | "orderedList" => {
                let ordered = kind(n) == "orderedList";
                let start = attr(n, "order").and_then(Value::as_u64).unwrap_or(1);
                let mut items = Vec::new();
                for (i, item) in children(n).iter().enumerate() {
                    let marker = if ordered {
                        format!("{}. ", start.saturating_add(i as u64))
                    } else {
                        "- ".to_owned()
                    };
                    let body = if kind(item) == "listItem" {
                        if inner > MAX_DEPTH {
                            self.too_deep(item)
                        } else {
                            self.item(children(item), inner + 1)
                        }
                    } else {
                        self.block(item, inner)
                    };
                    items.push(indent_after_first(&marker, &body));
                }
                items.join("\n")
            }
            "codeBlock" => {
                let code: String = children(n)
                    .iter()
                    .map(|t| t.get("text").and_then(Value::as_str).unwrap_or_default())
                    .collect();
                let language = attr_str(n, "language");
                let fence = "`".repeat(longest_run(&code, '`').max(2) + 1);
                format!("{fence}{language}\n{code}\n{fence}")
            }
            "blockquote" => quote(&self.blocks(children(n), inner)),
            "panel" => {
                self.lose("panel (became a quote)");
                quote(&self.blocks(children(n), inner))
            }
            "rule" => "---".to_owned(),
            "table" => self.table(n, inner),
            "mediaSingle" | "mediaGroup" => children(n)
                .iter()
                .map(|m| self.media(m))
                .collect::<Vec<_>>()
                .join("\n\n"),
            "media" => self.media(n),
            "expand" | "nestedExpand" => {
                self.lose("expand (became its title and content)");
                let title = attr_str(n, "title");
                let body = self.blocks(children(n), inner);
                if title.is_empty() {
                    body
                } else {
                    format!("**{}**\n\n{body}", escape(title))
                }
            }
            "blockCard" | "embedCard" => {
                self.lose("card (became a link)");
                format!("<{}>", attr_str(n, "url"))
            }
            "taskList" | "decisionList" => {
                self.lose(format!("{} (became a bullet list)", kind(n)));
                children(n)
                    .iter()
                    .map(|item| {
                        let body = self.inlines(children(item), inner + 1);
                        indent_after_first("- ", &body)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            other => {
                self.lose(format!("`{other}` node (kept as text)"));
                escape(&flat_text(n))
            }
        }
    }

    /// A list item's blocks; a nested list follows its paragraph on the next line (a tight
    /// item), unless it is an ordered list not starting at 1, which could not interrupt it.
    fn item(&mut self, nodes: &[Value], depth: usize) -> String {
        let mut out = String::new();
        let mut prev: Option<&Value> = None;
        for n in nodes {
            let text = if is_block(n) {
                self.block(n, depth)
            } else {
                self.inlines(std::slice::from_ref(n), depth)
            };
            if let Some(p) = prev {
                let tight = kind(p) == "paragraph"
                    && (kind(n) == "bulletList"
                        || (kind(n) == "orderedList"
                            && attr(n, "order").and_then(Value::as_u64).unwrap_or(1) == 1));
                out.push_str(if tight { "\n" } else { "\n\n" });
            }
            out.push_str(&text);
            prev = Some(n);
        }
        out
    }

    fn media(&mut self, m: &Value) -> String {
        let alt = escape(attr_str(m, "alt"));
        match attr_str(m, "type") {
            "external" => format!("![{alt}]({})", url_for_md(attr_str(m, "url"))),
            _ => {
                let id = attr_str(m, "id");
                if !attr_str(m, "collection").is_empty() {
                    self.lose("media collection");
                }
                format!("![{alt}]({MEDIA_SCHEME}{})", url_for_md(id))
            }
        }
    }

    fn table(&mut self, n: &Value, depth: usize) -> String {
        let rows: Vec<&Value> = children(n)
            .iter()
            .filter(|r| kind(r) == "tableRow")
            .collect();
        if rows.is_empty() {
            return String::new();
        }
        let header_first = children(rows[0]).iter().all(|c| kind(c) == "tableHeader");
        if !header_first {
            self.lose("table without a header row (its first row became the header)");
        }
        let width = rows
            .iter()
            .map(|r| children(r).len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut lines = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let mut cells: Vec<String> = children(row)
                .iter()
                .map(|c| self.cell(c, depth + 1))
                .collect();
            cells.resize(width, String::new());
            if i > 0 && children(row).iter().any(|c| kind(c) == "tableHeader") {
                self.lose("header cells below the first row");
            }
            lines.push(format!("| {} |", cells.join(" | ")));
            if i == 0 {
                lines.push(format!("|{}", " --- |".repeat(width)));
            }
        }
        lines.join("\n")
    }

    fn cell(&mut self, c: &Value, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return self.too_deep(c).replace('|', "\\|");
        }
        if attr(c, "colspan").and_then(Value::as_u64).unwrap_or(1) > 1
            || attr(c, "rowspan").and_then(Value::as_u64).unwrap_or(1) > 1
        {
            self.lose("merged table cells");
        }
        let content = children(c);
        let simple = content.len() <= 1 && content.iter().all(|p| kind(p) == "paragraph");
        if !simple {
            self.lose("table cell with more than one paragraph (flattened)");
        }
        let text = content
            .iter()
            .map(|p| {
                if kind(p) == "paragraph" {
                    self.inlines(children(p), depth + 1)
                } else {
                    escape(&flat_text(p))
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        if text.contains('\n') {
            self.lose("line break in a table cell");
        }
        text.replace("\\\n", " ").replace('\n', " ")
    }

    fn inlines(&mut self, nodes: &[Value], depth: usize) -> String {
        let mut out = String::new();
        for n in nodes {
            if depth > MAX_DEPTH {
                out.push_str(&self.too_deep(n));
                continue;
            }
            match kind(n) {
                "text" => {
                    let text = n.get("text").and_then(Value::as_str).unwrap_or_default();
                    out.push_str(&self.marked(text, n.get("marks")));
                }
                "hardBreak" => out.push_str("\\\n"),
                "mention" => {
                    let id = attr_str(n, "id");
                    let text = attr_str(n, "text");
                    let label = text.strip_prefix('@').unwrap_or(text);
                    out.push_str(&format!(
                        "[@{}]({MENTION_SCHEME}{})",
                        escape(label),
                        url_for_md(id)
                    ));
                }
                "emoji" => {
                    self.lose("emoji (became text)");
                    let t = attr_str(n, "text");
                    out.push_str(&escape(if t.is_empty() {
                        attr_str(n, "shortName")
                    } else {
                        t
                    }));
                }
                "inlineCard" => {
                    self.lose("inline card (became a link)");
                    out.push_str(&format!("<{}>", attr_str(n, "url")));
                }
                "date" => {
                    self.lose("date (became text)");
                    let ms = attr_str(n, "timestamp").parse::<i64>().ok();
                    let text = ms
                        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                        .map(|t| t.strftime("%Y-%m-%d").to_string())
                        .unwrap_or_default();
                    out.push_str(&text);
                }
                "status" => {
                    self.lose("status lozenge (became text)");
                    out.push_str(&escape(attr_str(n, "text")));
                }
                "mediaInline" => {
                    self.lose("inline media (became an image)");
                    out.push_str(&self.media(n));
                }
                _ => {
                    self.lose(format!("`{}` node (kept as text)", kind(n)));
                    out.push_str(&escape(&flat_text(n)));
                }
            }
        }
        out
    }

    /// Text with its marks as Markdown delimiters; whitespace at either end stays outside
    /// them (CommonMark does not see `** x**` as strong).
    fn marked(&mut self, text: &str, marks: Option<&Value>) -> String {
        let marks: Vec<&Value> = marks
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let has = |name: &str| marks.iter().any(|m| kind(m) == name);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return escape(text);
        }
        let lead = &text[..text.len() - text.trim_start().len()];
        let trail = &text[text.trim_end().len()..];
        let mut s = if has("code") {
            let ticks = "`".repeat(longest_run(trimmed, '`') + 1);
            let pad = if trimmed.starts_with('`') || trimmed.ends_with('`') {
                " "
            } else {
                ""
            };
            format!("{ticks}{pad}{trimmed}{pad}{ticks}")
        } else {
            escape(trimmed).replace('\n', "\\\n")
        };
        if has("strike") {
            s = format!("~~{s}~~");
        }
        if has("em") {
            s = format!("*{s}*");
        }
        if has("strong") {
            s = format!("**{s}**");
        }
        for m in &marks {
            match kind(m) {
                "strong" | "em" | "code" | "strike" | "link" => {}
                "underline" => self.lose("underline"),
                "textColor" | "backgroundColor" => self.lose("text colour"),
                "subsup" => self.lose("subscript and superscript"),
                other => self.lose(format!("`{other}` mark")),
            }
        }
        if let Some(link) = marks.iter().find(|m| kind(m) == "link") {
            s = format!("[{s}]({})", url_for_md(attr_str(link, "href")));
        }
        format!("{}{s}{}", escape(lead), escape(trail))
    }
}

/// Markdown punctuation that could start markup, backslash-escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '&' | '|' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A paragraph that would read as a list item, heading or rule keeps its first character
/// escaped.
fn guard_line_start(p: &str) -> String {
    let digits = p.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && matches!(p.as_bytes().get(digits), Some(b'.' | b')')) {
        return format!("{}\\{}", &p[..digits], &p[digits..]);
    }
    match p.chars().next() {
        Some('-' | '+' | '=') => format!("\\{p}"),
        _ => p.to_owned(),
    }
}

/// A URL in `(…)`: spaces and parentheses would end it early, so they are percent-encoded.
fn url_for_md(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29")
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in s.chars() {
        if ch == c {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

fn quote(body: &str) -> String {
    body.split('\n')
        .map(|l| {
            if l.is_empty() {
                ">".to_owned()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
