//! String methods (Java's and the GDK's).

use std::rc::Rc;

use super::{Args, int_arg};
use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::limits::STR_BYTES;
use crate::num::Dec;
use crate::value::Value;

pub(crate) const METHODS: &[&str] = &[
    "length",
    "size",
    "getBytes",
    "isEmpty",
    "trim",
    "strip",
    "toLowerCase",
    "toUpperCase",
    "contains",
    "startsWith",
    "endsWith",
    "indexOf",
    "lastIndexOf",
    "substring",
    "charAt",
    "replace",
    "replaceAll",
    "replaceFirst",
    "split",
    "tokenize",
    "toInteger",
    "toLong",
    "toDouble",
    "toBigDecimal",
    "toBoolean",
    "isNumber",
    "isInteger",
    "isLong",
    "isDouble",
    "isBigDecimal",
    "padLeft",
    "padRight",
    "center",
    "reverse",
    "capitalize",
    "uncapitalize",
    "equalsIgnoreCase",
    "compareTo",
    "compareToIgnoreCase",
    "readLines",
    "each",
    "eachLine",
    "collect",
    "find",
    "findAll",
    "matches",
    "toList",
    "toCharArray",
    "take",
    "drop",
    "getAt",
    "multiply",
    "plus",
    "minus",
    "count",
    "isBlank",
    "concat",
    "repeat",
    "stripLeading",
    "stripTrailing",
    "stripIndent",
    "trim",
    "any",
    "every",
    "toSet",
    "chars",
    "format",
    "normalize",
    "denormalize",
    "takeWhile",
    "dropWhile",
    "eachWithIndex",
    "asBoolean",
    "isAllWhitespace",
    "lines",
    "codePointAt",
    "toURL",
    "execute",
    "intern",
    "tr",
    "next",
    "previous",
    "join",
    "first",
    "last",
];

fn regex_of(it: &mut Interp, v: &Value, span: Span) -> R<Rc<fancy_regex::Regex>> {
    match v {
        Value::Regex(r) => Ok(r.clone()),
        other => it.regex(&other.to_string(), span),
    }
}

/// A piece of Java's `Matcher.appendReplacement` syntax: `$1`, `${name}`, `\$`.
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

