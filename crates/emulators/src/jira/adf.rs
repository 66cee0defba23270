//! Atlassian Document Format (tracker-apis.md §2.6): the rich text of v3 (descriptions,
//! comment bodies, textarea custom fields). The emulator keeps rich text as ADF, checks what
//! v3 clients send, and converts to and from the wiki-markup strings REST v2 speaks.
//!
//! The wiki conversion covers what the emulator's own tests and the real clients send
//! (paragraphs, headings, lists, code blocks, quotes, rules, the common marks, links and
//! mentions); other nodes come out as their text. It is the emulator's, not Jira's renderer.

use serde_json::{Value, json};

/// Block and inline node types the emulator accepts (Jira's published set).
const NODES: &[&str] = &[
    "doc",
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "listItem",
    "codeBlock",
    "blockquote",
    "rule",
    "panel",
    "table",
    "tableRow",
    "tableHeader",
    "tableCell",
    "mediaSingle",
    "mediaGroup",
    "media",
    "mediaInline",
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "blockCard",
    "date",
    "status",
    "expand",
    "nestedExpand",
    "taskList",
    "taskItem",
    "decisionList",
    "decisionItem",
];

const MARKS: &[&str] = &[
    "strong",
    "em",
    "code",
    "strike",
    "underline",
    "link",
    "textColor",
    "subsup",
    "backgroundColor",
];

/// Whether `value` is an ADF document Jira would take; the reason when not.
pub fn validate(value: &Value) -> Result<(), String> {
    let obj = value.as_object().ok_or(
        "Operation value must be an Atlassian Document (see the Atlassian Document Format)",
    )?;
    if obj.get("type").and_then(Value::as_str) != Some("doc") {
        return Err(
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                .into(),
        );
    }
    if obj.get("version").and_then(Value::as_i64) != Some(1) {
        return Err("ADF documents must have \"version\": 1".into());
    }
    match obj.get("content") {
        Some(Value::Array(children)) => children.iter().try_for_each(|c| node(c, 1)),
        _ => Err("ADF document has no content array".into()),
    }
}

fn node(value: &Value, depth: usize) -> Result<(), String> {
    if depth > 64 {
        return Err("ADF document nests too deeply".into());
    }
    let obj = value.as_object().ok_or("ADF node is not an object")?;
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or("ADF node has no type")?;
    if kind == "doc" || !NODES.contains(&kind) {
        return Err(format!("ADF node type `{kind}` is not supported"));
    }
    if kind == "text" {
        match obj.get("text").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => {}
            _ => return Err("ADF text nodes need a non-empty text".into()),
        }
        if let Some(marks) = obj.get("marks") {
            let marks = marks.as_array().ok_or("ADF marks must be an array")?;
            for m in marks {
                let t = m.get("type").and_then(Value::as_str).unwrap_or_default();
                if !MARKS.contains(&t) {
                    return Err(format!("ADF mark `{t}` is not supported"));
                }
                if t == "link" && m.pointer("/attrs/href").and_then(Value::as_str).is_none() {
                    return Err("ADF link marks need attrs.href".into());
                }
            }
        }
    }
    if kind == "heading" {
        let level = value.pointer("/attrs/level").and_then(Value::as_i64);
        if !matches!(level, Some(1..=6)) {
            return Err("ADF headings need attrs.level between 1 and 6".into());
        }
    }
    if let Some(content) = obj.get("content") {
        let content = content.as_array().ok_or("ADF content must be an array")?;
        content.iter().try_for_each(|c| node(c, depth + 1))?;
    }
    Ok(())
}

/// The document's text, blocks on separate lines: what `~` in JQL searches.
pub fn plain_text(doc: &Value) -> String {
    let mut out = String::new();
    text_of(doc, &mut out);
    out.trim_end().to_owned()
}

fn text_of(v: &Value, out: &mut String) {
    match v.get("type").and_then(Value::as_str) {
        Some("text") => out.push_str(v.get("text").and_then(Value::as_str).unwrap_or_default()),
        Some("hardBreak") => out.push('\n'),
        Some("mention") => out.push_str(
            v.pointer("/attrs/text")
                .and_then(Value::as_str)
                .unwrap_or("@"),
        ),
        _ => {
            for c in children(v) {
                text_of(c, out);
            }
            if is_block(v) {
                out.push('\n');
            }
        }
    }
}

fn children(v: &Value) -> &[Value] {
    v.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn is_block(v: &Value) -> bool {
    !matches!(
        v.get("type").and_then(Value::as_str),
        Some("text" | "hardBreak" | "mention" | "emoji" | "inlineCard" | "date" | "status")
    )
}

/// A one-paragraph document per block of text separated by blank lines.
pub fn from_text(text: &str) -> Value {
    let paragraphs: Vec<Value> = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let mut inline = Vec::new();
            for (i, line) in p.split('\n').enumerate() {
                if i > 0 {
                    inline.push(json!({"type": "hardBreak"}));
                }
                if !line.is_empty() {
                    inline.push(json!({"type": "text", "text": line}));
                }
            }
            json!({"type": "paragraph", "content": inline})
        })
        .collect();
    json!({"version": 1, "type": "doc", "content": paragraphs})
}

