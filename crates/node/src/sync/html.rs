//! The rich-text conversions `nodeHelper` offers (`stripHtml`, `toMarkDownFromHtml`,
//! `getHtmlField`): pure functions over text, for the HTML trackers send (ServiceNow's HTML
//! fields, Jira's rendered fields, Zendesk's comments).
//!
//! A small tolerant reader, not a browser: tags are recognised by name (`<p>`, `<br/>`,
//! `<a href=…>`, …), entities decoded, `<script>`, `<style>` and comments dropped. Malformed
//! markup (an unclosed tag, a stray `<`, a bad entity) is read as text or skipped, never an
//! error and never a panic; every slice is cut at an ASCII delimiter, so at a character
//! boundary.

/// Nesting deeper than this (lists, quotes) is shown at this depth: markup nested thousands
/// deep must not make the output grow with the square of its size.
const MAX_DEPTH: usize = 16;

/// One piece of the markup.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    Text(&'a str),
    /// A start tag, lower-cased name and its raw attribute text; `true` for `<br/>`.
    Open(String, &'a str, bool),
    Close(String),
}

/// Splits `html` into text and tags. A `<` that does not start a tag is text.
fn tokens(html: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let bytes = html.as_bytes();
    let (mut i, mut text_from) = (0, 0);
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let rest = &html[i..];
        // A comment or a declaration (`<!DOCTYPE …>`): dropped.
        let skip_to = if rest.starts_with("<!--") {
            Some(rest.find("-->").map_or(html.len(), |e| i + e + 3))
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            Some(rest.find('>').map_or(html.len(), |e| i + e + 1))
        } else {
            None
        };
        if let Some(end) = skip_to {
            if text_from < i {
                out.push(Token::Text(&html[text_from..i]));
            }
            i = end;
            text_from = end;
            continue;
        }
        let closing = rest.starts_with("</");
        let name_from = i + if closing { 2 } else { 1 };
        let name_len = html[name_from..]
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let starts_tag = name_len > 0
            && html.as_bytes()[name_from].is_ascii_alphabetic()
            && html[name_from + name_len..]
                .bytes()
                .next()
                .is_none_or(|b| b.is_ascii_whitespace() || b == b'>' || b == b'/');
        let end = starts_tag
            .then(|| tag_end(html, name_from + name_len))
            .flatten();
        let Some(end) = end else {
            // Not a tag: the `<` is text.
            i += 1;
            continue;
        };
        if text_from < i {
            out.push(Token::Text(&html[text_from..i]));
        }
        let name = html[name_from..name_from + name_len].to_ascii_lowercase();
        if closing {
            out.push(Token::Close(name));
        } else {
            let inner = html[name_from + name_len..end].trim_end();
            let self_closing = inner.ends_with('/');
            let attributes = inner.strip_suffix('/').unwrap_or(inner);
            // Raw text elements: their content is not markup, and not shown.
            if name == "script" || name == "style" {
                let after = find_close(html, end + 1, &name).map_or(html.len(), |from| {
                    html[from..].find('>').map_or(html.len(), |e| from + e + 1)
                });
                i = after;
                text_from = after;
                continue;
            }
            out.push(Token::Open(name, attributes, self_closing));
        }
        i = end + 1;
        text_from = i;
    }
    if text_from < html.len() {
        out.push(Token::Text(&html[text_from..]));
    }
    out
}

/// Where `</name` (in any case) starts at or after `from`, without copying the text.
fn find_close(html: &str, from: usize, name: &str) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut at = from;
    while let Some(found) = html[at..].find("</") {
        let start = at + found;
        let name_at = start + 2;
        if bytes
            .get(name_at..name_at + name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        {
            return Some(start);
        }
        at = name_at;
    }
    None
}

/// Where the tag whose attributes start at `from` ends (the index of its `>`), skipping `>`
/// inside quoted attribute values; `None` when it never ends.
fn tag_end(html: &str, from: usize) -> Option<usize> {
    let mut quote = None;
    // A tag longer than this is taken for text: an unclosed quote must not make every later
    // `<` read to the end of the text again.
    const MAX_TAG: usize = 8 * 1024;
    for (at, b) in html.bytes().enumerate().skip(from).take(MAX_TAG) {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(at),
            (None, b'<') => return None,
            _ => {}
        }
    }
    None
}

