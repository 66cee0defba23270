//! Wiki markup read into ADF, line by line for blocks (headings, lists built from their marker
//! prefixes, code and quote macros, tables) and character by character for inline markup
//! (marks, links, mentions, images, escapes). Lists, quotes and marks nest only so deep.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{MAX_LIST_DEPTH, MAX_MARK_DEPTH, MAX_QUOTE_DEPTH, MEDIA_SCHEME, kind};
use crate::jira::adf::Converted;
/// Wiki markup as an ADF document.
pub fn to_adf(wiki: &str) -> Converted<Value> {
    let mut lossy = BTreeSet::new();
    let text = wiki.replace("\r\n", "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let content = parse_blocks(&lines, 0, &mut lossy);
    Converted {
        value: json!({"version": 1, "type": "doc", "content": content}),
        lossy: lossy.into_iter().collect(),
    }
}

fn heading(line: &str) -> Option<(u8, &str)> {
    let b = line.as_bytes();
    if b.len() >= 4 && b[0] == b'h' && (b'1'..=b'6').contains(&b[1]) && b[2] == b'.' && b[3] == b' '
    {
        Some((b[1] - b'0', line[4..].trim()))
    } else {
        None
    }
}

/// The list markers of a list line (`**# text` → `"**#"`), if it is one.
fn list_markers(line: &str) -> Option<(&str, &str)> {
    let n = line
        .bytes()
        .take_while(|b| matches!(b, b'*' | b'#' | b'-'))
        .count();
    if n == 0 || !line[n..].starts_with(' ') {
        return None;
    }
    let markers = &line[..n];
    // `-` makes a list only alone (`- item`); `--` or `*-` is text.
    if markers.contains('-') && markers != "-" {
        return None;
    }
    Some((markers, line[n..].trim()))
}

fn is_block_start(line: &str) -> bool {
    let t = line.trim_start();
    heading(t).is_some()
        || t.starts_with("{code")
        || t.starts_with("{noformat")
        || t.starts_with("{quote}")
        || t.starts_with("bq. ")
        || t.trim() == "----"
        || t.starts_with('|')
        || list_markers(t).is_some()
}

fn parse_blocks(lines: &[&str], quote_depth: usize, lossy: &mut BTreeSet<String>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        if let Some((level, text)) = heading(line) {
            out.push(json!({"type": "heading", "attrs": {"level": level}, "content": inline(text, lossy)}));
            i += 1;
        } else if line.starts_with("{code") || line.starts_with("{noformat") {
            let noformat = line.starts_with("{noformat");
            let close = if noformat { "{noformat}" } else { "{code}" };
            let open_end = line.find('}').unwrap_or(line.len().saturating_sub(1));
            let params = line
                .get(if noformat { 9 } else { 5 }..open_end)
                .unwrap_or_default()
                .trim_start_matches(':');
            let language = params
                .split('|')
                .find(|p| !p.contains('='))
                .unwrap_or_default()
                .trim()
                .to_owned();
            let mut code = Vec::new();
            let first = line.get(open_end + 1..).unwrap_or_default();
            let mut closed = false;
            if let Some(end) = first.find(close) {
                code.push(&first[..end]);
                closed = true;
            } else if !first.is_empty() {
                code.push(first);
            }
            i += 1;
            while !closed && i < lines.len() {
                if let Some(end) = lines[i].find(close) {
                    if end > 0 {
                        code.push(&lines[i][..end]);
                    }
                    closed = true;
                } else {
                    code.push(lines[i]);
                }
                i += 1;
            }
            let code = code.join("\n");
            let mut node = json!({"type": "codeBlock", "content": []});
            if !language.is_empty() && !noformat {
                node["attrs"] = json!({"language": language});
            }
            if !code.is_empty() {
                node["content"] = json!([{"type": "text", "text": code}]);
            }
            out.push(node);
        } else if let Some(rest) = line.strip_prefix("{quote}") {
            let mut inner: Vec<&str> = Vec::new();
            let mut closed = false;
            if let Some(end) = rest.find("{quote}") {
                inner.push(&rest[..end]);
                closed = true;
            } else if !rest.is_empty() {
                inner.push(rest);
            }
            i += 1;
            while !closed && i < lines.len() {
                if let Some(end) = lines[i].find("{quote}") {
                    inner.push(&lines[i][..end]);
                    closed = true;
                } else {
                    inner.push(lines[i]);
                }
                i += 1;
            }
            if quote_depth >= MAX_QUOTE_DEPTH {
                lossy.insert("quotes nested too deeply (kept as text)".into());
                out.push(json!({"type": "paragraph", "content": inline(&inner.join(" "), lossy)}));
            } else {
                let content = parse_blocks(&inner, quote_depth + 1, lossy);
                out.push(json!({"type": "blockquote", "content": content}));
            }
        } else if let Some(text) = line.strip_prefix("bq. ") {
            out.push(json!({"type": "blockquote", "content": [{"type": "paragraph", "content": inline(text, lossy)}]}));
            i += 1;
        } else if line.trim() == "----" {
            out.push(json!({"type": "rule"}));
            i += 1;
        } else if line.starts_with('|') {
            let mut rows = Vec::new();
            while i < lines.len() && lines[i].trim_start().starts_with('|') {
                rows.push(table_row(lines[i].trim(), lossy));
                i += 1;
            }
            out.push(json!({"type": "table", "content": rows}));
        } else if list_markers(line).is_some() {
            let start = i;
            while i < lines.len() && list_markers(lines[i].trim_start()).is_some() {
                i += 1;
            }
            out.extend(build_lists(&lines[start..i], lossy));
        } else {
            let start = i;
            i += 1;
            while i < lines.len() && !lines[i].trim().is_empty() && !is_block_start(lines[i]) {
                i += 1;
            }
            let mut content = Vec::new();
            for (n, l) in lines[start..i].iter().enumerate() {
                if n > 0 {
                    content.push(json!({"type": "hardBreak"}));
                }
                content.extend(inline(l.trim_end(), lossy));
            }
            out.extend(paragraph_or_image(content));
        }
    }
    out
}