/// Wiki markup (REST v2) for a document.
pub fn to_wiki(doc: &Value) -> String {
    let blocks: Vec<String> = children(doc).iter().map(|b| block_wiki(b, 0)).collect();
    blocks.join("\n\n")
}

fn block_wiki(b: &Value, list_depth: usize) -> String {
    let kind = b.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "paragraph" => inline_wiki(children(b)),
        "heading" => {
            let level = b
                .pointer("/attrs/level")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            format!("h{level}. {}", inline_wiki(children(b)))
        }
        "bulletList" | "orderedList" => {
            let bullet = if kind == "bulletList" { '*' } else { '#' };
            children(b)
                .iter()
                .map(|item| {
                    let prefix: String = std::iter::repeat_n(bullet, list_depth + 1).collect();
                    let parts: Vec<String> = children(item)
                        .iter()
                        .map(|c| match c.get("type").and_then(Value::as_str) {
                            Some("bulletList" | "orderedList") => block_wiki(c, list_depth + 1),
                            _ => format!("{prefix} {}", block_wiki(c, list_depth + 1)),
                        })
                        .collect();
                    parts.join("\n")
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        "codeBlock" => {
            let text: String = children(b)
                .iter()
                .filter_map(|t| t.get("text").and_then(Value::as_str))
                .collect();
            match b.pointer("/attrs/language").and_then(Value::as_str) {
                Some(lang) => format!("{{code:{lang}}}\n{text}\n{{code}}"),
                None => format!("{{code}}\n{text}\n{{code}}"),
            }
        }
        "blockquote" => {
            let inner: Vec<String> = children(b).iter().map(|c| block_wiki(c, 0)).collect();
            format!("{{quote}}\n{}\n{{quote}}", inner.join("\n\n"))
        }
        "rule" => "----".into(),
        _ if is_block(b) => children(b)
            .iter()
            .map(|c| {
                if is_block(c) {
                    block_wiki(c, list_depth)
                } else {
                    inline_wiki(std::slice::from_ref(c))
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => inline_wiki(std::slice::from_ref(b)),
    }
}

fn inline_wiki(nodes: &[Value]) -> String {
    let mut out = String::new();
    for n in nodes {
        match n.get("type").and_then(Value::as_str) {
            Some("text") => {
                let mut t = n
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let marks = n
                    .get("marks")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice);
                for m in marks {
                    t = match m.get("type").and_then(Value::as_str) {
                        Some("strong") => format!("*{t}*"),
                        Some("em") => format!("_{t}_"),
                        Some("code") => format!("{{{{{t}}}}}"),
                        Some("strike") => format!("-{t}-"),
                        Some("underline") => format!("+{t}+"),
                        Some("link") => {
                            let href = m
                                .pointer("/attrs/href")
                                .and_then(Value::as_str)
                                .unwrap_or_default();
                            if href == t {
                                format!("[{t}]")
                            } else {
                                format!("[{t}|{href}]")
                            }
                        }
                        _ => t,
                    };
                }
                out.push_str(&t);
            }
            Some("hardBreak") => out.push('\n'),
            Some("mention") => {
                let id = n
                    .pointer("/attrs/id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push_str(&format!("[~accountid:{id}]"));
            }
            Some("inlineCard") => {
                let url = n
                    .pointer("/attrs/url")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                out.push_str(&format!("[{url}|{url}|smart-link]"));
            }
            _ => text_of(n, &mut out),
        }
    }
    out
}

/// A document for wiki markup (REST v2 writes): headings, `*`/`#` lists, `{code}`, `{quote}`,
/// `----`, and paragraphs whose lines become hard breaks. Inline markup stays text.
pub fn from_wiki(wiki: &str) -> Value {
    let mut blocks = Vec::new();
    let mut lines = wiki.lines().peekable();
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, blocks: &mut Vec<Value>| {
        if !paragraph.is_empty() {
            let text = paragraph.join("\n");
            if let Some(p) = from_text(&text)
                .get("content")
                .and_then(Value::as_array)
                .and_then(|c| c.first())
            {
                blocks.push(p.clone());
            }
            paragraph.clear();
        }
    };
    while let Some(line) = lines.next() {
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            flush(&mut paragraph, &mut blocks);
        } else if let Some((level, text)) = heading(trimmed) {
            flush(&mut paragraph, &mut blocks);
            blocks.push(
                json!({"type": "heading", "attrs": {"level": level}, "content": text_nodes(text)}),
            );
        } else if trimmed == "----" {
            flush(&mut paragraph, &mut blocks);
            blocks.push(json!({"type": "rule"}));
        } else if trimmed.starts_with("{code") {
            flush(&mut paragraph, &mut blocks);
            let language = trimmed
                .strip_prefix("{code:")
                .and_then(|r| r.strip_suffix('}'));
            let mut code = Vec::new();
            for l in lines.by_ref() {
                if l.trim_end() == "{code}" {
                    break;
                }
                code.push(l);
            }
            let mut block = json!({"type": "codeBlock", "content": text_nodes(&code.join("\n"))});
            if let Some(lang) = language {
                block["attrs"] = json!({"language": lang});
            }
            blocks.push(block);
        } else if trimmed.starts_with("* ") || trimmed.starts_with("# ") {
            flush(&mut paragraph, &mut blocks);
            let bullet = &trimmed[..2];
            let mut items = vec![&trimmed[2..]];
            while let Some(next) = lines.peek() {
                match next.trim_end().strip_prefix(bullet) {
                    Some(rest) => {
                        items.push(rest);
                        lines.next();
                    }
                    None => break,
                }
            }
            let kind = if bullet == "* " {
                "bulletList"
            } else {
                "orderedList"
            };
            let items: Vec<Value> = items
                .into_iter()
                .map(|t| json!({"type": "listItem", "content": [{"type": "paragraph", "content": text_nodes(t)}]}))
                .collect();
            blocks.push(json!({"type": kind, "content": items}));
        } else {
            paragraph.push(line);
        }
    }
    flush(&mut paragraph, &mut blocks);
    json!({"version": 1, "type": "doc", "content": blocks})
}

fn heading(line: &str) -> Option<(u8, &str)> {
    let b = line.as_bytes();
    if b.len() >= 4 && b[0] == b'h' && (b'1'..=b'6').contains(&b[1]) && b[2] == b'.' && b[3] == b' '
    {
        Some((b[1] - b'0', &line[4..]))
    } else {
        None
    }
}

fn text_nodes(text: &str) -> Vec<Value> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({"type": "text", "text": text})]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(content: Value) -> Value {
        json!({"version": 1, "type": "doc", "content": content})
    }

    #[test]
    fn a_minimal_document_is_valid_and_strings_or_bad_nodes_are_not() {
        let ok =
            doc(json!([{"type": "paragraph", "content": [{"type": "text", "text": "Hello"}]}]));
        assert_eq!(validate(&ok), Ok(()));
        assert!(
            validate(&json!("plain text")).is_err(),
            "a v2 string is not ADF"
        );
        assert!(
            validate(&json!({"type": "doc", "content": []})).is_err(),
            "version is required"
        );
        assert!(validate(&doc(json!([{"type": "blink"}]))).is_err());
        assert!(
            validate(&doc(
                json!([{"type": "paragraph", "content": [{"type": "text", "text": ""}]}])
            ))
            .is_err()
        );
        assert!(validate(&doc(json!([{"type": "paragraph", "content": [{"type": "text", "text": "x", "marks": [{"type": "link"}]}]}]))).is_err());
        assert!(
            validate(&doc(
                json!([{"type": "heading", "attrs": {"level": 9}, "content": []}])
            ))
            .is_err()
        );
        let mut deep = json!({"type": "paragraph"});
        for _ in 0..100 {
            deep = json!({"type": "blockquote", "content": [deep]});
        }
        assert!(validate(&doc(json!([deep]))).is_err(), "nesting is bounded");
    }

    #[test]
    fn plain_text_puts_blocks_on_lines() {
        let d = doc(json!([
            {"type": "paragraph", "content": [{"type": "text", "text": "one"}, {"type": "hardBreak"}, {"type": "text", "text": "two"}]},
            {"type": "bulletList", "content": [{"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "item"}]}]}]}
        ]));
        assert_eq!(plain_text(&d), "one\ntwo\nitem");
    }

    #[test]
    fn wiki_round_trips_the_blocks_v2_clients_write() {
        let wiki = "h2. Steps\n\n* first\n* second\n\n{code:rust}\nfn main() {}\n{code}\n\nline one\nline two\n\n----";
        let d = from_wiki(wiki);
        assert_eq!(validate(&d), Ok(()));
        assert_eq!(to_wiki(&d), wiki);
    }

    #[test]
    fn marks_links_and_mentions_become_wiki() {
        let d = doc(json!([{"type": "paragraph", "content": [
            {"type": "text", "text": "bold", "marks": [{"type": "strong"}]},
            {"type": "text", "text": " and "},
            {"type": "text", "text": "site", "marks": [{"type": "link", "attrs": {"href": "https://example.com"}}]},
            {"type": "text", "text": " "},
            {"type": "mention", "attrs": {"id": "abc", "text": "@Ann"}}
        ]}]));
        assert_eq!(
            to_wiki(&d),
            "*bold* and [site|https://example.com] [~accountid:abc]"
        );
        assert_eq!(plain_text(&d), "bold and site @Ann");
    }

    #[test]
    fn text_becomes_paragraphs_with_hard_breaks() {
        let d = from_text("a\nb\n\nc");
        assert_eq!(validate(&d), Ok(()));
        assert_eq!(d["content"].as_array().map(Vec::len), Some(2));
        assert_eq!(to_wiki(&d), "a\nb\n\nc");
    }
}