/// The value of attribute `name` in a tag's attribute text, entities decoded.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let bytes = attributes.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let key_from = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        let key = &attributes[key_from..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = "";
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let q = bytes[i];
                let from = i + 1;
                let len = attributes[from..].bytes().take_while(|b| *b != q).count();
                value = &attributes[from..from + len];
                i = (from + len + 1).min(bytes.len());
            } else {
                let from = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = &attributes[from..i];
            }
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(decode_entities(value));
        }
        if key.is_empty() {
            i += 1;
        }
    }
    None
}

/// `&amp;`, `&lt;`, `&#39;`, `&#x27;`, `&nbsp;` and the other common named entities decoded;
/// an unknown or malformed one stays as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.bytes().take(12).position(|b| b == b';');
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                "ndash" => Some('–'),
                "mdash" => Some('—'),
                "hellip" => Some('…'),
                "lsquo" => Some('‘'),
                "rsquo" => Some('’'),
                "ldquo" => Some('“'),
                "rdquo" => Some('”'),
                "copy" => Some('©'),
                "reg" => Some('®'),
                "trade" => Some('™'),
                "euro" => Some('€'),
                _ => {
                    let number = name.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code).filter(|c| *c != '\0')
                }
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Elements that stand on lines of their own.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "ul"
            | "ol"
            | "li"
            | "table"
            | "thead"
            | "tbody"
            | "tr"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
            | "pre"
            | "hr"
            | "dl"
            | "dt"
            | "dd"
    )
}

/// Builds the output line by line: runs of whitespace in text become one space, block
/// boundaries become line breaks (at most one blank line in a row).
#[derive(Default)]
struct Out {
    text: String,
    /// Line breaks wanted before the next text (1: a new line, 2: a blank line).
    pending_breaks: usize,
    /// What starts each new line (`> ` inside a quote).
    line_prefix: String,
}

impl Out {
    fn at_line_start(&self) -> bool {
        self.text.is_empty() || self.text.ends_with('\n')
    }

    fn block_break(&mut self, breaks: usize) {
        if !self.text.is_empty() {
            self.pending_breaks = self.pending_breaks.max(breaks);
        }
    }

    fn flush_breaks(&mut self) {
        if self.pending_breaks == 0 {
            return;
        }
        let have = self.text.chars().rev().take_while(|c| *c == '\n').count();
        for _ in have..self.pending_breaks {
            self.text.push('\n');
        }
        self.pending_breaks = 0;
    }

    /// Text as it is (markup the converter writes, or preformatted text).
    fn raw(&mut self, s: &str) {
        self.flush_breaks();
        if self.at_line_start() {
            self.text.push_str(&self.line_prefix);
        }
        self.text.push_str(s);
    }

    /// Text from the document: whitespace collapsed.
    fn words(&mut self, s: &str) {
        let mut first = true;
        let leading_space = s.starts_with(|c: char| c.is_whitespace());
        let trailing_space = s.ends_with(|c: char| c.is_whitespace());
        let mut any = false;
        for word in s.split_whitespace() {
            any = true;
            if first {
                first = false;
                if leading_space && self.pending_breaks == 0 && !self.at_line_start() {
                    self.raw(" ");
                }
            } else {
                self.raw(" ");
            }
            self.raw(word);
        }
        if !any && !s.is_empty() && self.pending_breaks == 0 && !self.at_line_start() {
            self.text.push(' ');
            return;
        }
        if any && trailing_space {
            self.text.push(' ');
        }
    }

    fn finish(self) -> String {
        let lines: Vec<&str> = self.text.lines().map(str::trim_end).collect();
        let mut out = String::new();
        let mut blank = 0;
        for line in lines {
            if line.trim().is_empty() {
                blank += 1;
                continue;
            }
            if !out.is_empty() {
                out.push_str(if blank > 0 { "\n\n" } else { "\n" });
            }
            blank = 0;
            out.push_str(line);
        }
        out
    }
}

