//! Conversion between runtime values and `serde_json::Value` (variables in and out,
//! `JsonSlurper`, `JsonOutput`).

use std::rc::Rc;

use crate::num::Dec;
use crate::value::{Key, MapData, Value};

/// JSON → value, as Groovy's `JsonSlurper` builds it: objects become ordered maps, integers
/// `Integer`/`Long`, decimals `BigDecimal`.
pub fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from_i64(i)
            } else if let Some(u) = n.as_u64() {
                Value::BigInt(u as i128)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                Dec::from_f64(f).map_or(Value::Double(f), Value::Dec)
            }
        }
        serde_json::Value::String(s) => Value::str(s.as_str()),
        serde_json::Value::Array(a) => Value::list(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            let mut m = MapData::with_capacity_and_hasher(o.len(), Default::default());
            for (k, v) in o {
                m.insert(Key::Str(Rc::from(k.as_str())), from_json(v));
            }
            Value::map(m)
        }
    }
}

/// Value → JSON, as Groovy's `JsonOutput` writes it.
pub fn to_json(v: &Value) -> serde_json::Value {
    to_json_depth(v, 0)
}

fn to_json_depth(v: &Value, depth: usize) -> serde_json::Value {
    use serde_json::Value as J;
    if depth > 200 || !crate::value::visit(crate::value::Walk::Json, depth) {
        return J::Null;
    }
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Long(i) => J::from(*i),
        Value::BigInt(i) => match i64::try_from(*i) {
            Ok(x) => J::from(x),
            Err(_) => serde_json::Number::from_f64(*i as f64).map_or(J::Null, J::Number),
        },
        Value::Dec(d) => {
            if d.s == 0
                && let Ok(x) = i64::try_from(d.m)
            {
                return J::from(x);
            }
            serde_json::Number::from_f64(d.to_f64()).map_or(J::Null, J::Number)
        }
        Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        // strings are copied: count them like a printed collection, and stop copying past
        // the run's memory budget (the run then fails when it charges them)
        Value::Str(s) if !crate::value::spend_walk(s.len()) => J::Null,
        Value::Str(s) => J::String(s.to_string()),
        Value::Range(r) if !crate::value::spend_walk(r.len().saturating_mul(16)) => J::Null,
        Value::List(_) | Value::Range(_) | Value::Matcher(_) => J::Array(
            v.iter_items()
                .unwrap_or_default()
                .iter()
                .map(|x| to_json_depth(x, depth + 1))
                .collect(),
        ),
        Value::Map(m) => {
            let mut o = serde_json::Map::new();
            for (k, x) in m.borrow().iter() {
                o.insert(k.to_value().to_string(), to_json_depth(x, depth + 1));
            }
            J::Object(o)
        }
        Value::Entry(e) => {
            let mut o = serde_json::Map::new();
            o.insert(e.0.to_string(), to_json_depth(&e.1, depth + 1));
            J::Object(o)
        }
        Value::Object(obj) => {
            let mut o = serde_json::Map::new();
            for (k, x) in obj.fields.borrow().iter() {
                o.insert(k.to_string(), to_json_depth(x, depth + 1));
            }
            J::Object(o)
        }
        Value::Host(h) => h.to_json(),
        Value::Time(t) => t.to_json(),
        Value::Closure(_) | Value::Class(_) | Value::Regex(_) => J::String(v.to_string()),
    }
}

/// `JsonOutput.toJson`: compact JSON text, decimals written as Groovy writes them.
pub fn to_json_text(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out, 0);
    out
}

fn write_json(v: &Value, out: &mut String, depth: usize) {
    if depth > 200 || !crate::value::visit(crate::value::Walk::Json, depth) {
        out.push_str("null");
        return;
    }
    match v {
        Value::Dec(d) => out.push_str(&d.to_string()),
        Value::Str(s) if !crate::value::spend_walk(s.len()) => out.push_str("null"),
        Value::Str(s) => push_json_string(out, s),
        Value::Range(r) if !crate::value::spend_walk(r.len().saturating_mul(16)) => {
            out.push_str("null")
        }
        Value::List(_) | Value::Range(_) => {
            out.push('[');
            for (i, x) in v.iter_items().unwrap_or_default().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(out, &k.to_value().to_string());
                out.push(':');
                write_json(x, out, depth + 1);
            }
            out.push('}');
        }
        // depth ≥ 1 keeps counting in this walk's budget
        other => out.push_str(&to_json_depth(other, depth + 1).to_string()),
    }
}

/// A JSON string as Groovy's `JsonOutput` writes it: quotes, backslashes and control
/// characters escaped, and every character past ASCII as `\uXXXX`.
fn push_json_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
