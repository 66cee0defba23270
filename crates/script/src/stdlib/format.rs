//! Java's `String.format` for the conversions scripts use: `%s %d %f %x %o %e %b %c %n %%`, with
//! flags `-`, `0`, `+`, `,`, width and precision.

use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::num::Dec;
use crate::value::{Value, to_dec, to_f64, to_i128};

pub(crate) fn format(it: &mut Interp, args: &[Value], span: Span) -> R<String> {
    let Some(fmt) = args.first() else {
        return it.fail(
            "IllegalArgumentException",
            "String.format needs a format string",
            span,
        );
    };
    // format(String, List) is accepted as format(String, items…)
    let fmt = fmt.to_string();
    let rest: Vec<Value> = args[1..].to_vec();
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let mut flags = String::new();
        while i < chars.len() && "-0+, #".contains(chars[i]) {
            flags.push(chars[i]);
            i += 1;
        }
        let mut width = 0usize;
        while i < chars.len() && chars[i].is_ascii_digit() {
            width = (width * 10 + (chars[i] as usize - '0' as usize)).min(1 << 20);
            i += 1;
        }
        let mut prec: Option<usize> = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = 0;
            while i < chars.len() && chars[i].is_ascii_digit() {
                p = (p * 10 + (chars[i] as usize - '0' as usize)).min(1 << 10);
                i += 1;
            }
            prec = Some(p);
        }
        let Some(&conv) = chars.get(i) else {
            return it.fail(
                "UnknownFormatConversionException",
                "the format string ends in the middle of a % conversion",
                span,
            );
        };
        i += 1;
        if conv == 'n' {
            out.push('\n');
            continue;
        }
        if conv == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = rest.get(next).cloned() else {
            return it.fail(
                "MissingFormatArgumentException",
                format!("Format specifier '%{conv}' has no argument"),
                span,
            );
        };
        next += 1;
        let mut body = match conv.to_ascii_lowercase() {
            's' => {
                let s = arg.to_string();
                match prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'b' => arg.truthy().to_string(),
            'c' => arg
                .to_string()
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default(),
            'd' => {
                if !matches!(arg, Value::Int(_) | Value::Long(_) | Value::BigInt(_)) {
                    return it.fail(
                        "IllegalFormatConversionException",
                        format!("d != {}", arg.type_name()),
                        span,
                    );
                }
                let n = to_i128(&arg).unwrap_or(0);
                let mut s = n.unsigned_abs().to_string();
                if flags.contains(',') {
                    s = group(&s);
                }
                sign(n < 0, &flags) + &s
            }
            'x' | 'o' => {
                let n = to_i128(&arg).unwrap_or(0) as i64;
                if conv.eq_ignore_ascii_case(&'x') {
                    format!("{n:x}")
                } else {
                    format!("{n:o}")
                }
            }
            'f' | 'e' => {
                if !arg.is_number() {
                    return it.fail(
                        "IllegalFormatConversionException",
                        format!("{conv} != {}", arg.type_name()),
                        span,
                    );
                }
                let p = prec.unwrap_or(6);
                if conv == 'e' {
                    format!("{:.*e}", p, to_f64(&arg).unwrap_or(0.0))
                } else {
                    let d = to_dec(&arg)
                        .and_then(|d| d.set_scale_half_up(p as u32))
                        .unwrap_or(Dec::from_i64(0));
                    let neg = d.m < 0;
                    let s = Dec {
                        m: d.m.saturating_abs(),
                        s: d.s,
                    }
                    .to_string();
                    let s = if flags.contains(',') {
                        match s.split_once('.') {
                            Some((a, b)) => format!("{}.{b}", group(a)),
                            None => group(&s),
                        }
                    } else {
                        s
                    };
                    sign(neg, &flags) + &s
                }
            }
            other => {
                return it.fail(
                    "UnknownFormatConversionException",
                    format!("Conversion = '{other}'"),
                    span,
                );
            }
        };
        if conv.is_ascii_uppercase() {
            body = body.to_uppercase();
        }
        let len = body.chars().count();
        it.charge(width, span)?;
        if len < width {
            let pad = width - len;
            if flags.contains('-') {
                body.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && "dfxoe".contains(conv.to_ascii_lowercase()) {
                let (sign, digits) = if body.starts_with(['-', '+']) {
                    body.split_at(1)
                } else {
                    ("", body.as_str())
                };
                body = format!("{sign}{}{digits}", "0".repeat(pad));
            } else {
                body = " ".repeat(pad) + &body;
            }
        }
        out.push_str(&body);
    }
    it.charge(out.len(), span)?;
    Ok(out)
}