/// Parses a replacement string once, for every match.
fn parse_replacement(rep: &str, groups: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = String::new();
    let b: Vec<char> = rep.chars().collect();
    let mut i = 0;
    let flush = |text: &mut String, out: &mut Vec<Piece>| {
        if !text.is_empty() {
            out.push(Piece::Text(std::mem::take(text)));
        }
    };
    while i < b.len() {
        match b[i] {
            '\\' if i + 1 < b.len() => {
                text.push(b[i + 1]);
                i += 2;
            }
            '$' if i + 1 < b.len() && b[i + 1].is_ascii_digit() => {
                let mut j = i + 1;
                let mut n = 0usize;
                while j < b.len()
                    && b[j].is_ascii_digit()
                    && (n * 10 + b[j] as usize - '0' as usize) < groups.max(1)
                {
                    n = n * 10 + (b[j] as usize - '0' as usize);
                    j += 1;
                }
                if j == i + 1 {
                    j += 1;
                    n = b[i + 1] as usize - '0' as usize;
                }
                flush(&mut text, &mut out);
                out.push(Piece::Group(n));
                i = j;
            }
            '$' if i + 1 < b.len() && b[i + 1] == '{' => {
                let end = b[i..]
                    .iter()
                    .position(|c| *c == '}')
                    .map_or(b.len(), |p| p + i);
                flush(&mut text, &mut out);
                out.push(Piece::Named(b[i + 2..end.min(b.len())].iter().collect()));
                i = end + 1;
            }
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    flush(&mut text, &mut out);
    out
}

fn piece_text<'c>(caps: &'c fancy_regex::Captures, p: &'c Piece) -> &'c str {
    match p {
        Piece::Text(t) => t,
        Piece::Group(n) => caps.get(*n).map_or("", |m| m.as_str()),
        Piece::Named(n) => caps.name(n).map_or("", |m| m.as_str()),
    }
}

fn regex_failed(it: &Interp, e: fancy_regex::Error, span: Span) -> crate::eval::Flow {
    it.throw(
        "PatternSyntaxException",
        format!("regular expression failed: {e}"),
        span,
    )
}

/// `replaceAll`/`replaceFirst`: every piece of the result is charged before it is appended.
fn replace_regex(it: &mut Interp, s: &str, a: &Args, first_only: bool, span: Span) -> R<Value> {
    let re = regex_of(it, a.get(0), span)?;
    let rep = match a.get(1) {
        f @ Value::Closure(_) => Err(f.clone()),
        other => Ok(parse_replacement(
            &text(it, other, span)?,
            re.captures_len(),
        )),
    };
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let caps = caps.map_err(|e| regex_failed(it, e, span))?;
        let Some(m) = caps.get(0) else { continue };
        it.step(span)?;
        it.charge(m.start() - last, span)?;
        out.push_str(&s[last..m.start()]);
        match &rep {
            Err(f) => {
                let groups: Vec<Value> = (0..caps.len())
                    .map(|i| caps.get(i).map_or(Value::Null, |g| Value::str(g.as_str())))
                    .collect();
                let arg = if groups.len() == 1 {
                    groups[0].clone()
                } else {
                    Value::list(groups)
                };
                let r = it.call_value(f, vec![arg], span)?;
                let r = text(it, &r, span)?;
                it.charge(r.len(), span)?;
                out.push_str(&r);
            }
            Ok(pieces) => {
                let size = pieces
                    .iter()
                    .fold(0usize, |n, p| n.saturating_add(piece_text(&caps, p).len()));
                it.charge(size, span)?;
                for p in pieces {
                    out.push_str(piece_text(&caps, p));
                }
            }
        }
        last = m.end();
        if first_only {
            break;
        }
    }
    it.charge(s.len() - last, span)?;
    out.push_str(&s[last..]);
    Ok(Value::str(out))
}

/// Java's `String.split(regex)`: trailing empty strings are dropped. Each part is charged
/// before it is kept.
fn split(it: &mut Interp, s: &str, a: &Args, span: Span) -> R<Value> {
    if a.len() == 0 {
        let n = s.split_whitespace().count();
        it.work(s.len(), span)?;
        it.charge(s.len().saturating_add(n.saturating_mul(STR_BYTES)), span)?;
        return Ok(Value::list(s.split_whitespace().map(Value::str).collect()));
    }
    let re = regex_of(it, a.get(0), span)?;
    // Java's limit: above 0, at most that many parts (the last holds the rest); 0, trailing
    // empty parts dropped; below 0, every part kept
    let limit = if a.len() == 2 {
        int_arg(it, a.get(1), span)?
    } else {
        0
    };
    let mut parts = Vec::new();
    let mut last = 0;
    for m in re.find_iter(s) {
        if limit > 0 && parts.len() as i64 >= limit - 1 {
            break;
        }
        let m = m.map_err(|e| regex_failed(it, e, span))?;
        if m.end() == 0 {
            continue;
        }
        if m.start() == m.end() && m.start() >= s.len() {
            break;
        }
        it.charge(m.start() - last + STR_BYTES + 16, span)?;
        it.work(1, span)?;
        parts.push(&s[last..m.start()]);
        last = m.end();
    }
    parts.push(&s[last..]);
    if s.is_empty() {
        return Ok(Value::list(vec![Value::str("")]));
    }
    while limit == 0 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    it.charge(s.len() - last + STR_BYTES, span)?;
    Ok(Value::list(parts.into_iter().map(Value::str).collect()))
}

/// An argument as text: a string as it is, anything else printed and charged.
pub(crate) fn text(it: &mut Interp, v: &Value, span: Span) -> R<Rc<str>> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => {
            let t = other.to_string();
            it.charge(t.len(), span)?;
            Ok(Rc::from(t))
        }
    }
}

/// Most bytes changing the case of `s` can produce (a character can become three).
fn case_bound(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.len().saturating_mul(3)
    }
}

/// Bytes of `s` padded with `fill` to `n` characters.
fn padded_size(s: &str, n: i64, fill: &str) -> usize {
    let len = s.chars().count() as i64;
    if n <= len || fill.is_empty() {
        return s.len();
    }
    let widest = fill.chars().map(char::len_utf8).max().unwrap_or(1);
    usize::try_from(n - len)
        .unwrap_or(usize::MAX)
        .saturating_mul(widest)
        .saturating_add(s.len())
}