/// `nodeHelper.stripHtml(html)`: the text without its markup, entities decoded, paragraphs
/// and line breaks kept as line breaks.
pub fn strip(html: &str) -> String {
    let mut out = Out::default();
    let mut pre = 0usize;
    for token in tokens(html) {
        match token {
            Token::Text(t) if pre > 0 => out.raw(&decode_entities(t)),
            Token::Text(t) => out.words(&decode_entities(t)),
            Token::Open(name, _, _) | Token::Close(name) if name == "br" => {
                out.flush_breaks();
                out.text.push('\n');
            }
            Token::Open(name, _, _) => {
                if name == "pre" {
                    pre += 1;
                }
                if is_block(&name) {
                    out.block_break(if name == "li" || name == "tr" { 1 } else { 2 });
                } else if matches!(name.as_str(), "td" | "th") && !out.at_line_start() {
                    out.raw(" ");
                }
            }
            Token::Close(name) => {
                if name == "pre" {
                    pre = pre.saturating_sub(1);
                }
                if is_block(&name) {
                    out.block_break(if name == "li" || name == "tr" { 1 } else { 2 });
                }
            }
        }
    }
    out.finish()
}

/// `nodeHelper.toMarkDownFromHtml(html)`: the text as Markdown — headings, bold, italics,
/// code, links, images, lists (nested ones indented), quotes and rules.
pub fn to_markdown(html: &str) -> String {
    let mut out = Out::default();
    let mut pre = 0usize;
    // Open lists: ordered (with the next number) or not.
    let mut lists: Vec<Option<u32>> = Vec::new();
    // Open links: their href, written when the link closes.
    let mut links: Vec<Option<String>> = Vec::new();
    let mut quotes = 0usize;
    for token in tokens(html) {
        match token {
            Token::Text(t) if pre > 0 => out.raw(&decode_entities(t)),
            Token::Text(t) => out.words(&escape_markdown(&decode_entities(t))),
            Token::Open(name, attrs, _) => match name.as_str() {
                "br" => {
                    out.raw("  ");
                    out.text.push('\n');
                }
                "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                    out.block_break(2);
                    let level = usize::from(name.as_bytes()[1] - b'0');
                    out.raw(&format!("{} ", "#".repeat(level)));
                }
                "strong" | "b" => out.raw("**"),
                "em" | "i" => out.raw("*"),
                "del" | "s" | "strike" => out.raw("~~"),
                "code" if pre == 0 => out.raw("`"),
                "pre" => {
                    out.block_break(2);
                    out.raw("```");
                    out.text.push('\n');
                    pre += 1;
                }
                "a" => {
                    links.push(attribute(attrs, "href"));
                    out.raw("[");
                }
                "img" => {
                    let alt = attribute(attrs, "alt").unwrap_or_default();
                    let src = attribute(attrs, "src").unwrap_or_default();
                    out.raw(&format!("![{}]({src})", escape_markdown(&alt)));
                }
                "hr" => {
                    out.block_break(2);
                    out.raw("---");
                    out.block_break(2);
                }
                "ul" => {
                    out.block_break(if lists.is_empty() { 2 } else { 1 });
                    lists.push(None);
                }
                "ol" => {
                    out.block_break(if lists.is_empty() { 2 } else { 1 });
                    let start = attribute(attrs, "start")
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(1);
                    lists.push(Some(start));
                }
                "li" => {
                    out.block_break(1);
                    let indent = "  ".repeat(lists.len().saturating_sub(1).min(MAX_DEPTH));
                    let marker = match lists.last_mut() {
                        Some(Some(n)) => {
                            let m = format!("{n}. ");
                            *n = n.saturating_add(1);
                            m
                        }
                        _ => "- ".to_owned(),
                    };
                    out.raw(&format!("{indent}{marker}"));
                }
                "blockquote" => {
                    out.block_break(2);
                    quotes += 1;
                    out.line_prefix = "> ".repeat(quotes.min(MAX_DEPTH));
                }
                "td" | "th" if !out.at_line_start() => out.raw(" | "),
                other if is_block(other) => out.block_break(2),
                _ => {}
            },
            Token::Close(name) => match name.as_str() {
                "strong" | "b" => out.raw("**"),
                "em" | "i" => out.raw("*"),
                "del" | "s" | "strike" => out.raw("~~"),
                "code" if pre == 0 => out.raw("`"),
                "pre" => {
                    if !out.at_line_start() {
                        out.text.push('\n');
                    }
                    out.raw("```");
                    out.block_break(2);
                    pre = pre.saturating_sub(1);
                }
                "a" => match links.pop() {
                    Some(Some(href)) => out.raw(&format!("]({href})")),
                    Some(None) => out.raw("]"),
                    None => {}
                },
                "ul" | "ol" => {
                    lists.pop();
                    out.block_break(if lists.is_empty() { 2 } else { 1 });
                }
                "blockquote" => {
                    quotes = quotes.saturating_sub(1);
                    out.line_prefix = "> ".repeat(quotes.min(MAX_DEPTH));
                    out.block_break(2);
                }
                other if is_block(other) => {
                    out.block_break(if other == "li" || other == "tr" { 1 } else { 2 })
                }
                _ => {}
            },
        }
    }
    out.finish()
}