fn sign(neg: bool, flags: &str) -> String {
    if neg {
        "-".into()
    } else if flags.contains('+') {
        "+".into()
    } else if flags.contains(' ') {
        " ".into()
    } else {
        String::new()
    }
}

fn group(digits: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `new DecimalFormat(pattern).format(n)` for the patterns scripts use: a literal prefix and
/// suffix, `,` grouping, `0` for a digit always shown and `#` for one shown when not zero,
/// rounded half-even as Java's `DecimalFormat` is. Percent and exponent patterns are refused.
pub(crate) fn decimal_format(pattern: &str, v: &crate::value::Value) -> Result<String, String> {
    use crate::num::{Dec, Rounding};
    let pattern = pattern.split(';').next().unwrap_or(pattern);
    let is_digit = |c: char| matches!(c, '0' | '#' | ',' | '.');
    let start = pattern
        .find(is_digit)
        .ok_or_else(|| format!("the number pattern \"{pattern}\" has no digits"))?;
    let end = pattern.rfind(is_digit).map_or(start, |e| e + 1);
    let (prefix, body, suffix) = (&pattern[..start], &pattern[start..end], &pattern[end..]);
    if pattern.contains(['%', 'E', '\u{2030}', '\u{a4}']) {
        return Err(format!(
            "the number pattern \"{pattern}\" uses percent, per-mille, currency or exponent signs, which are not offered: format the number with String.format"
        ));
    }
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    let grouping = int_part
        .rfind(',')
        .map(|i| int_part.len() - i - 1)
        .filter(|g| *g > 0);
    let min_int = int_part.chars().filter(|c| *c == '0').count();
    let min_frac = frac_part.chars().filter(|c| *c == '0').count();
    let max_frac = frac_part.chars().filter(|c| matches!(c, '0' | '#')).count();
    let d = match v {
        crate::value::Value::Double(f) => Dec::from_f64(*f),
        other => crate::value::to_dec(other),
    }
    .ok_or_else(|| format!("cannot format {} as a number", v.describe()))?;
    let r = d
        .set_scale(max_frac as i64, Rounding::HalfEven)
        .map_err(|e| e.to_string())?;
    // Java keeps the sign of a negative number that rounds to zero ("-0")
    let negative = d.m < 0;
    let digits = r.m.unsigned_abs().to_string();
    let scale = r.s as usize;
    let (int_digits, frac_digits) = if digits.len() > scale {
        (
            digits[..digits.len() - scale].to_string(),
            digits[digits.len() - scale..].to_string(),
        )
    } else {
        ("0".to_string(), format!("{digits:0>scale$}"))
    };
    let mut frac = frac_digits;
    while frac.len() > min_frac && frac.ends_with('0') {
        frac.pop();
    }
    let mut int_digits = int_digits.trim_start_matches('0').to_string();
    while int_digits.len() < min_int {
        int_digits.insert(0, '0');
    }
    if let Some(g) = grouping {
        let chars: Vec<char> = int_digits.chars().collect();
        let mut out = String::new();
        for (i, c) in chars.iter().enumerate() {
            if i > 0 && (chars.len() - i).is_multiple_of(g) {
                out.push(',');
            }
            out.push(*c);
        }
        int_digits = out;
    }
    if int_digits.is_empty() && frac.is_empty() {
        int_digits.push('0');
    }
    let mut out = String::new();
    out.push_str(&prefix.replace('\'', ""));
    if negative {
        out.push('-');
    }
    out.push_str(&int_digits);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    out.push_str(&suffix.replace('\'', ""));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::{Limits, Script, to_json};

    fn fmt(src: &str) -> serde_json::Value {
        let s = Script::compile(src).map_err(|e| e.message).expect("parses");
        s.run(Default::default(), &Limits::default())
            .result
            .map(|v| to_json(&v))
            .unwrap_or_default()
    }

    #[test]
    fn formats_like_java() {
        assert_eq!(
            fmt("String.format('%5.1f|%-3d|%03d|%,d|%s%%', 2.25, 7, 5, 1234567, 'x')"),
            serde_json::json!("  2.3|7  |005|1,234,567|x%")
        );
        assert_eq!(
            fmt("String.format('%x %S %b', 255, 'up', null)"),
            serde_json::json!("ff UP false")
        );
    }
}