/// A paragraph that is only an image becomes a `mediaSingle`.
fn paragraph_or_image(content: Vec<Value>) -> Option<Value> {
    if content.is_empty() {
        return None;
    }
    if let [one] = content.as_slice()
        && kind(one) == "mediaSingle"
    {
        return Some(one.clone());
    }
    Some(json!({"type": "paragraph", "content": content}))
}

fn table_row(line: &str, lossy: &mut BTreeSet<String>) -> Value {
    let mut cells = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '|' {
            i += 1;
            continue;
        }
        let header = chars.get(i + 1) == Some(&'|');
        i += if header { 2 } else { 1 };
        let start = i;
        let mut depth = 0i32;
        while i < chars.len() {
            match chars[i] {
                '\\' => i += 1,
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                '|' if depth <= 0 => break,
                _ => {}
            }
            i += 1;
        }
        let text: String = chars[start..i.min(chars.len())].iter().collect();
        if i >= chars.len() && text.trim().is_empty() {
            break;
        }
        let content: Vec<Value> = {
            let mut parts = Vec::new();
            for (n, piece) in text.split("\\\\").enumerate() {
                if n > 0 {
                    parts.push(json!({"type": "hardBreak"}));
                }
                parts.extend(inline(piece.trim(), lossy));
            }
            parts
        };
        let kind = if header { "tableHeader" } else { "tableCell" };
        let para = if content.is_empty() {
            json!({"type": "paragraph", "content": []})
        } else {
            json!({"type": "paragraph", "content": content})
        };
        cells.push(json!({"type": kind, "content": [para]}));
    }
    json!({"type": "tableRow", "content": cells})
}

struct OpenList {
    marker: char,
    items: Vec<Vec<Value>>,
}

fn close_list(l: OpenList) -> Value {
    let kind = if l.marker == '#' {
        "orderedList"
    } else {
        "bulletList"
    };
    let items: Vec<Value> = l
        .items
        .into_iter()
        .map(|content| json!({"type": "listItem", "content": content}))
        .collect();
    json!({"type": kind, "content": items})
}