fn is_int(s: &str) -> bool {
    let t = s.trim();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

fn char_index(s: &str, byte: Option<usize>) -> i32 {
    byte.map_or(-1, |b| s[..b].chars().count() as i32)
}

fn substring(it: &mut Interp, s: &str, from: i64, to: i64, span: Span) -> R<Value> {
    let len = s.chars().count() as i64;
    if from < 0 || to > len || from > to {
        return it.fail(
            "StringIndexOutOfBoundsException",
            format!("begin {from}, end {to}, length {len}"),
            span,
        );
    }
    let byte = |i: i64| s.char_indices().nth(i as usize).map_or(s.len(), |(b, _)| b);
    let (b0, b1) = (byte(from), byte(to));
    it.charge(b1 - b0, span)?;
    Ok(Value::str(&s[b0..b1]))
}

fn pad(s: &str, n: i64, fill: &str, left: bool) -> String {
    let len = s.chars().count() as i64;
    if n <= len || fill.is_empty() {
        return s.to_string();
    }
    let padding: String = fill.chars().cycle().take((n - len) as usize).collect();
    if left {
        format!("{padding}{s}")
    } else {
        format!("{s}{padding}")
    }
}

pub(crate) fn call(
    it: &mut Interp,
    s: &Rc<str>,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    let v = match (name, a.len()) {
        ("length" | "size", 0) => Value::Int(s.chars().count() as i32),
        ("isEmpty", 0) => Value::Bool(s.is_empty()),
        ("isBlank" | "isAllWhitespace", 0) => Value::Bool(s.trim().is_empty()),
        ("trim" | "strip", 0) => Value::str(s.trim()),
        ("stripLeading", 0) => Value::str(s.trim_start()),
        ("stripTrailing", 0) => Value::str(s.trim_end()),
        ("toLowerCase", 0) => {
            it.charge(case_bound(s), span)?;
            Value::str(s.to_lowercase())
        }
        ("toUpperCase", 0) => {
            it.charge(case_bound(s), span)?;
            Value::str(s.to_uppercase())
        }
        ("contains", 1) => Value::Bool(s.contains(&*text(it, a.get(0), span)?)),
        ("startsWith", 1) => Value::Bool(s.starts_with(&*text(it, a.get(0), span)?)),
        ("endsWith", 1) => Value::Bool(s.ends_with(&*text(it, a.get(0), span)?)),
        ("indexOf", 1) => Value::Int(char_index(s, s.find(&*text(it, a.get(0), span)?))),
        ("indexOf", 2) => {
            let from = int_arg(it, a.get(1), span)?.max(0) as usize;
            let start = s.char_indices().nth(from).map_or(s.len(), |(b, _)| b);
            Value::Int(char_index(
                s,
                s[start..]
                    .find(&*text(it, a.get(0), span)?)
                    .map(|b| b + start),
            ))
        }
        ("lastIndexOf", 1) => Value::Int(char_index(s, s.rfind(&*text(it, a.get(0), span)?))),
        ("substring", 1 | 2) => {
            let from = int_arg(it, a.get(0), span)?;
            let to = if a.len() == 2 {
                int_arg(it, a.get(1), span)?
            } else {
                s.chars().count() as i64
            };
            substring(it, s, from, to, span)?
        }
        ("charAt", 1) => {
            let i = int_arg(it, a.get(0), span)?;
            match s.chars().nth(i.max(0) as usize) {
                Some(c) if i >= 0 => Value::str(c.to_string()),
                _ => {
                    return it.fail(
                        "StringIndexOutOfBoundsException",
                        format!("index {i}, length {}", s.chars().count()),
                        span,
                    );
                }
            }
        }
        ("replace", 2) => {
            let (from, to) = (text(it, a.get(0), span)?, text(it, a.get(1), span)?);
            // the result's size first: an empty target is replaced between every character
            it.work(s.len(), span)?;
            let n = if from.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(&*from).count()
            };
            let size = (s.len() - n * from.len()).saturating_add(n.saturating_mul(to.len()));
            it.charge(size, span)?;
            Value::str(s.replace(&*from, &to))
        }
        ("replaceAll", 2) => replace_regex(it, s, a, false, span)?,
        ("replaceFirst", 2) => replace_regex(it, s, a, true, span)?,
        ("split", 0..=2) => split(it, s, a, span)?,
        ("tokenize", 0 | 1) => {
            let delims: Vec<char> = if a.len() == 0 {
                vec![' ', '\t', '\n', '\r', '\u{c}']
            } else {
                text(it, a.get(0), span)?.chars().collect()
            };
            it.work(s.len(), span)?;
            let n = s
                .split(|c| delims.contains(&c))
                .filter(|p| !p.is_empty())
                .count();
            it.charge(s.len().saturating_add(n.saturating_mul(STR_BYTES)), span)?;
            Value::list(
                s.split(|c| delims.contains(&c))
                    .filter(|p| !p.is_empty())
                    .map(Value::str)
                    .collect(),
            )
        }
        ("toInteger", 0) => match s.trim().parse::<i32>() {
            Ok(v) => Value::Int(v),
            Err(_) => {
                return it.fail(
                    "NumberFormatException",
                    format!("For input string: \"{s}\""),
                    span,
                );
            }
        },
        ("toLong", 0) => match s.trim().parse::<i64>() {
            Ok(v) => Value::Long(v),
            Err(_) => {
                return it.fail(
                    "NumberFormatException",
                    format!("For input string: \"{s}\""),
                    span,
                );
            }
        },
        ("toDouble" | "toFloat", 0) => match s.trim().parse::<f64>() {
            Ok(v) => Value::Double(v),
            Err(_) => {
                return it.fail(
                    "NumberFormatException",
                    format!("For input string: \"{s}\""),
                    span,
                );
            }
        },
        ("toBigDecimal", 0) => match Dec::parse(s.trim()) {
            Some(d) => Value::Dec(d),
            None => {
                return it.fail(
                    "NumberFormatException",
                    format!("For input string: \"{s}\""),
                    span,
                );
            }
        },
        ("toBigInteger", 0) => match s.trim().parse::<i128>() {
            Ok(v) => Value::BigInt(v),
            Err(_) => {
                return it.fail(
                    "NumberFormatException",
                    format!("For input string: \"{s}\""),
                    span,
                );
            }
        },
        ("toBoolean", 0) => {
            let t = s.trim();
            Value::Bool(t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("y") || t == "1")
        }
        ("isNumber" | "isBigDecimal" | "isDouble" | "isFloat", 0) => {
            Value::Bool(Dec::parse(s.trim()).is_some() && !s.trim().is_empty())
        }
        ("isInteger", 0) => Value::Bool(is_int(s) && s.trim().parse::<i32>().is_ok()),
        ("isLong", 0) => Value::Bool(is_int(s) && s.trim().parse::<i64>().is_ok()),
        ("padLeft" | "padRight", 1 | 2) => {
            let n = int_arg(it, a.get(0), span)?;
            let fill = if a.len() == 2 {
                text(it, a.get(1), span)?
            } else {
                " ".into()
            };
            it.charge(padded_size(s, n, &fill), span)?;
            Value::str(pad(s, n, &fill, name == "padLeft"))
        }
        ("center", 1 | 2) => {
            let n = int_arg(it, a.get(0), span)?;
            let fill = if a.len() == 2 {
                text(it, a.get(1), span)?
            } else {
                " ".into()
            };
            it.charge(padded_size(s, n, &fill).saturating_mul(2), span)?;
            let len = s.chars().count() as i64;
            if n <= len {
                Value::Str(s.clone())
            } else {
                let left = (n - len) / 2;
                let l = pad("", left, &fill, true);
                let r = pad("", n - len - left, &fill, false);
                Value::str(format!("{l}{s}{r}"))
            }
        }
        ("reverse", 0) => {
            it.charge(s.len(), span)?;
            Value::str(s.chars().rev().collect::<String>())
        }
        ("capitalize", 0) => {
            it.charge(s.len() + 8, span)?;
            let mut c = s.chars();
            Value::str(c.next().map_or(String::new(), |f| {
                f.to_uppercase().collect::<String>() + c.as_str()
            }))
        }
        ("uncapitalize", 0) => {
            it.charge(s.len() + 8, span)?;
            let mut c = s.chars();
            Value::str(c.next().map_or(String::new(), |f| {
                f.to_lowercase().collect::<String>() + c.as_str()
            }))
        }
        ("equalsIgnoreCase", 1) => {
            let t = text(it, a.get(0), span)?;
            Value::Bool(lower(s).eq(lower(&t)))
        }
        ("compareTo", 1) => Value::Int(java_cmp(s.chars(), text(it, a.get(0), span)?.chars())),
        ("compareToIgnoreCase", 1) => {
            let t = text(it, a.get(0), span)?;
            Value::Int(java_cmp(lower(s), lower(&t)))
        }
        ("readLines" | "lines", 0) => {
            let n = s.lines().count();
            it.charge(s.len().saturating_add(n.saturating_mul(STR_BYTES)), span)?;
            Value::list(s.lines().map(Value::str).collect())
        }
        ("matches", 1) => {
            let re = regex_of(it, a.get(0), span)?;
            Value::Bool(crate::eval::ops_full_match(it, &re, s, span)?)
        }
        ("find", 1) if !matches!(a.get(0), Value::Closure(_)) => {
            let re = regex_of(it, a.get(0), span)?;
            match re.find(s) {
                Ok(Some(m)) => Value::str(m.as_str()),
                Ok(None) => Value::Null,
                Err(e) => return it.fail("PatternSyntaxException", e.to_string(), span),
            }
        }
        ("findAll", 1) if !matches!(a.get(0), Value::Closure(_)) => {
            let re = regex_of(it, a.get(0), span)?;
            let m = crate::eval::ops_find_all(it, &re, s, span)?;
            Value::list(m.iter_items().unwrap_or_default())
        }
        ("eachLine", 1) => {
            for (i, line) in s.lines().enumerate() {
                it.call_value(a.get(0), vec![Value::str(line), Value::Int(i as i32)], span)?;
            }
            Value::Str(s.clone())
        }
        ("count", 1) => {
            let p = text(it, a.get(0), span)?;
            Value::Int(if p.is_empty() {
                s.chars().count() as i32 + 1
            } else {
                // occurrences may overlap: 'aaaa'.count('aa') is 3
                let mut n = 0;
                let mut from = 0;
                while let Some(i) = s[from..].find(&*p) {
                    n += 1;
                    from += i + s[from + i..].chars().next().map_or(1, char::len_utf8);
                }
                n
            })
        }
        ("next" | "previous", 0) => {
            // the last character moves up or down by one
            let mut cs: Vec<char> = s.chars().collect();
            match cs.last_mut() {
                Some(c) => {
                    let code = if name == "next" {
                        (*c as u32).saturating_add(1)
                    } else {
                        (*c as u32).saturating_sub(1)
                    };
                    *c = char::from_u32(code).unwrap_or(*c);
                }
                None if name == "next" => cs.push('\u{1}'),
                None => {
                    return it.fail(
                        "StringIndexOutOfBoundsException",
                        "the string is empty",
                        span,
                    );
                }
            }
            it.charge(s.len() + 4, span)?;
            Value::str(cs.into_iter().collect::<String>())
        }
        ("lastIndexOf", 2) => {
            let p = text(it, a.get(0), span)?;
            let from = int_arg(it, a.get(1), span)?;
            let Ok(from) = usize::try_from(from) else {
                return Ok(Some(Value::Int(-1)));
            };
            let end = s
                .char_indices()
                .nth(from)
                .map_or(s.len(), |(b, _)| b)
                .saturating_add(p.len())
                .min(s.len());
            let end = (0..=end)
                .rev()
                .find(|e| s.is_char_boundary(*e))
                .unwrap_or(0);
            Value::Int(char_index(s, s[..end].rfind(&*p)))
        }
        ("inspect", 0) => {
            it.charge(s.len() + 2, span)?;
            Value::str(format!(
                "'{}'",
                s.replace('\\', "\\\\").replace('\'', "\\'")
            ))
        }
        ("take", 1) => {
            let n = int_arg(it, a.get(0), span)?.max(0) as usize;
            let end = s.char_indices().nth(n).map_or(s.len(), |(b, _)| b);
            it.charge(end, span)?;
            Value::str(&s[..end])
        }
        ("drop", 1) => {
            let n = int_arg(it, a.get(0), span)?.max(0) as usize;
            let start = s.char_indices().nth(n).map_or(s.len(), |(b, _)| b);
            it.charge(s.len() - start, span)?;
            Value::str(&s[start..])
        }
        ("concat" | "plus", 1) => {
            let t = text(it, a.get(0), span)?;
            it.charge(s.len().saturating_add(t.len()), span)?;
            let mut out = String::with_capacity(s.len() + t.len());
            out.push_str(s);
            out.push_str(&t);
            Value::str(out)
        }
        ("multiply" | "repeat", 1) => {
            let n = int_arg(it, a.get(0), span)?.max(0) as usize;
            it.charge(s.len().saturating_mul(n), span)?;
            Value::str(s.repeat(n))
        }
        ("minus", 1) => {
            let t = text(it, a.get(0), span)?;
            it.charge(s.len(), span)?;
            Value::str(s.replacen(&*t, "", 1))
        }
        ("getAt", 1) => it.get_index(&Value::Str(s.clone()), a.get(0), span)?,
        // bytes are a list of Java's signed bytes
        ("getBytes", 0 | 1) => {
            it.charge(s.len().saturating_mul(crate::limits::VALUE_BYTES), span)?;
            Value::list(s.bytes().map(|b| Value::Int(b as i8 as i32)).collect())
        }
        ("decodeBase64", 0) => {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(s.trim().as_bytes()) {
                Ok(bytes) => {
                    it.charge(bytes.len().saturating_mul(crate::limits::VALUE_BYTES), span)?;
                    Value::list(
                        bytes
                            .into_iter()
                            .map(|b| Value::Int(b as i8 as i32))
                            .collect(),
                    )
                }
                Err(e) => {
                    return it.fail(
                        "IllegalArgumentException",
                        format!("the text is not Base64: {e}"),
                        span,
                    );
                }
            }
        }
        ("toCharArray" | "chars", 0) => {
            let n = s.chars().count();
            it.charge(n.saturating_mul(STR_BYTES + 8), span)?;
            Value::list(s.chars().map(|c| Value::str(c.to_string())).collect())
        }
        ("stripIndent", 0) => {
            let n = s.lines().count();
            it.charge(
                s.len()
                    .saturating_mul(2)
                    .saturating_add(n.saturating_mul(32)),
                span,
            )?;
            let lines: Vec<&str> = s.lines().collect();
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            Value::str(
                lines
                    .iter()
                    .map(|l| l.get(indent..).unwrap_or("").to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        }
        ("normalize" | "denormalize" | "intern", 0) => Value::Str(s.clone()),
        ("takeRight" | "dropRight", 1) => {
            let n = int_arg(it, a.get(0), span)?.max(0) as usize;
            let len = s.chars().count();
            let cut = s
                .char_indices()
                .nth(len.saturating_sub(n))
                .map_or(s.len(), |(b, _)| b);
            it.charge(s.len(), span)?;
            Value::str(if name == "takeRight" {
                &s[cut..]
            } else {
                &s[..cut]
            })
        }
        ("startsWith", 2) => {
            let p = text(it, a.get(0), span)?;
            let from = int_arg(it, a.get(1), span)?;
            let start = usize::try_from(from)
                .ok()
                .and_then(|n| s.char_indices().map(|(b, _)| b).chain([s.len()]).nth(n));
            Value::Bool(start.is_some_and(|b| s[b..].starts_with(&*p)))
        }
        ("subSequence", 2) => return call(it, s, "substring", a, span),
        ("codePointAt", 1) => {
            let i = int_arg(it, a.get(0), span)?;
            match usize::try_from(i).ok().and_then(|i| s.chars().nth(i)) {
                Some(c) => Value::Int(c as i32),
                None => {
                    return it.fail(
                        "StringIndexOutOfBoundsException",
                        format!("index {i}, length {}", s.chars().count()),
                        span,
                    );
                }
            }
        }
        ("toCharacter", 0) => Value::str(s.chars().next().map(String::from).unwrap_or_default()),
        ("stripMargin", 0 | 1) => {
            let margin = if a.len() == 1 {
                text(it, a.get(0), span)?.chars().next().unwrap_or('|')
            } else {
                '|'
            };
            it.charge(s.len(), span)?;
            let lines: Vec<String> = s
                .split('\n')
                .map(|l| {
                    let t = l.trim_start();
                    match t.strip_prefix(margin) {
                        Some(rest) => rest.to_string(),
                        None => l.to_string(),
                    }
                })
                .collect();
            Value::str(lines.join("\n"))
        }
        ("tr", 2) => {
            let from = expand_tr(&text(it, a.get(0), span)?);
            let to = expand_tr(&text(it, a.get(1), span)?);
            it.charge(s.len().saturating_mul(4), span)?;
            let out: String = s
                .chars()
                .map(|c| match from.iter().rposition(|f| *f == c) {
                    // a shorter target repeats its last character, as Groovy's tr does
                    Some(i) => to.get(i).or(to.last()).copied().unwrap_or(c),
                    None => c,
                })
                .collect();
            Value::str(out)
        }
        ("find" | "findAll" | "eachMatch", 2) => {
            let re = regex_of(it, a.get(0), span)?;
            let f = a.get(1).clone();
            let m = crate::eval::ops_find_all(it, &re, s, span)?;
            let Value::Matcher(m) = m else {
                return Ok(None);
            };
            let mut out = Vec::new();
            for g in &m.groups {
                let args = if g.len() == 1 {
                    vec![g[0].clone()]
                } else {
                    g.clone()
                };
                let r = it.call_value(&f, args, span)?;
                if name == "find" {
                    return Ok(Some(r));
                }
                out.push(r);
            }
            match name {
                "find" => Value::Null,
                "eachMatch" => Value::Str(s.clone()),
                _ => Value::list(out),
            }
        }
        ("formatted", _) => {
            let mut args = vec![Value::Str(s.clone())];
            args.extend(a.v.iter().cloned());
            Value::str(super::format::format(it, &args, span)?)
        }
        ("first", 0) => Value::str(s.chars().next().map(|c| c.to_string()).unwrap_or_default()),
        ("last", 0) => Value::str(s.chars().last().map(|c| c.to_string()).unwrap_or_default()),
        ("execute" | "toURL", _) => {
            return it.fail(
                "SecurityException",
                format!("String.{name}() is not available in sync scripts"),
                span,
            );
        }
        (
            "each" | "collect" | "toList" | "toSet" | "any" | "every" | "eachWithIndex" | "findAll"
            | "find" | "takeWhile" | "dropWhile" | "join",
            _,
        ) => {
            let chars = Value::list(it.items(&Value::Str(s.clone()), span)?.unwrap_or_default());
            let r = super::collection::call(it, &chars, name, a, span)?;
            return Ok(match (name, r) {
                ("each" | "eachWithIndex", Some(_)) => Some(Value::Str(s.clone())),
                ("takeWhile" | "dropWhile", Some(v)) => {
                    it.charge(s.len(), span)?;
                    Some(Value::str(
                        v.iter_items()
                            .unwrap_or_default()
                            .iter()
                            .map(|x| x.to_string())
                            .collect::<String>(),
                    ))
                }
                (_, r) => r,
            });
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// The characters of `s` in lower case, without building a new string.
fn lower(s: &str) -> impl Iterator<Item = char> + Clone + '_ {
    s.chars().flat_map(char::to_lowercase)
}

/// Java's `String.compareTo`: difference of the first differing chars, else of the lengths.
fn java_cmp(a: impl Iterator<Item = char> + Clone, b: impl Iterator<Item = char> + Clone) -> i32 {
    for (x, y) in a.clone().zip(b.clone()) {
        if x != y {
            return x as i32 - y as i32;
        }
    }
    a.count() as i32 - b.count() as i32
}

/// The characters of a `tr` argument, with ranges (`a-z`) spelled out.
fn expand_tr(spec: &str) -> Vec<char> {
    let cs: Vec<char> = spec.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if i + 2 < cs.len() && cs[i + 1] == '-' && cs[i] <= cs[i + 2] {
            out.extend(cs[i]..=cs[i + 2]);
            i += 3;
        } else {
            out.push(cs[i]);
            i += 1;
        }
    }
    out
}

/// A list of byte values (Java's signed bytes, or 0–255) as bytes; `None` if an item is not one.
pub(crate) fn byte_list(v: &Value) -> Option<Vec<u8>> {
    v.iter_items()?
        .iter()
        .map(|x| {
            crate::value::to_i128(x)
                .filter(|n| (-128..=255).contains(n))
                .map(|n| n as u8)
        })
        .collect()
}
