//! Static methods and constants of the library classes scripts may use, and the refusals for
//! the ones they may not (`System.exit`, `Class.forName`, `Runtime`, …).

use std::rc::Rc;

use super::{Args, format, int_arg, natural_cmp, number::parse_decimal, sort_values};
use crate::ast::TypeName;
use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::num::Dec;
use crate::value::{Value, to_f64, to_i128, values_equal};

const FORBIDDEN: &[&str] = &[
    "System",
    "Runtime",
    "Class",
    "Thread",
    "ProcessBuilder",
    "File",
    "Files",
    "Paths",
    "URL",
    "Eval",
    "GroovyShell",
    "ClassLoader",
    "Socket",
];

pub(crate) fn has_static(class: &str, name: &str) -> bool {
    matches!(
        (class, name),
        ("Math", _)
            | (
                "Integer" | "Long" | "Double" | "Boolean" | "BigDecimal" | "String" | "Character",
                "valueOf"
                    | "parseInt"
                    | "parseLong"
                    | "parseDouble"
                    | "parseBoolean"
                    | "format"
                    | "join"
                    | "isDigit"
                    | "isLetter"
            )
            | (
                "JsonOutput" | "Collections" | "Arrays" | "Objects" | "Pattern",
                _
            )
    )
}

pub(crate) fn static_property(class: &str, name: &str) -> Option<Value> {
    Some(match (class, name) {
        ("Math", "PI") => Value::Double(std::f64::consts::PI),
        ("Math", "E") => Value::Double(std::f64::consts::E),
        ("Integer", "MAX_VALUE") => Value::Int(i32::MAX),
        ("Integer", "MIN_VALUE") => Value::Int(i32::MIN),
        ("Long", "MAX_VALUE") => Value::Long(i64::MAX),
        ("Long", "MIN_VALUE") => Value::Long(i64::MIN),
        ("BigDecimal", "ZERO") => Value::Dec(Dec::from_i64(0)),
        ("BigDecimal", "ONE") => Value::Dec(Dec::from_i64(1)),
        ("BigDecimal", "TEN") => Value::Dec(Dec::from_i64(10)),
        ("BigDecimal", n) if n.starts_with("ROUND_") => {
            let i = crate::num::Rounding::ALL
                .iter()
                .position(|(x, _)| *x == &n[6..])?;
            Value::Int(i as i32)
        }
        ("RoundingMode", n) => super::number::rounding_value(crate::num::Rounding::named(n)?),
        ("BigInteger", "ZERO") => Value::BigInt(0),
        ("BigInteger", "ONE") => Value::BigInt(1),
        ("BigInteger", "TWO") => Value::BigInt(2),
        ("BigInteger", "TEN") => Value::BigInt(10),
        ("Pattern", "CASE_INSENSITIVE") => Value::Int(2),
        ("Pattern", "COMMENTS") => Value::Int(4),
        ("Pattern", "MULTILINE") => Value::Int(8),
        ("Pattern", "DOTALL") => Value::Int(32),
        ("Boolean", "TRUE") => Value::Bool(true),
        ("Boolean", "FALSE") => Value::Bool(false),
        ("System", "out" | "err") => Value::Class(Rc::from("System.out")),
        (c, "name") => Value::str(crate::eval::qualified_name(c)),
        (c, "simpleName") => Value::str(c),
        (c, "class") => Value::Class(Rc::from(c)),
        _ => return None,
    })
}

fn num(it: &Interp, v: &Value, span: Span) -> R<f64> {
    match to_f64(v) {
        Some(f) => Ok(f),
        None => it.fail(
            "IllegalArgumentException",
            format!("expected a number but got {}", v.describe()),
            span,
        ),
    }
}

fn parse_int(it: &Interp, s: &Value, span: Span) -> R<i128> {
    let text = s.to_string();
    text.trim().parse::<i128>().map_err(|_| {
        it.throw(
            "NumberFormatException",
            format!("For input string: \"{text}\""),
            span,
        )
    })
}