fn build_lists(lines: &[&str], lossy: &mut BTreeSet<String>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut stack: Vec<OpenList> = Vec::new();
    let pop = |stack: &mut Vec<OpenList>, out: &mut Vec<Value>| {
        if let Some(l) = stack.pop() {
            let node = close_list(l);
            match stack.last_mut() {
                Some(parent) => match parent.items.last_mut() {
                    Some(item) => item.push(node),
                    None => parent.items.push(vec![node]),
                },
                None => out.push(node),
            }
        }
    };
    for line in lines {
        let Some((markers, text)) = list_markers(line.trim_start()) else {
            continue;
        };
        let mut markers: Vec<char> = markers
            .chars()
            .map(|c| if c == '-' { '*' } else { c })
            .collect();
        if markers.len() > MAX_LIST_DEPTH {
            lossy.insert(format!("lists nested deeper than {MAX_LIST_DEPTH} levels"));
            markers.truncate(MAX_LIST_DEPTH);
        }
        let level = markers.len();
        while stack.len() > level {
            pop(&mut stack, &mut out);
        }
        // A list of the other kind at the same level ends the one open there.
        while let Some(top) = stack.last()
            && stack.len() == level
            && top.marker != markers[level - 1]
        {
            pop(&mut stack, &mut out);
        }
        while stack.len() < level {
            let marker = markers[stack.len()];
            stack.push(OpenList {
                marker,
                items: Vec::new(),
            });
        }
        let content = inline(text, lossy);
        let item = if content.is_empty() {
            vec![json!({"type": "paragraph", "content": []})]
        } else {
            vec![json!({"type": "paragraph", "content": content})]
        };
        if let Some(top) = stack.last_mut() {
            top.items.push(item);
        }
    }
    while !stack.is_empty() {
        pop(&mut stack, &mut out);
    }
    out
}

/// Inline wiki markup as ADF inline nodes (and a `mediaSingle` for an image on its own).
fn inline(text: &str, lossy: &mut BTreeSet<String>) -> Vec<Value> {
    let mut out = Vec::new();
    inline_into(text, &[], 0, lossy, &mut out);
    out
}

fn push_text(out: &mut Vec<Value>, text: &str, marks: &[Value]) {
    if text.is_empty() {
        return;
    }
    if let Some(last) = out.last_mut()
        && kind(last) == "text"
        && last.get("marks").map_or(marks.is_empty(), |m| {
            m.as_array().is_some_and(|m| m == marks)
        })
        && let Some(Value::String(t)) = last.get_mut("text")
    {
        t.push_str(text);
        return;
    }
    let mut node = json!({"type": "text", "text": text});
    if !marks.is_empty() {
        node["marks"] = Value::Array(marks.to_vec());
    }
    out.push(node);
}

