//! Jira wiki markup, the rich text of Data Center (and of REST v2 on Cloud), to and from
//! Markdown. Both directions go through ADF as the document model ([`to_adf`], [`from_adf`]),
//! so what `adf` keeps across Markdown is what this module keeps too.
//!
//! Understood: paragraphs and line breaks, `h1.`–`h6.`, `*`/`#`/`-` lists (nested, mixed),
//! `{code:lang}` and `{noformat}`, `{quote}` and `bq.`, `----`, tables (`||head||`, `|cell|`),
//! `*strong*`, `_em_`, `{{code}}`, `-strike-`, `+underline+`, `^sup^`, `~sub~`, links
//! `[text|url]` and `[url]`, mentions `[~name]` / `[~accountid:id]`, images `!file.png!`,
//! `{color}` (dropped, reported), backslash escapes and `\\` breaks. Other macros stay as text.
//!
//! Nesting is bounded (lists at [`MAX_LIST_DEPTH`], quotes and marks at a few levels, ADF at
//! `adf::MAX_DEPTH`): untrusted markup cannot overflow the stack.

mod parse;
mod render;

use std::collections::BTreeSet;

use serde_json::Value;

use super::adf::{self, Converted, MAX_DEPTH, MEDIA_SCHEME};

pub use parse::to_adf;
pub use render::from_adf;

/// The deepest list nesting kept; deeper items join the deepest list (reported lossy).
pub const MAX_LIST_DEPTH: usize = 10;
pub(crate) const MAX_QUOTE_DEPTH: usize = 8;
pub(crate) const MAX_MARK_DEPTH: usize = 8;

/// Wiki markup as Markdown.
pub fn to_markdown(wiki: &str) -> Converted<String> {
    let doc = to_adf(wiki);
    let md = adf::to_markdown(&doc.value);
    Converted {
        value: md.value,
        lossy: merge(doc.lossy, md.lossy),
    }
}

/// Markdown as wiki markup.
pub fn from_markdown(markdown: &str) -> Converted<String> {
    let doc = adf::from_markdown(markdown);
    let wiki = from_adf(&doc.value);
    Converted {
        value: wiki.value,
        lossy: merge(doc.lossy, wiki.lossy),
    }
}

fn merge(a: Vec<String>, b: Vec<String>) -> Vec<String> {
    a.into_iter()
        .chain(b)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

pub(crate) fn kind(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or_default()
}

pub(crate) fn children(v: &Value) -> &[Value] {
    v.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(crate) fn attr_str<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get("attrs")
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markdown → wiki → Markdown keeps the text, and nothing is reported lost.
    fn markdown_round_trips(md: &str) {
        let wiki = from_markdown(md);
        assert!(wiki.is_lossless(), "{:?}\n{}", wiki.lossy, wiki.value);
        let back = to_markdown(&wiki.value);
        assert!(back.is_lossless(), "{:?}", back.lossy);
        assert_eq!(back.value, md, "through wiki:\n{}", wiki.value);
    }

    #[test]
    fn markdown_survives_wiki_markup() {
        markdown_round_trips(
            "## Steps\n\nPlain **bold**, *italic*, `code`, ~~gone~~ and [a link](https://example.com/x).",
        );
        markdown_round_trips("- first\n  1. nested one\n  2. nested two\n- second");
        markdown_round_trips("```rust\nfn main() {}\n```");
        markdown_round_trips("```\nno language\n```");
        markdown_round_trips("> quoted\n\n---\n\nafter");
        markdown_round_trips("| Key | Value |\n| --- | --- |\n| a | **1** |");
        markdown_round_trips("Hi [@jdoe](mention:jdoe), see:\n\n![](https://example.com/a.png)");
        markdown_round_trips("line one\\\nline two");
        markdown_round_trips("well-known a - b x+y 2^3 \\*not bold\\* \\[x\\] back\\\\slash");
        markdown_round_trips("an entity \\&\\#92; stays text");
    }

    #[test]
    fn wiki_from_data_center_reads_as_markdown() {
        let wiki = "h1. Title\n\n*bold* _em_ {{code}} -strike- [text|https://x.example] [~alex]\n\n* a\n** b\n# one\n\n{code:java}\nint x;\n{code}\n\nbq. quoted\n\n||h1||h2||\n|c1|[l|https://y.example]|";
        let md = to_markdown(wiki);
        assert!(md.is_lossless(), "{:?}", md.lossy);
        assert_eq!(
            md.value,
            "# Title\n\n**bold** *em* `code` ~~strike~~ [text](https://x.example) [@alex](mention:alex)\n\n- a\n  - b\n\n1. one\n\n```java\nint x;\n```\n\n> quoted\n\n| h1 | h2 |\n| --- | --- |\n| c1 | [l](https://y.example) |"
        );
    }

    #[test]
    fn what_markdown_cannot_hold_is_reported_lossy() {
        let md = to_markdown("+under+ {color:red}red{color} x ^2^");
        assert!(md.value.contains("under") && md.value.contains("red"));
        for lost in ["underline", "colour", "subscript"] {
            assert!(
                md.lossy.iter().any(|l| l.contains(lost)),
                "{lost}: {:?}",
                md.lossy
            );
        }
    }

    fn para(content: Value) -> Value {
        serde_json::json!({"version": 1, "type": "doc", "content": [{"type": "paragraph", "content": content}]})
    }

    proptest::proptest! {
        /// Any printable text, wiki punctuation included, comes back as itself.
        #[test]
        fn any_text_survives_wiki_markup(text in "[!-~]([ -~]{0,40}[!-~])?") {
            let d = para(serde_json::json!([{"type": "text", "text": text}]));
            let wiki = from_adf(&d);
            proptest::prop_assert_eq!(&to_adf(&wiki.value).value, &d, "through {:?}", wiki.value);
        }

        /// Marked words keep their marks through wiki markup.
        #[test]
        fn marked_words_survive_wiki_markup(
            text in "[a-zA-Z0-9]([a-zA-Z0-9 ,.]{0,20}[a-zA-Z0-9])?",
            mark in proptest::sample::select(vec!["strong", "em", "strike", "code"]),
        ) {
            let d = para(serde_json::json!([
                {"type": "text", "text": "x "},
                {"type": "text", "text": text, "marks": [{"type": mark}]},
                {"type": "text", "text": " y"},
            ]));
            let wiki = from_adf(&d);
            proptest::prop_assert_eq!(&to_adf(&wiki.value).value, &d, "through {:?}", wiki.value);
        }
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let deep_list = format!("{} deep", "*".repeat(5000));
        let c = to_adf(&deep_list);
        assert!(!c.is_lossless());
        assert!(adf::flat_text(&c.value).contains("deep"));
        let deep_quote = "{quote}\n".repeat(200) + "inside";
        let c = to_adf(&deep_quote);
        assert!(adf::flat_text(&c.value).contains("inside"));
        let deep_marks = format!("{}x{}", "*_".repeat(2000), "_*".repeat(2000));
        let c = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || to_adf(&deep_marks))
            .expect("thread")
            .join()
            .expect("no stack overflow");
        assert!(adf::flat_text(&c.value).contains('x'));
    }
}