pub(crate) fn call_static(
    it: &mut Interp,
    class: &Rc<str>,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    let class_s: &str = class;
    if class_s == "System" && name == "lineSeparator" {
        return Ok(Some(Value::str("\n")));
    }
    if (class_s == "System" || super::time::CLASSES.contains(&class_s))
        && let Some(v) = super::time::call_static(it, class_s, name, a, span)?
    {
        return Ok(Some(v));
    }
    // what every class answers: `String.class.isInstance(x)`, `c.getName()`
    match (name, a.len()) {
        ("isInstance", 1) => {
            return Ok(Some(Value::Bool(crate::eval::instance_of(
                it,
                a.get(0),
                class_s,
            ))));
        }
        ("getName", 0) => return Ok(Some(Value::str(crate::eval::qualified_name(class_s)))),
        ("getSimpleName", 0) => return Ok(Some(Value::str(class_s))),
        _ => {}
    }
    if class_s == "RoundingMode" && matches!(name, "valueOf") && a.len() == 1 {
        let n = a.get(0).to_string();
        return match crate::num::Rounding::named(&n) {
            Some(r) => Ok(Some(super::number::rounding_value(r))),
            None => it.fail(
                "IllegalArgumentException",
                format!("No enum constant java.math.RoundingMode.{n}"),
                span,
            ),
        };
    }
    if FORBIDDEN.contains(&class_s) {
        return it.fail(
            "SecurityException",
            format!("{class_s}.{name}() is not available in sync scripts: they have no file, process, network or reflection access (the time is new Date() or Instant.now())"),
            span,
        );
    }
    let v = match (class_s, name, a.len()) {
        ("System.out", "println", _) => {
            let s = match a.v.first() {
                Some(v) => super::string::text(it, v, span)?,
                None => Rc::from(""),
            };
            it.charge(s.len(), span)?;
            it.stdout.push_str(&s);
            it.stdout.push('\n');
            Value::Null
        }
        ("System.out", "print", 1) => {
            let s = super::string::text(it, a.get(0), span)?;
            it.charge(s.len(), span)?;
            it.stdout.push_str(&s);
            Value::Null
        }
        ("Math", "max" | "min", 2) => {
            let o = crate::value::compare_numbers(a.get(0), a.get(1));
            let first = (name == "max") == (o != Some(std::cmp::Ordering::Less));
            if first {
                a.get(0).clone()
            } else {
                a.get(1).clone()
            }
        }
        ("Math", "abs", 1) => {
            return super::number::call(it, a.get(0), "abs", &Args::new(&[]), span);
        }
        ("Math", "round", 1) => match a.get(0) {
            Value::Double(d) => Value::Long((d + 0.5).floor() as i64),
            other => Value::Int((num(it, other, span)? + 0.5).floor() as i32),
        },
        (
            "Math",
            "floor" | "ceil" | "sqrt" | "log" | "log10" | "exp" | "sin" | "cos" | "tan" | "signum"
            | "cbrt",
            1,
        ) => {
            let x = num(it, a.get(0), span)?;
            Value::Double(match name {
                "floor" => x.floor(),
                "ceil" => x.ceil(),
                "sqrt" => x.sqrt(),
                "log" => x.ln(),
                "log10" => x.log10(),
                "exp" => x.exp(),
                "sin" => x.sin(),
                "cos" => x.cos(),
                "tan" => x.tan(),
                "cbrt" => x.cbrt(),
                _ => x.signum(),
            })
        }
        ("Math", "pow", 2) => {
            Value::Double(num(it, a.get(0), span)?.powf(num(it, a.get(1), span)?))
        }
        ("Math", "random", 0) => {
            return it.fail(
                "SecurityException",
                "Math.random() is not available: sync scripts must be deterministic",
                span,
            );
        }
        ("Integer", "parseInt" | "valueOf", 1) if !a.get(0).is_number() => {
            Value::Int(parse_int(it, a.get(0), span)? as i32)
        }
        ("Integer", "valueOf", 1) => Value::Int(to_i128(a.get(0)).unwrap_or(0) as i32),
        ("Integer", "parseInt" | "valueOf", 2) => {
            let radix = int_arg(it, a.get(1), span)? as u32;
            let s = a.get(0).to_string();
            match i64::from_str_radix(s.trim(), radix.clamp(2, 36)) {
                Ok(v) => Value::Int(v as i32),
                Err(_) => {
                    return it.fail(
                        "NumberFormatException",
                        format!("For input string: \"{s}\""),
                        span,
                    );
                }
            }
        }
        ("Integer" | "Long", "toHexString" | "toBinaryString" | "toOctalString", 1)
        | ("Integer" | "Long", "toString", 2) => {
            let n = to_i128(a.get(0)).unwrap_or(0);
            // Java prints negative hex/binary/octal as the two's complement of the width
            let bits: u32 = if class_s == "Integer" { 32 } else { 64 };
            let radix = match name {
                "toHexString" => 16,
                "toBinaryString" => 2,
                "toOctalString" => 8,
                _ => int_arg(it, a.get(1), span)?.clamp(2, 36) as u32,
            };
            let (neg, mag) = if name == "toString" {
                (n < 0, n.unsigned_abs())
            } else {
                (false, (n as u128) & ((1u128 << bits) - 1))
            };
            let mut digits = Vec::new();
            let mut m = mag;
            loop {
                digits
                    .push(std::char::from_digit((m % radix as u128) as u32, radix).unwrap_or('0'));
                m /= radix as u128;
                if m == 0 {
                    break;
                }
            }
            if neg {
                digits.push('-');
            }
            Value::str(digits.into_iter().rev().collect::<String>())
        }
        ("Integer" | "Long", "compare", 2) => {
            Value::Int(match crate::value::compare_numbers(a.get(0), a.get(1)) {
                Some(std::cmp::Ordering::Less) => -1,
                Some(std::cmp::Ordering::Greater) => 1,
                _ => 0,
            })
        }
        ("Integer" | "Long", "signum", 1) => {
            Value::Int(to_i128(a.get(0)).unwrap_or(0).signum() as i32)
        }
        ("Integer" | "Long", "sum" | "max" | "min", 2) => {
            let (x, y) = (
                to_i128(a.get(0)).unwrap_or(0),
                to_i128(a.get(1)).unwrap_or(0),
            );
            let r = match name {
                "sum" => x.wrapping_add(y),
                "max" => x.max(y),
                _ => x.min(y),
            };
            if class_s == "Integer" {
                Value::Int(r as i32)
            } else {
                Value::Long(r as i64)
            }
        }
        ("Integer" | "Long" | "Double" | "String" | "Boolean" | "BigDecimal", "toString", 1) => {
            Value::Str(super::string::text(it, a.get(0), span)?)
        }
        ("Long", "parseLong" | "valueOf", 1) => Value::Long(parse_int(it, a.get(0), span)? as i64),
        ("Double" | "Float", "parseDouble" | "parseFloat" | "valueOf", 1) => crate::eval::cast(
            it,
            a.get(0).clone(),
            &TypeName {
                name: Rc::from("Double"),
                array: false,
            },
            span,
        )?,
        ("Boolean", "parseBoolean" | "valueOf", 1) => {
            Value::Bool(a.get(0).to_string().eq_ignore_ascii_case("true"))
        }
        ("BigDecimal", "valueOf", 1) => match a.get(0) {
            Value::Double(d) => Value::Dec(Dec::from_f64(*d).unwrap_or(Dec::from_i64(0))),
            other => match parse_decimal(&other.to_string()) {
                Some(d) => Value::Dec(d),
                None => {
                    return it.fail(
                        "NumberFormatException",
                        format!("not a number: {other}"),
                        span,
                    );
                }
            },
        },
        ("String", "valueOf", 1) => Value::Str(super::string::text(it, a.get(0), span)?),
        ("String", "format", _) => Value::str(format::format(it, a.v, span)?),
        ("String", "join", _) => {
            let sep = a.get(0).to_string();
            let items: Vec<Value> = if a.len() == 2
                && matches!(a.get(1), Value::List(_) | Value::Range(_) | Value::Map(_))
            {
                it.items(a.get(1), span)?.unwrap_or_default()
            } else {
                a.v.iter().skip(1).cloned().collect()
            };
            let mut parts = Vec::with_capacity(items.len());
            for v in &items {
                parts.push(super::string::text(it, v, span)?);
            }
            let size = parts.iter().fold(
                sep.len().saturating_mul(parts.len().saturating_sub(1)),
                |n, p| n.saturating_add(p.len()),
            );
            it.charge(size, span)?;
            Value::str(parts.join(sep.as_str()))
        }
        (
            "Character",
            "isDigit" | "isLetter" | "isLetterOrDigit" | "isUpperCase" | "isLowerCase"
            | "isWhitespace",
            1,
        ) => {
            let c = a.get(0).to_string().chars().next().unwrap_or('\0');
            Value::Bool(match name {
                "isDigit" => c.is_ascii_digit(),
                "isLetter" => c.is_alphabetic(),
                "isLetterOrDigit" => c.is_alphanumeric(),
                "isUpperCase" => c.is_uppercase(),
                "isLowerCase" => c.is_lowercase(),
                _ => c.is_whitespace(),
            })
        }
        ("JsonOutput", "toJson", 1) => {
            let s = crate::json::to_json_text(a.get(0));
            // the conversion counted what it copied; charge that before keeping the text
            it.charge(s.len(), span)?;
            Value::str(s)
        }
        ("JsonOutput", "prettyPrint", 1) => {
            let text = super::string::text(it, a.get(0), span)?;
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(j) => {
                    it.charge(text.len().saturating_mul(8), span)?;
                    Value::str(pretty(&j))
                }
                Err(e) => {
                    return it.fail(
                        "JsonException",
                        format!("the text is not valid JSON: {e}"),
                        span,
                    );
                }
            }
        }
        ("Collections" | "Arrays", "asList", _) => Value::list(a.v.to_vec()),
        ("Collections", "emptyList", 0) => Value::list(Vec::new()),
        ("Collections", "emptyMap", 0) => Value::map(Default::default()),
        ("Collections", "sort", 1) => {
            if let Value::List(l) = a.get(0) {
                let items = l.borrow().clone();
                let sorted = sort_values(it, items, span, &mut |_, x, y| Ok(natural_cmp(x, y)))?;
                *l.borrow_mut() = sorted;
            }
            Value::Null
        }
        ("Collections", "reverse", 1) => {
            if let Value::List(l) = a.get(0) {
                l.borrow_mut().reverse();
            }
            Value::Null
        }
        ("Collections", "max" | "min" | "unmodifiableList" | "unmodifiableMap", 1) => {
            let m = match name {
                "unmodifiableList" | "unmodifiableMap" => return Ok(Some(a.get(0).clone())),
                other => other,
            };
            return super::collection::call(it, a.get(0), m, &Args::new(&[]), span);
        }
        ("Objects", "equals", 2) => Value::Bool(values_equal(a.get(0), a.get(1))),
        ("Objects", "isNull", 1) => Value::Bool(matches!(a.get(0), Value::Null)),
        ("Objects", "nonNull", 1) => Value::Bool(!matches!(a.get(0), Value::Null)),
        ("Objects", "toString", 1 | 2) => match a.get(0) {
            Value::Null if a.len() == 2 => a.get(1).clone(),
            v => Value::str(v.to_string()),
        },
        ("Objects", "requireNonNull", 1 | 2) => match a.get(0) {
            Value::Null => return it.fail("NullPointerException", a.get(1).to_string(), span),
            v => v.clone(),
        },
        ("Pattern", "compile", 1) => Value::Regex(it.regex(&a.get(0).to_string(), span)?),
        ("Pattern", "compile", 2) => {
            // Java's flags as inline flags
            let flags = int_arg(it, a.get(1), span)?;
            let mut inline = String::new();
            for (bit, c) in [(2, 'i'), (4, 'x'), (8, 'm'), (32, 's')] {
                if flags & bit != 0 {
                    inline.push(c);
                }
            }
            let p = a.get(0).to_string();
            let p = if inline.is_empty() {
                p
            } else {
                format!("(?{inline}){p}")
            };
            Value::Regex(it.regex(&p, span)?)
        }
        ("BigInteger", "valueOf", 1) => Value::BigInt(to_i128(a.get(0)).unwrap_or(0)),
        ("Matcher", "quoteReplacement", 1) => Value::str(
            a.get(0)
                .to_string()
                .replace('\\', "\\\\")
                .replace('$', "\\$"),
        ),
        ("Pattern", "matches", 2) => {
            let re = it.regex(&a.get(0).to_string(), span)?;
            Value::Bool(crate::eval::ops_full_match(
                it,
                &re,
                &a.get(1).to_string(),
                span,
            )?)
        }
        ("Pattern", "quote", 1) => {
            Value::str(fancy_regex::escape(&a.get(0).to_string()).to_string())
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

/// Groovy's `JsonOutput.prettyPrint` layout: four-space indent, `"key": value`.
fn pretty(j: &serde_json::Value) -> String {
    fn go(j: &serde_json::Value, ind: usize, out: &mut String) {
        match j {
            serde_json::Value::Array(a) if !a.is_empty() => {
                out.push_str("[\n");
                for (i, x) in a.iter().enumerate() {
                    out.push_str(&" ".repeat(ind + 4));
                    go(x, ind + 4, out);
                    if i + 1 < a.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                out.push_str(&" ".repeat(ind));
                out.push(']');
            }
            serde_json::Value::Object(o) if !o.is_empty() => {
                out.push_str("{\n");
                for (i, (k, x)) in o.iter().enumerate() {
                    out.push_str(&" ".repeat(ind + 4));
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push_str(": ");
                    go(x, ind + 4, out);
                    if i + 1 < o.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                out.push_str(&" ".repeat(ind));
                out.push('}');
            }
            // Groovy leaves an indented blank line inside an empty array or object
            serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
                let (open, close) = if j.is_array() { ('[', ']') } else { ('{', '}') };
                out.push(open);
                out.push('\n');
                out.push_str(&" ".repeat(ind + 4));
                out.push('\n');
                out.push_str(&" ".repeat(ind));
                out.push(close);
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    go(j, 0, &mut out);
    out
}