/// The index of the closing `delim` for an opening at `start` (a mark closes before a
/// non-alphanumeric character and after a non-space), on the same text.
fn closing(chars: &[char], start: usize, delim: char) -> Option<usize> {
    let first = *chars.get(start + 1)?;
    if first.is_whitespace() || first == delim {
        return None;
    }
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' {
            i += 2;
            continue;
        }
        if chars[i] == delim
            && !chars[i - 1].is_whitespace()
            && !chars.get(i + 1).is_some_and(|c| c.is_alphanumeric())
        {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn inline_into(
    text: &str,
    marks: &[Value],
    depth: usize,
    lossy: &mut BTreeSet<String>,
    out: &mut Vec<Value>,
) {
    let chars: Vec<char> = text.chars().collect();
    let mut plain = String::new();
    let mut i = 0;
    let flush = |plain: &mut String, out: &mut Vec<Value>| {
        push_text(out, plain, marks);
        plain.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        let prev_alnum = i > 0 && chars[i - 1].is_alphanumeric();
        let rest: String = chars[i..].iter().take(6).collect();
        if c == '&' && rest.starts_with("&#92;") {
            plain.push('\\');
            i += 5;
            continue;
        }
        if c == '\\' {
            match chars.get(i + 1) {
                Some('\\') => {
                    flush(&mut plain, out);
                    out.push(json!({"type": "hardBreak"}));
                    i += 2;
                }
                Some(&n) => {
                    plain.push(n);
                    i += 2;
                }
                None => {
                    plain.push('\\');
                    i += 1;
                }
            }
            continue;
        }
        if c == '{' && chars.get(i + 1) == Some(&'{') {
            let body: String = chars[i + 2..].iter().collect();
            if let Some(end) = body.find("}}") {
                flush(&mut plain, out);
                let code = body[..end].replace("\\}", "}");
                let mut m: Vec<Value> = marks
                    .iter()
                    .filter(|m| kind(m) == "link")
                    .cloned()
                    .collect();
                m.push(json!({"type": "code"}));
                push_text(out, &code, &m);
                i += 2 + body[..end].chars().count() + 2;
                continue;
            }
        }
        if c == '{' && rest.starts_with("{color") {
            let body: String = chars[i..].iter().collect();
            if let Some(open_end) = body.find('}')
                && let Some(close) = body[open_end + 1..].find("{color}")
            {
                flush(&mut plain, out);
                lossy.insert("text colour".into());
                let inner = &body[open_end + 1..open_end + 1 + close];
                inline_into(inner, marks, depth + 1, lossy, out);
                i += body[..open_end + 1 + close + 7].chars().count();
                continue;
            }
        }
        if c == '[' {
            let body: String = chars[i + 1..].iter().collect();
            if let Some(end) = body.find(']') {
                let inner = &body[..end];
                flush(&mut plain, out);
                if let Some(user) = inner.strip_prefix('~') {
                    let id = user.strip_prefix("accountid:").unwrap_or(user);
                    out.push(
                        json!({"type": "mention", "attrs": {"id": id, "text": format!("@{id}")}}),
                    );
                } else {
                    let (label, href) = match inner.split_once('|') {
                        Some((label, rest)) => (label, rest.split('|').next().unwrap_or(rest)),
                        None => (inner, inner),
                    };
                    let mut m = marks.to_vec();
                    m.push(json!({"type": "link", "attrs": {"href": href.trim()}}));
                    if depth < MAX_MARK_DEPTH {
                        inline_into(label, &m, depth + 1, lossy, out);
                    } else {
                        push_text(out, label, &m);
                    }
                }
                i += 1 + inner.chars().count() + 1;
                continue;
            }
        }
        if c == '!' && !prev_alnum {
            let body: String = chars[i + 1..].iter().collect();
            if let Some(end) = body.find('!')
                && end > 0
                && !body[..end].contains(char::is_whitespace)
            {
                let target = body[..end].split('|').next().unwrap_or_default();
                flush(&mut plain, out);
                let attrs = match target.strip_prefix(MEDIA_SCHEME) {
                    Some(id) => json!({"type": "file", "id": id, "collection": ""}),
                    None => json!({"type": "external", "url": target.replace("%21", "!")}),
                };
                out.push(
                    json!({"type": "mediaSingle", "content": [{"type": "media", "attrs": attrs}]}),
                );
                i += 1 + body[..end].chars().count() + 1;
                continue;
            }
        }
        let mark = match c {
            '*' => Some(json!({"type": "strong"})),
            '_' => Some(json!({"type": "em"})),
            '-' => Some(json!({"type": "strike"})),
            '+' => Some(json!({"type": "underline"})),
            '^' => Some(json!({"type": "subsup", "attrs": {"type": "sup"}})),
            '~' => Some(json!({"type": "subsup", "attrs": {"type": "sub"}})),
            _ => None,
        };
        if let Some(mark) = mark
            && !prev_alnum
            && depth < MAX_MARK_DEPTH
            && let Some(end) = closing(&chars, i, c)
        {
            flush(&mut plain, out);
            let inner: String = chars[i + 1..end].iter().collect();
            let mut m = marks.to_vec();
            m.push(mark);
            inline_into(&inner, &m, depth + 1, lossy, out);
            i = end + 1;
            continue;
        }
        plain.push(c);
        i += 1;
    }
    flush(&mut plain, out);
}
