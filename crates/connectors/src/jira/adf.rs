//! Atlassian Document Format, Jira Cloud's rich text (tracker-apis.md §2.6), to and from
//! Markdown (parsed with `pulldown-cmark`) and plain text. ADF is also the document model the
//! wiki markup of Data Center goes through (see `wiki`).
//!
//! What survives a round trip (ADF → Markdown → ADF gives the same document): paragraphs,
//! headings, bullet and ordered lists (nested), code blocks with their language, block quotes,
//! rules, tables with a header row, hard breaks, the marks strong, em, code, strike and link,
//! mentions (written `[@Name](mention:<id>)`), and images: external ones as `![alt](url)`,
//! attachments' media as `![alt](jira-media:<id>)`. Everything else is converted to what comes
//! closest and named in [`Converted::lossy`]: underline and colours are dropped, panels become
//! quotes, emoji, dates and statuses become text, cards become links.
//!
//! ADF from Jira is untrusted: conversion never recurses deeper than [`MAX_DEPTH`] nodes;
//! anything nested deeper is kept as its text and reported lossy, so a hostile document cannot
//! overflow the stack. Markdown coming in is bounded the same way.

use std::collections::BTreeSet;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value, json};

/// The deepest node nesting converted as structure; deeper content is kept as text. Jira
/// itself refuses documents nested more than 64 deep.
pub const MAX_DEPTH: usize = 48;

/// A conversion's result and what it could not carry over (empty when nothing was lost).
#[derive(Debug, Clone, PartialEq)]
pub struct Converted<T> {
    pub value: T,
    /// What did not survive, in words ("underline", "panel", "nesting deeper than 48 levels").
    pub lossy: Vec<String>,
}

impl<T> Converted<T> {
    pub fn is_lossless(&self) -> bool {
        self.lossy.is_empty()
    }
}

/// The image URL scheme for Jira media (attachments shown inline), which has no URL of its own.
pub const MEDIA_SCHEME: &str = "jira-media:";
/// The link URL scheme for mentions: `[@Alex](mention:<accountId or name>)`.
pub const MENTION_SCHEME: &str = "mention:";

fn kind(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or_default()
}

fn children(v: &Value) -> &[Value] {
    v.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn attr<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get("attrs").and_then(|a| a.get(name))
}

fn attr_str<'a>(v: &'a Value, name: &str) -> &'a str {
    attr(v, name).and_then(Value::as_str).unwrap_or_default()
}

/// All the text under a node, without recursion (safe at any depth).
pub(crate) fn flat_text(node: &Value) -> String {
    let mut out = String::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match kind(n) {
            "text" => out.push_str(n.get("text").and_then(Value::as_str).unwrap_or_default()),
            "hardBreak" => out.push('\n'),
            "mention" | "emoji" => out.push_str(attr_str(n, "text")),
            _ => {
                if !out.is_empty() && !out.ends_with(['\n', ' ']) && is_block(n) {
                    out.push(' ');
                }
            }
        }
        stack.extend(children(n).iter().rev());
    }
    out
}

fn is_block(v: &Value) -> bool {
    !matches!(
        kind(v),
        "text"
            | "hardBreak"
            | "mention"
            | "emoji"
            | "inlineCard"
            | "date"
            | "status"
            | "mediaInline"
    )
}

// ---------------------------------------------------------------------------------------------
// ADF → Markdown

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

