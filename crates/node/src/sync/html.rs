//! The rich-text conversions `nodeHelper` offers (`stripHtml`, `toMarkDownFromHtml`,
//! `getHtmlField`): pure functions over text, for the HTML trackers send (ServiceNow's HTML
//! fields, Jira's rendered fields, Zendesk's comments).
//!
//! The markup is read by html5ever's tokenizer, as the HTML standard reads it (all character
//! references decoded, `<script>`, `<style>` and comments dropped, malformed markup read as a
//! browser reads it, never an error and never a panic); what the tags mean for plain text and
//! Markdown is Tandem's own, shaped after what Exalate's helpers give.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    self as html, BufferQueue, TagKind, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// Nesting deeper than this (lists, quotes) is shown at this depth: markup nested thousands
/// deep must not make the output grow with the square of its size.
const MAX_DEPTH: usize = 16;

/// One piece of the markup, as the HTML standard's tokenizer reads it (html5ever): text with
/// its character references decoded, and tags with lower-cased names and decoded attributes.
#[derive(Debug, PartialEq)]
enum Token {
    Text(String),
    /// A start tag: its name and attributes (name, value).
    Open(String, Vec<(String, String)>),
    Close(String),
}

/// Collects the tokens the converters read. Comments, declarations and the content of
/// `<script>` and `<style>` (read as raw text, as a browser does, and never shown) are dropped.
#[derive(Default)]
struct Collect {
    tokens: RefCell<Vec<Token>>,
    /// Inside `<script>` or `<style>`: the element's name until its end tag.
    raw_text: RefCell<Option<String>>,
}

impl TokenSink for Collect {
    type Handle = ();

    fn process_token(&self, token: html::Token, _line: u64) -> TokenSinkResult<()> {
        let mut tokens = self.tokens.borrow_mut();
        match token {
            html::Token::CharacterTokens(text) => {
                if self.raw_text.borrow().is_some() {
                    return TokenSinkResult::Continue;
                }
                match tokens.last_mut() {
                    Some(Token::Text(before)) => before.push_str(&text),
                    _ => tokens.push(Token::Text(text.to_string())),
                }
            }
            html::Token::TagToken(tag) => {
                let name = tag.name.to_string();
                match tag.kind {
                    TagKind::StartTag if name == "script" || name == "style" => {
                        *self.raw_text.borrow_mut() = Some(name.clone());
                        return TokenSinkResult::RawData(if name == "script" {
                            RawKind::ScriptData
                        } else {
                            RawKind::Rawtext
                        });
                    }
                    TagKind::StartTag => tokens.push(Token::Open(
                        name,
                        tag.attrs
                            .into_iter()
                            .map(|a| (a.name.local.to_string(), a.value.to_string()))
                            .collect(),
                    )),
                    TagKind::EndTag => {
                        let mut raw_text = self.raw_text.borrow_mut();
                        if raw_text.as_deref() == Some(name.as_str()) {
                            *raw_text = None;
                        } else if raw_text.is_none() {
                            tokens.push(Token::Close(name));
                        }
                    }
                }
            }
            // Comments, doctypes, NUL characters and the tokenizer's notes on malformed
            // markup: nothing to show.
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Splits `html` into text and tags as a browser's tokenizer does: a `<` that does not start
/// a tag is text, a tag never closed by the end of the text is dropped, all of HTML's named
/// and numeric character references are decoded. Linear in the input, never a panic.
fn tokens(html: &str) -> Vec<Token> {
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let tokenizer = Tokenizer::new(Collect::default(), TokenizerOpts::default());
    // The sink never asks to stop for a script, so one feed reads everything.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.tokens.take()
}

/// The value of attribute `name`, if the tag has it.
fn attribute(attributes: &[(String, String)], name: &str) -> Option<String> {
    attributes
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
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
            Token::Text(t) if pre > 0 => out.raw(&t),
            Token::Text(t) => out.words(&t),
            Token::Open(name, _) | Token::Close(name) if name == "br" => {
                out.flush_breaks();
                out.text.push('\n');
            }
            Token::Open(name, _) => {
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
            Token::Text(t) if pre > 0 => out.raw(&t),
            Token::Text(t) => out.words(&escape_markdown(&t)),
            Token::Open(name, attrs) => match name.as_str() {
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
                    links.push(attribute(&attrs, "href"));
                    out.raw("[");
                }
                "img" => {
                    let alt = attribute(&attrs, "alt").unwrap_or_default();
                    let src = attribute(&attrs, "src").unwrap_or_default();
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
                    let start = attribute(&attrs, "start")
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
    fn every_character_reference_of_html_is_decoded() {
        assert_eq!(
            strip(
                "<p>f&uuml;r &eacute;t&eacute; &laquo;Zitat&raquo; &frac12; &#8364; &#x1F600;</p>"
            ),
            "für été «Zitat» ½ € 😀"
        );
        // In attributes too, and the legacy forms browsers accept without the `;`.
        assert_eq!(
            to_markdown("<a href=\"/s?q=1&amp;lang=de\">caf&eacute &amp co</a>"),
            "[café & co](/s?q=1&lang=de)"
        );
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
        // A tag the text ends inside of is dropped, as a browser drops it.
        assert_eq!(strip("x <a href=\"unclosed"), "x");
        // Unknown references stay as written; a NUL one is the replacement character.
        assert_eq!(strip("&bogus; &#xZZ; &#0; &"), "&bogus; &#xZZ; \u{fffd} &");
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
        // An unclosed quote runs to the end of the text, once.
        let quotes = "<a title='x ".repeat(20000);
        assert_eq!(strip(&quotes), "");
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
                let _ = (strip(&html), to_markdown(&html), from_text(&html));
            }

            #[test]
            fn near_valid_markup_converts_without_panicking(pieces in proptest::collection::vec(piece(), 0..60)) {
                let html = pieces.concat();
                let _ = (strip(&html), to_markdown(&html));
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
