//! Markdown parsed into ADF with `pulldown-cmark` (CommonMark, tables, strikethrough): a
//! builder keeps a stack of open nodes, opens a paragraph where inline content arrives among
//! blocks (a tight list item, a table cell), splits a paragraph around an image, and never
//! nests deeper than [`MAX_DEPTH`]: deeper blocks are flattened into the one around them.

use std::collections::BTreeSet;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value, json};

use super::{Converted, MAX_DEPTH, MEDIA_SCHEME, MENTION_SCHEME, kind};
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
