//! String methods (Java's and the GDK's).

use std::rc::Rc;

use super::{Args, int_arg};
use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::num::Dec;
use crate::value::Value;

pub(crate) const METHODS: &[&str] = &[
    "length",
    "size",
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

/// Java's `Matcher.appendReplacement` syntax: `$1`, `${name}`, `\$`.
fn expand(caps: &fancy_regex::Captures, rep: &str) -> String {
    let mut out = String::new();
    let b: Vec<char> = rep.chars().collect();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            '\\' if i + 1 < b.len() => {
                out.push(b[i + 1]);
                i += 2;
            }
            '$' if i + 1 < b.len() && b[i + 1].is_ascii_digit() => {
                let mut j = i + 1;
                let mut n = 0usize;
                while j < b.len()
                    && b[j].is_ascii_digit()
                    && (n * 10 + b[j] as usize - '0' as usize) < caps.len().max(1)
                {
                    n = n * 10 + (b[j] as usize - '0' as usize);
                    j += 1;
                }
                if j == i + 1 {
                    j += 1;
                    n = b[i + 1] as usize - '0' as usize;
                }
                out.push_str(caps.get(n).map_or("", |m| m.as_str()));
                i = j;
            }
            '$' if i + 1 < b.len() && b[i + 1] == '{' => {
                let end = b[i..]
                    .iter()
                    .position(|c| *c == '}')
                    .map_or(b.len(), |p| p + i);
                let name: String = b[i + 2..end.min(b.len())].iter().collect();
                out.push_str(caps.name(&name).map_or("", |m| m.as_str()));
                i = end + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn replace_regex(it: &mut Interp, s: &str, a: &Args, first_only: bool, span: Span) -> R<Value> {
    let re = regex_of(it, a.get(0), span)?;
    let mut out = String::new();
    let mut last = 0;
    let mut caps_list = Vec::new();
    for c in re.captures_iter(s) {
        match c {
            Ok(c) => caps_list.push(c),
            Err(e) => {
                return it.fail(
                    "PatternSyntaxException",
                    format!("regular expression failed: {e}"),
                    span,
                );
            }
        }
        if first_only {
            break;
        }
    }
    for caps in caps_list {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&s[last..m.start()]);
        match a.get(1) {
            f @ Value::Closure(_) => {
                let groups: Vec<Value> = (0..caps.len())
                    .map(|i| caps.get(i).map_or(Value::Null, |g| Value::str(g.as_str())))
                    .collect();
                let arg = if groups.len() == 1 {
                    groups[0].clone()
                } else {
                    Value::list(groups)
                };
                let r = it.call_value(f, vec![arg], span)?;
                out.push_str(&r.to_string());
            }
            rep => out.push_str(&expand(&caps, &rep.to_string())),
        }
        last = m.end();
        it.step(span)?;
    }
    out.push_str(&s[last..]);
    it.charge(out.len(), span)?;
    Ok(Value::str(out))
}

/// Java's `String.split(regex)`: trailing empty strings are dropped.
fn split(it: &mut Interp, s: &str, a: &Args, span: Span) -> R<Value> {
    if a.len() == 0 {
        return Ok(Value::list(s.split_whitespace().map(Value::str).collect()));
    }
    let re = regex_of(it, a.get(0), span)?;
    let mut parts = Vec::new();
    let mut last = 0;
    for m in re.find_iter(s) {
        let m = m.map_err(|e| {
            it.throw(
                "PatternSyntaxException",
                format!("regular expression failed: {e}"),
                span,
            )
        })?;
        if m.end() == 0 {
            continue;
        }
        if m.start() == m.end() && m.start() >= s.len() {
            break;
        }
        parts.push(&s[last..m.start()]);
        last = m.end();
    }
    parts.push(&s[last..]);
    if s.is_empty() {
        return Ok(Value::list(vec![Value::str("")]));
    }
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    it.charge(s.len() + 16 * parts.len(), span)?;
    Ok(Value::list(parts.into_iter().map(Value::str).collect()))
}

fn is_int(s: &str) -> bool {
    let t = s.trim();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

fn char_index(s: &str, byte: Option<usize>) -> i32 {
    byte.map_or(-1, |b| s[..b].chars().count() as i32)
}

fn substring(it: &Interp, chars: &[char], from: i64, to: i64, span: Span) -> R<Value> {
    if from < 0 || to > chars.len() as i64 || from > to {
        return it.fail(
            "StringIndexOutOfBoundsException",
            format!("begin {from}, end {to}, length {}", chars.len()),
            span,
        );
    }
    Ok(Value::str(
        chars[from as usize..to as usize].iter().collect::<String>(),
    ))
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
    let arg_str = |i: usize| a.get(i).to_string();
    let v = match (name, a.len()) {
        ("length" | "size", 0) => Value::Int(s.chars().count() as i32),
        ("isEmpty", 0) => Value::Bool(s.is_empty()),
        ("isBlank" | "isAllWhitespace", 0) => Value::Bool(s.trim().is_empty()),
        ("trim" | "strip", 0) => Value::str(s.trim()),
        ("stripLeading", 0) => Value::str(s.trim_start()),
        ("stripTrailing", 0) => Value::str(s.trim_end()),
        ("toLowerCase", 0) => Value::str(s.to_lowercase()),
        ("toUpperCase", 0) => Value::str(s.to_uppercase()),
        ("contains", 1) => Value::Bool(s.contains(&*arg_str(0))),
        ("startsWith", 1) => Value::Bool(s.starts_with(&*arg_str(0))),
        ("endsWith", 1) => Value::Bool(s.ends_with(&*arg_str(0))),
        ("indexOf", 1) => Value::Int(char_index(s, s.find(&*arg_str(0)))),
        ("indexOf", 2) => {
            let from = int_arg(it, a.get(1), span)?.max(0) as usize;
            let start = s.char_indices().nth(from).map_or(s.len(), |(b, _)| b);
            Value::Int(char_index(
                s,
                s[start..].find(&*arg_str(0)).map(|b| b + start),
            ))
        }
        ("lastIndexOf", 1) => Value::Int(char_index(s, s.rfind(&*arg_str(0)))),
        ("substring", 1 | 2) => {
            let chars: Vec<char> = s.chars().collect();
            let from = int_arg(it, a.get(0), span)?;
            let to = if a.len() == 2 {
                int_arg(it, a.get(1), span)?
            } else {
                chars.len() as i64
            };
            substring(it, &chars, from, to, span)?
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
            let r = s.replace(&*arg_str(0), &arg_str(1));
            it.charge(r.len(), span)?;
            Value::str(r)
        }
        ("replaceAll", 2) => replace_regex(it, s, a, false, span)?,
        ("replaceFirst", 2) => replace_regex(it, s, a, true, span)?,
        ("split", 0 | 1) => split(it, s, a, span)?,
        ("tokenize", 0 | 1) => {
            let delims: Vec<char> = if a.len() == 0 {
                vec![' ', '\t', '\n', '\r', '\u{c}']
            } else {
                arg_str(0).chars().collect()
            };
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
        ("toBoolean", 0) => Value::Bool(matches!(
            s.trim().to_lowercase().as_str(),
            "true" | "y" | "1"
        )),
        ("isNumber" | "isBigDecimal" | "isDouble" | "isFloat", 0) => {
            Value::Bool(Dec::parse(s.trim()).is_some() && !s.trim().is_empty())
        }
        ("isInteger", 0) => Value::Bool(is_int(s) && s.trim().parse::<i32>().is_ok()),
        ("isLong", 0) => Value::Bool(is_int(s) && s.trim().parse::<i64>().is_ok()),
        ("padLeft" | "padRight", 1 | 2) => {
            let n = int_arg(it, a.get(0), span)?;
            it.charge(n.max(0) as usize, span)?;
            let fill = if a.len() == 2 { arg_str(1) } else { " ".into() };
            Value::str(pad(s, n, &fill, name == "padLeft"))
        }
        ("center", 1 | 2) => {
            let n = int_arg(it, a.get(0), span)?;
            it.charge(n.max(0) as usize, span)?;
            let fill = if a.len() == 2 { arg_str(1) } else { " ".into() };
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
        ("reverse", 0) => Value::str(s.chars().rev().collect::<String>()),
        ("capitalize", 0) => {
            let mut c = s.chars();
            Value::str(c.next().map_or(String::new(), |f| {
                f.to_uppercase().collect::<String>() + c.as_str()
            }))
        }
        ("uncapitalize", 0) => {
            let mut c = s.chars();
            Value::str(c.next().map_or(String::new(), |f| {
                f.to_lowercase().collect::<String>() + c.as_str()
            }))
        }
        ("equalsIgnoreCase", 1) => Value::Bool(s.to_lowercase() == arg_str(0).to_lowercase()),
        ("compareTo", 1) => Value::Int(java_cmp(s, &arg_str(0))),
        ("compareToIgnoreCase", 1) => {
            Value::Int(java_cmp(&s.to_lowercase(), &arg_str(0).to_lowercase()))
        }
        ("readLines" | "lines", 0) => Value::list(s.lines().map(Value::str).collect()),
        ("matches", 1) => {
            let re = regex_of(it, a.get(0), span)?;
            Value::Bool(crate::eval::ops_full_match(it, &re, s, span)?)
        }
        ("find", 1) => {
            let re = regex_of(it, a.get(0), span)?;
            match re.find(s) {
                Ok(Some(m)) => Value::str(m.as_str()),
                Ok(None) => Value::Null,
                Err(e) => return it.fail("PatternSyntaxException", e.to_string(), span),
            }
        }
        ("findAll", 1) => {
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
            let p = arg_str(0);
            Value::Int(if p.is_empty() {
                s.chars().count() as i32 + 1
            } else {
                s.matches(&*p).count() as i32
            })
        }
        ("take", 1) => Value::str(
            s.chars()
                .take(int_arg(it, a.get(0), span)?.max(0) as usize)
                .collect::<String>(),
        ),
        ("drop", 1) => Value::str(
            s.chars()
                .skip(int_arg(it, a.get(0), span)?.max(0) as usize)
                .collect::<String>(),
        ),
        ("concat" | "plus", 1) => Value::str(format!("{s}{}", arg_str(0))),
        ("multiply" | "repeat", 1) => {
            let n = int_arg(it, a.get(0), span)?.max(0) as usize;
            it.charge(s.len().saturating_mul(n), span)?;
            Value::str(s.repeat(n))
        }
        ("minus", 1) => Value::str(s.replacen(&*arg_str(0), "", 1)),
        ("getAt", 1) => it.get_index(&Value::Str(s.clone()), a.get(0), span)?,
        ("toCharArray" | "chars", 0) => {
            Value::list(s.chars().map(|c| Value::str(c.to_string())).collect())
        }
        ("stripIndent", 0) => {
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
            let chars = Value::list(s.chars().map(|c| Value::str(c.to_string())).collect());
            let r = super::collection::call(it, &chars, name, a, span)?;
            return Ok(match (name, r) {
                ("each", Some(_)) => Some(Value::Str(s.clone())),
                ("takeWhile" | "dropWhile", Some(v)) => Some(Value::str(
                    v.iter_items()
                        .unwrap_or_default()
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<String>(),
                )),
                (_, r) => r,
            });
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// Java's `String.compareTo`: difference of the first differing chars, else of the lengths.
fn java_cmp(a: &str, b: &str) -> i32 {
    for (x, y) in a.chars().zip(b.chars()) {
        if x != y {
            return x as i32 - y as i32;
        }
    }
    a.chars().count() as i32 - b.chars().count() as i32
}