/// Characters that would read as Markdown markup, escaped in document text.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '_' | '`' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `nodeHelper.getHtmlField(issue, field)`: a plain-text field as HTML — escaped, blank lines
/// as paragraphs, single line breaks as `<br/>`.
pub fn from_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(escape_html).collect();
            format!("<p>{}</p>", lines.join("<br/>"))
        })
        .collect()
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_keeps_the_text_and_its_paragraphs() {
        assert_eq!(
            strip(
                "<p>Printer <b>on fire</b>,&nbsp;3rd&amp;4th floor</p><p>Call <a href='tel:1'>me</a><br/>now</p>"
            ),
            "Printer on fire, 3rd&4th floor\n\nCall me\nnow"
        );
        assert_eq!(strip("<ul><li>one</li><li>two</li></ul>"), "one\ntwo");
        assert_eq!(strip("plain text"), "plain text");
        assert_eq!(strip(""), "");
    }

    #[test]
    fn strip_drops_scripts_styles_and_comments() {
        assert_eq!(
            strip(
                "<style>p{color:red}</style><!-- note --><script>alert('<p>x</p>')</script><p>ok</p>"
            ),
            "ok"
        );
    }

    #[test]
    fn malformed_markup_is_read_as_text_never_a_panic() {
        assert_eq!(strip("a < b and c > d"), "a < b and c > d");
        assert_eq!(strip("<p>open <b>bold"), "open bold");
        assert_eq!(strip("x <a href=\"unclosed"), "x <a href=\"unclosed");
        assert_eq!(strip("&bogus; &#xZZ; &#0; &"), "&bogus; &#xZZ; &#0; &");
        assert_eq!(strip("<!-- never closed"), "");
        assert_eq!(strip("é<p>ü</p>ß<"), "é\n\nü\n\nß<");
        // Deep nesting stays linear in the output.
        let deep = format!(
            "{}x{}",
            "<ul><li><blockquote>".repeat(5000),
            "</blockquote></li></ul>".repeat(5000)
        );
        let md = to_markdown(&deep);
        assert!(md.len() < 5000 * 100, "{}", md.len());
        assert_eq!(strip(&deep), "x");
        // Unclosed quotes in many would-be tags: each is given up on soon.
        let quotes = "<a title='x ".repeat(20000);
        assert!(strip(&quotes).starts_with("<a title='x"));
        // Many raw-text elements: each is skipped in one pass.
        let scripts = "<script>x</SCRIPT>".repeat(20000);
        assert_eq!(strip(&scripts), "");
        for nasty in [
            "<",
            "</",
            "<>",
            "<a",
            "<a '>",
            "</p",
            "<<<>>>",
            "<p\u{1F600}>",
            "&#99999999999;",
            "<script>",
            "<pre>x",
        ] {
            let _ = strip(nasty);
            let _ = to_markdown(nasty);
        }
    }

    #[test]
    fn markdown_keeps_emphasis_links_lists_and_code() {
        assert_eq!(
            to_markdown(
                "<h2>Steps</h2><p>Press <strong>Pay</strong> then <em>wait</em>, see <a href=\"https://x.test/a?b=1&amp;c=2\">the log</a>.</p>"
            ),
            "## Steps\n\nPress **Pay** then *wait*, see [the log](https://x.test/a?b=1&c=2)."
        );
        assert_eq!(
            to_markdown(
                "<ol><li>first</li><li>second<ul><li>inner</li></ul></li></ol><p>after</p>"
            ),
            "1. first\n2. second\n  - inner\n\nafter"
        );
        assert_eq!(
            to_markdown("<p>Run <code>make</code>:</p><pre>if a &lt; b {\n  go()\n}</pre>"),
            "Run `make`:\n\n```\nif a < b {\n  go()\n}\n```"
        );
        assert_eq!(
            to_markdown(
                "<blockquote><p>quoted</p></blockquote><hr><img src=\"s.png\" alt=\"shot\">"
            ),
            "> quoted\n\n---\n\n![shot](s.png)"
        );
        assert_eq!(to_markdown("2 * 3_4"), "2 \\* 3\\_4");
    }

    #[test]
    fn text_becomes_escaped_paragraphs() {
        assert_eq!(
            from_text("Line <1>\nline 2\n\n\"Two\" & more"),
            "<p>Line &lt;1&gt;<br/>line 2</p><p>&quot;Two&quot; &amp; more</p>"
        );
        assert_eq!(from_text(""), "");
    }

    mod random {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed};

        use super::super::*;

        fn config() -> Config {
            Config {
                cases: 256,
                failure_persistence: None,
                rng_seed: RngSeed::Fixed(13),
                ..Config::default()
            }
        }

        /// Bits of markup, so that random text is near-valid HTML, not only noise.
        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("<p>".to_owned()),
                Just("</p>".to_owned()),
                Just("<ul><li>".to_owned()),
                Just("</li></ul>".to_owned()),
                Just("<ol>".to_owned()),
                Just("<blockquote>".to_owned()),
                Just("<br/>".to_owned()),
                Just("<a href=\"x\">".to_owned()),
                Just("<a href='".to_owned()),
                Just("</a>".to_owned()),
                Just("<b>".to_owned()),
                Just("<pre><code>".to_owned()),
                Just("<script>".to_owned()),
                Just("<!--".to_owned()),
                Just("-->".to_owned()),
                Just("&amp;".to_owned()),
                Just("&#x1F600;".to_owned()),
                Just("&#99999999999;".to_owned()),
                Just("<".to_owned()),
                Just(">".to_owned()),
                "[ -~]{1,6}",
                "\\PC{1,3}",
            ]
        }

        /// One element nested up to thousands deep, closed or not.
        fn deep() -> impl Strategy<Value = String> {
            let tag = prop_oneof![
                Just("ul><li"),
                Just("blockquote"),
                Just("ol><li"),
                Just("p"),
                Just("b")
            ];
            (tag, 0usize..3000, any::<bool>()).prop_map(|(tag, depth, closed)| {
                let mut names: Vec<&str> = tag.split("><").collect();
                names.reverse();
                let close: String = names.iter().map(|t| format!("</{t}>")).collect();
                format!(
                    "{}x{}",
                    format!("<{tag}>").repeat(depth),
                    if closed {
                        close.repeat(depth)
                    } else {
                        String::new()
                    }
                )
            })
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_converts_without_panicking(html in "\\PC{0,200}") {
                let _ = (strip(&html), to_markdown(&html), from_text(&html), decode_entities(&html));
            }

            #[test]
            fn near_valid_markup_converts_without_panicking(pieces in proptest::collection::vec(piece(), 0..60)) {
                let html = pieces.concat();
                let _ = (strip(&html), to_markdown(&html), decode_entities(&html));
            }

            #[test]
            fn deep_markup_converts_in_bounded_output(html in deep()) {
                let (text, markdown) = (strip(&html), to_markdown(&html));
                // Nesting is shown at most MAX_DEPTH deep: the output stays linear.
                prop_assert!(text.len() <= html.len() + 16, "{}", text.len());
                prop_assert!(markdown.len() <= 8 * html.len() + 64, "{}", markdown.len());
            }
        }
    }
}