fn indent_after_first(marker: &str, body: &str) -> String {
    let pad = " ".repeat(marker.len());
    let mut out = String::from(marker);
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    out
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

// ---------------------------------------------------------------------------------------------
// Markdown → ADF

/// Parses Markdown (CommonMark with tables and strikethrough) into an ADF document.
pub fn from_markdown(markdown: &str) -> Converted<Value> {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut b = Builder::new();
    for event in Parser::new_ext(markdown, options) {
        b.event(event);
    }
    b.finish()
}

struct Open {
    kind: &'static str,
    attrs: Option<Value>,
    content: Vec<Value>,
    /// Opened by the builder to hold inline content (a tight list item's text).
    implicit: bool,
}

/// What a `Start` event opened, so its `End` closes the same thing.
enum Opened {
    Block,
    Mark,
    Mention,
    Image,
    /// A block too deep to keep as structure; its content goes to the one around it.
    Flattened,
    Nothing,
}

struct Builder {
    stack: Vec<Open>,
    opened: Vec<Opened>,
    marks: Vec<Value>,
    mention: Option<(String, String)>,
    image: Option<(String, String)>,
    code: Option<String>,
    in_head: bool,
    lossy: BTreeSet<String>,
}

impl Builder {
    fn new() -> Self {
        Self {
            stack: vec![Open {
                kind: "doc",
                attrs: None,
                content: Vec::new(),
                implicit: false,
            }],
            opened: Vec::new(),
            marks: Vec::new(),
            mention: None,
            image: None,
            code: None,
            in_head: false,
            lossy: BTreeSet::new(),
        }
    }

    fn top_kind(&self) -> &'static str {
        self.stack.last().map_or("doc", |o| o.kind)
    }

    /// Opens a block; false when it is too deep and its content is flattened instead.
    fn push_block(&mut self, kind: &'static str, attrs: Option<Value>) -> bool {
        self.close_implicit();
        // Room is kept for an implicit paragraph and its text below the deepest block.
        if self.stack.len() + 2 > MAX_DEPTH {
            self.lossy.insert(format!(
                "nesting deeper than {MAX_DEPTH} levels (kept as text)"
            ));
            return false;
        }
        self.stack.push(Open {
            kind,
            attrs,
            content: Vec::new(),
            implicit: false,
        });
        true
    }

    fn close_implicit(&mut self) {
        if self.stack.last().is_some_and(|o| o.implicit) {
            self.close_block();
        }
    }

    fn close_block(&mut self) {
        if self.stack.len() <= 1 {
            return;
        }
        let Some(open) = self.stack.pop() else {
            return;
        };
        if matches!(open.kind, "paragraph") && open.content.is_empty() {
            return;
        }
        let mut node = Map::new();
        node.insert("type".into(), json!(open.kind));
        if let Some(a) = open.attrs {
            node.insert("attrs".into(), a);
        }
        if open.kind != "rule" {
            node.insert("content".into(), Value::Array(open.content));
        }
        if let Some(parent) = self.stack.last_mut() {
            parent.content.push(Value::Object(node));
        }
    }

    /// Adds an inline node, opening a paragraph first where blocks are expected.
    fn inline(&mut self, node: Value) {
        if !matches!(self.top_kind(), "paragraph" | "heading") {
            self.stack.push(Open {
                kind: "paragraph",
                attrs: None,
                content: Vec::new(),
                implicit: true,
            });
        }
        if let Some(top) = self.stack.last_mut() {
            // Markdown hands text over in pieces (at escapes, entities): one text node per
            // run of equally marked text, as Jira writes it.
            if let (Some(last), Some(more)) = (
                top.content.last_mut(),
                node.get("text").and_then(Value::as_str),
            ) && kind(last) == "text"
                && kind(&node) == "text"
                && last.get("marks") == node.get("marks")
                && let Some(Value::String(text)) = last.get_mut("text")
            {
                text.push_str(more);
                return;
            }
            top.content.push(node);
        }
    }

    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(code) = &mut self.code {
            code.push_str(text);
            return;
        }
        if let Some((_, label)) = &mut self.mention {
            label.push_str(text);
            return;
        }
        if let Some((_, alt)) = &mut self.image {
            alt.push_str(text);
            return;
        }
        let mut node = json!({"type": "text", "text": text});
        if !self.marks.is_empty() {
            node["marks"] = Value::Array(self.marks.clone());
        }
        self.inline(node);
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => {
                let opened = self.start(tag);
                self.opened.push(opened);
            }
            Event::End(end) => {
                let opened = self.opened.pop().unwrap_or(Opened::Nothing);
                self.end(end, opened);
            }
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                let mut marks = self.marks.clone();
                marks.retain(|m| kind(m) == "link");
                marks.push(json!({"type": "code"}));
                if !t.is_empty() {
                    self.inline(json!({"type": "text", "text": t.as_ref(), "marks": marks}));
                }
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                self.lossy.insert("HTML (kept as text)".into());
                let t = t.trim_end_matches('\n').to_owned();
                self.text(&t);
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(code) = &mut self.code {
                    code.push('\n');
                } else if self.mention.is_some() || self.image.is_some() {
                    self.text(" ");
                } else {
                    self.inline(json!({"type": "hardBreak"}));
                }
            }
            Event::Rule => {
                if self.push_block("rule", None) {
                    self.close_block();
                }
            }
            Event::TaskListMarker(_) => {
                self.lossy.insert("task list marker".into());
            }
            Event::FootnoteReference(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                self.lossy
                    .insert("footnotes and maths (kept as text)".into());
                self.text(&t);
            }
        }
    }

    fn start(&mut self, tag: Tag<'_>) -> Opened {
        let block = |b: &mut Self, kind: &'static str, attrs: Option<Value>| {
            if b.push_block(kind, attrs) {
                Opened::Block
            } else {
                Opened::Flattened
            }
        };
        match tag {
            Tag::Paragraph => block(self, "paragraph", None),
            Tag::Heading { level, .. } => {
                block(self, "heading", Some(json!({"level": level as u8})))
            }
            Tag::BlockQuote(_) => block(self, "blockquote", None),
            Tag::CodeBlock(kind) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => info
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                    CodeBlockKind::Indented => String::new(),
                };
                let attrs = (!language.is_empty()).then(|| json!({"language": language}));
                let opened = block(self, "codeBlock", attrs);
                self.code = Some(String::new());
                opened
            }
            Tag::List(start) => match start {
                None => block(self, "bulletList", None),
                Some(1) => block(self, "orderedList", None),
                Some(n) => block(self, "orderedList", Some(json!({"order": n}))),
            },
            Tag::Item => block(self, "listItem", None),
            Tag::Table(_) => block(self, "table", None),
            Tag::TableHead => {
                self.in_head = true;
                block(self, "tableRow", None)
            }
            Tag::TableRow => block(self, "tableRow", None),
            Tag::TableCell => {
                let kind = if self.in_head {
                    "tableHeader"
                } else {
                    "tableCell"
                };
                block(self, kind, None)
            }
            Tag::Emphasis => self.mark(json!({"type": "em"})),
            Tag::Strong => self.mark(json!({"type": "strong"})),
            Tag::Strikethrough => self.mark(json!({"type": "strike"})),
            Tag::Link { dest_url, .. } => {
                if let Some(id) = dest_url.strip_prefix(MENTION_SCHEME) {
                    self.mention = Some((id.to_owned(), String::new()));
                    Opened::Mention
                } else {
                    self.mark(json!({"type": "link", "attrs": {"href": dest_url.as_ref()}}))
                }
            }
            Tag::Image { dest_url, .. } => {
                self.image = Some((dest_url.to_string(), String::new()));
                Opened::Image
            }
            Tag::HtmlBlock => Opened::Nothing,
            _ => {
                self.lossy
                    .insert("Markdown extension (kept as text)".into());
                Opened::Nothing
            }
        }
    }

    fn mark(&mut self, mark: Value) -> Opened {
        self.marks.push(mark);
        Opened::Mark
    }

    fn end(&mut self, end: TagEnd, opened: Opened) {
        match opened {
            Opened::Block => {
                if matches!(end, TagEnd::CodeBlock) {
                    let mut code = self.code.take().unwrap_or_default();
                    if code.ends_with('\n') {
                        code.pop();
                    }
                    if !code.is_empty()
                        && let Some(top) = self.stack.last_mut()
                    {
                        top.content.push(json!({"type": "text", "text": code}));
                    }
                }
                if matches!(end, TagEnd::TableHead) {
                    self.in_head = false;
                }
                self.close_implicit();
                self.close_block();
            }
            Opened::Flattened => {
                if matches!(end, TagEnd::CodeBlock) {
                    let code = self.code.take().unwrap_or_default();
                    self.text(&code);
                }
                if matches!(end, TagEnd::TableHead) {
                    self.in_head = false;
                }
            }
            Opened::Mark => {
                self.marks.pop();
            }
            Opened::Mention => {
                if let Some((id, label)) = self.mention.take() {
                    let label = label.trim_start_matches('@');
                    self.inline(json!({"type": "mention", "attrs": {"id": id, "text": format!("@{label}")}}));
                }
            }
            Opened::Image => {
                if let Some((url, alt)) = self.image.take() {
                    self.image_node(&url, &alt);
                }
            }
            Opened::Nothing => {}
        }
    }

    /// An image: a `mediaSingle` block, splitting the paragraph it appeared in.
    fn image_node(&mut self, url: &str, alt: &str) {
        let mut attrs = match url.strip_prefix(MEDIA_SCHEME) {
            Some(id) => json!({"type": "file", "id": id, "collection": ""}),
            None => json!({"type": "external", "url": url}),
        };
        if !alt.is_empty() {
            attrs["alt"] = json!(alt);
        }
        let media = json!({"type": "mediaSingle", "content": [{"type": "media", "attrs": attrs}]});
        if self.top_kind() == "heading" || !self.marks.is_empty() {
            self.lossy
                .insert("image inside a heading or a link (kept as its text)".into());
            self.text(alt);
            return;
        }
        let continued = if self.top_kind() == "paragraph" {
            let implicit = self.stack.last().is_some_and(|o| o.implicit);
            self.close_block();
            Some(implicit)
        } else {
            None
        };
        if let Some(parent) = self.stack.last_mut() {
            parent.content.push(media);
        }
        if let Some(implicit) = continued {
            self.stack.push(Open {
                kind: "paragraph",
                attrs: None,
                content: Vec::new(),
                implicit,
            });
        }
    }

    fn finish(mut self) -> Converted<Value> {
        while self.stack.len() > 1 {
            self.close_block();
        }
        let content = self.stack.pop().map(|o| o.content).unwrap_or_default();
        Converted {
            value: json!({"version": 1, "type": "doc", "content": content}),
            lossy: self.lossy.into_iter().collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Plain text

/// The document's text: blocks on their own lines, list items marked `- `, hard breaks as
/// line breaks, mentions as `@Name`. Formatting is dropped, as plain text cannot hold it.
pub fn to_plain_text(doc: &Value) -> String {
    let mut out = Vec::new();
    plain_blocks(children(doc), 1, &mut out);
    out.join("\n")
}

fn plain_blocks(nodes: &[Value], depth: usize, out: &mut Vec<String>) {
    for n in nodes {
        if depth > MAX_DEPTH {
            out.push(flat_text(n));
            continue;
        }
        match kind(n) {
            "bulletList" | "orderedList" | "taskList" | "decisionList" => {
                for (i, item) in children(n).iter().enumerate() {
                    let mut lines = Vec::new();
                    plain_blocks(children(item), depth + 2, &mut lines);
                    let marker = if kind(n) == "orderedList" {
                        format!("{}. ", i + 1)
                    } else {
                        "- ".into()
                    };
                    out.push(indent_after_first(&marker, &lines.join("\n")));
                }
            }
            "table" | "tableRow" | "blockquote" | "panel" | "expand" | "nestedExpand"
            | "mediaSingle" | "mediaGroup" => plain_blocks(children(n), depth + 1, out),
            "tableCell" | "tableHeader" | "listItem" => plain_blocks(children(n), depth + 1, out),
            "rule" => out.push("----".into()),
            "media" => {
                let alt = attr_str(n, "alt");
                if !alt.is_empty() {
                    out.push(alt.to_owned());
                }
            }
            _ if !is_block(n) => out.push(flat_text(n)),
            _ => out.push(flat_text(n)),
        }
    }
}

/// Plain text as a document: paragraphs at blank lines, other line breaks as hard breaks.
pub fn from_plain_text(text: &str) -> Value {
    let text = text.replace("\r\n", "\n");
    let paragraphs: Vec<Value> = text
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let mut content = Vec::new();
            for (i, line) in p.split('\n').enumerate() {
                if i > 0 {
                    content.push(json!({"type": "hardBreak"}));
                }
                if !line.is_empty() {
                    content.push(json!({"type": "text", "text": line}));
                }
            }
            json!({"type": "paragraph", "content": content})
        })
        .collect();
    json!({"version": 1, "type": "doc", "content": paragraphs})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(content: Value) -> Value {
        json!({"version": 1, "type": "doc", "content": content})
    }

    fn p(content: Value) -> Value {
        json!({"type": "paragraph", "content": content})
    }

    fn t(text: &str) -> Value {
        json!({"type": "text", "text": text})
    }

    /// ADF → Markdown → ADF gives the same document, and nothing is reported lost.
    fn round_trips(d: Value) {
        let md = to_markdown(&d);
        assert!(md.is_lossless(), "{:?}\n{}", md.lossy, md.value);
        let back = from_markdown(&md.value);
        assert!(back.is_lossless(), "{:?}", back.lossy);
        assert_eq!(back.value, d, "through Markdown:\n{}", md.value);
    }

    #[test]
    fn paragraphs_headings_marks_and_links_round_trip() {
        round_trips(doc(json!([
            {"type": "heading", "attrs": {"level": 2}, "content": [t("Steps")]},
            p(json!([
                t("Plain "),
                {"type": "text", "text": "bold", "marks": [{"type": "strong"}]},
                t(", "),
                {"type": "text", "text": "italic", "marks": [{"type": "em"}]},
                t(", "),
                {"type": "text", "text": "x = 1", "marks": [{"type": "code"}]},
                t(", "),
                {"type": "text", "text": "gone", "marks": [{"type": "strike"}]},
                t(" and "),
                {"type": "text", "text": "a link", "marks": [{"type": "link", "attrs": {"href": "https://example.com/a?b=1"}}]},
                t(" with *stars*, _under_ [brackets] #hash 1. <tag> & | pipes!"),
            ])),
            p(json!([t("line one"), {"type": "hardBreak"}, t("line two")])),
            p(json!([t("- not a list")])),
            p(json!([t("3. not a list either")])),
        ])));
    }

    #[test]
    fn mentions_lists_code_quotes_rules_tables_and_images_round_trip() {
        round_trips(doc(json!([
            p(json!([t("Hi "), {"type": "mention", "attrs": {"id": "5b10ac8d82e05b22cc7d4ef5", "text": "@Alex Agent"}}, t("!")])),
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [p(json!([t("first")])),
                    {"type": "orderedList", "attrs": {"order": 3}, "content": [
                        {"type": "listItem", "content": [p(json!([t("nested three")]))]},
                        {"type": "listItem", "content": [p(json!([t("nested four")]))]},
                    ]}]},
                {"type": "listItem", "content": [p(json!([t("second")]))]},
            ]},
            {"type": "codeBlock", "attrs": {"language": "rust"}, "content": [t("fn main() {\n    println!(\"```\");\n}")]},
            {"type": "blockquote", "content": [p(json!([t("quoted")])), p(json!([t("twice")]))]},
            {"type": "rule"},
            {"type": "table", "content": [
                {"type": "tableRow", "content": [
                    {"type": "tableHeader", "content": [p(json!([t("Key")]))]},
                    {"type": "tableHeader", "content": [p(json!([t("Value")]))]},
                ]},
                {"type": "tableRow", "content": [
                    {"type": "tableCell", "content": [p(json!([t("a|b")]))]},
                    {"type": "tableCell", "content": [p(json!([{"type": "text", "text": "1", "marks": [{"type": "strong"}]}]))]},
                ]},
            ]},
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"type": "external", "url": "https://example.com/a.png", "alt": "diagram"}}]},
            {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"type": "file", "id": "6e7c7f2c-5b6e-4d3b-8a53-2c0b1d1b2f6a", "collection": ""}}]},
        ])));
    }

    #[test]
    fn markdown_comes_in_as_adf() {
        let c = from_markdown(
            "# Title\n\nSome **bold** and `code`.\n\n* a\n* b\n\n```sh\nls\n```\n\nSee ![shot](https://x.example/s.png) here",
        );
        assert!(c.is_lossless(), "{:?}", c.lossy);
        let content = c.value["content"].as_array().expect("content");
        assert_eq!(content[0]["type"], "heading");
        assert_eq!(content[2]["type"], "bulletList");
        assert_eq!(content[2]["content"][0]["content"][0]["type"], "paragraph");
        assert_eq!(content[3]["attrs"]["language"], "sh");
        // The image splits its paragraph.
        assert_eq!(content[4], p(json!([t("See ")])));
        assert_eq!(content[5]["type"], "mediaSingle");
        assert_eq!(content[6], p(json!([t(" here")])));
    }

    #[test]
    fn what_markdown_cannot_hold_is_reported_lossy() {
        let d = doc(json!([
            p(json!([{"type": "text", "text": "u", "marks": [{"type": "underline"}]},
                     {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}}])),
            {"type": "panel", "attrs": {"panelType": "info"}, "content": [p(json!([t("note")]))]},
            {"type": "status", "attrs": {"text": "DONE"}},
        ]));
        let md = to_markdown(&d);
        assert!(
            md.value.contains("note") && md.value.contains("😄"),
            "{}",
            md.value
        );
        for lost in ["underline", "panel", "emoji"] {
            assert!(
                md.lossy.iter().any(|l| l.contains(lost)),
                "{lost}: {:?}",
                md.lossy
            );
        }
        let c = from_markdown("<b>html</b> text");
        assert!(c.lossy.iter().any(|l| l.contains("HTML")), "{:?}", c.lossy);
    }

    #[test]
    fn a_deeply_nested_document_neither_overflows_nor_passes_silently() {
        // 5,000 quotes inside each other: built and converted without recursion trouble.
        let mut node = p(json!([t("deep")]));
        // Built by moving, not with `json!` (which would serialise the value recursively).
        let wrap = |kind: &str, inner: Value| {
            let mut m = Map::new();
            m.insert("type".into(), json!(kind));
            m.insert("content".into(), Value::Array(vec![inner]));
            Value::Object(m)
        };
        for _ in 0..5000 {
            node = wrap("blockquote", node);
        }
        let mut d = wrap("doc", node);
        d["version"] = json!(1);
        let md = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                let md = to_markdown(&d);
                let plain = to_plain_text(&d);
                // Dropping a 5,000-deep value recurses in serde_json; keep it out of the small stack.
                std::mem::forget(d);
                (md, plain)
            })
            .expect("thread")
            .join()
            .expect("no stack overflow");
        assert!(md.0.value.contains("deep"));
        assert!(
            md.0.lossy.iter().any(|l| l.contains("nesting")),
            "{:?}",
            md.0.lossy
        );
        assert!(md.1.contains("deep"));
    }

    #[test]
    fn deeply_nested_markdown_is_bounded() {
        let md = format!("{}deep", "> ".repeat(10_000));
        let c = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || from_markdown(&md))
            .expect("thread")
            .join()
            .expect("no stack overflow");
        let mut depth = 0;
        let mut node = &c.value;
        while let Some(first) = node.get("content").and_then(|c| c.get(0)) {
            depth += 1;
            node = first;
        }
        assert!(depth <= MAX_DEPTH, "{depth}");
        assert!(flat_text(&c.value).contains("deep"));
        assert!(!c.is_lossless());
    }

    #[test]
    fn plain_text_both_ways() {
        let d = from_plain_text("one\ntwo\n\nthree");
        assert_eq!(
            d,
            doc(json!([
                p(json!([t("one"), {"type": "hardBreak"}, t("two")])),
                p(json!([t("three")]))
            ]))
        );
        assert_eq!(to_plain_text(&d), "one\ntwo\nthree");
        let list = doc(
            json!([{"type": "bulletList", "content": [{"type": "listItem", "content": [p(json!([t("a")]))]}]}]),
        );
        assert_eq!(to_plain_text(&list), "- a");
        assert_eq!(from_plain_text("  \n\n"), doc(json!([])));
    }
}
