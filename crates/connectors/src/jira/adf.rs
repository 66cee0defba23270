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

mod parse;
mod render;

use serde_json::{Value, json};

pub use parse::from_markdown;
pub use render::to_markdown;

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

pub(crate) fn kind(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or_default()
}

pub(crate) fn children(v: &Value) -> &[Value] {
    v.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(crate) fn attr<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.get("attrs").and_then(|a| a.get(name))
}

pub(crate) fn attr_str<'a>(v: &'a Value, name: &str) -> &'a str {
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

pub(crate) fn is_block(v: &Value) -> bool {
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

pub(crate) fn indent_after_first(marker: &str, body: &str) -> String {
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
    use serde_json::Map;

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

    proptest::proptest! {
        /// Any printable text, Markdown punctuation included, comes back as itself.
        #[test]
        fn any_text_survives_a_markdown_round_trip(text in "[!-~]([ -~]{0,40}[!-~])?") {
            let d = doc(json!([p(json!([t(&text)]))]));
            let md = to_markdown(&d);
            let back = from_markdown(&md.value);
            proptest::prop_assert_eq!(&back.value, &d, "through {:?}", md.value);
        }

        /// Marked text keeps its marks and its text.
        #[test]
        fn marked_text_survives_a_markdown_round_trip(
            text in "[!-~]([ -~]{0,20}[!-~])?",
            mark in proptest::sample::select(vec!["strong", "em", "strike", "code"]),
        ) {
            let d = doc(json!([p(json!([t("x "), {"type": "text", "text": text, "marks": [{"type": mark}]}, t(" y")]))]));
            let md = to_markdown(&d);
            let back = from_markdown(&md.value);
            proptest::prop_assert_eq!(&back.value, &d, "through {:?}", md.value);
        }

        /// Whatever Markdown or wiki markup comes in, conversion answers (no panic).
        #[test]
        fn any_input_converts_without_panicking(text in "\\PC{0,200}") {
            let c = from_markdown(&text);
            let _ = to_markdown(&c.value);
            let w = crate::jira::wiki::to_adf(&text);
            let _ = crate::jira::wiki::from_adf(&w.value);
        }
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
