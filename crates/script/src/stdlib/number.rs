//! Number methods.

use super::{Args, int_arg};
use crate::ast::{BinOp, TypeName};
use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::num::Dec;
use crate::value::{Value, to_dec, to_f64, to_i128};

pub(crate) const METHODS: &[&str] = &[
    "toString",
    "intValue",
    "longValue",
    "doubleValue",
    "floatValue",
    "toInteger",
    "toLong",
    "toDouble",
    "toBigDecimal",
    "toBigInteger",
    "abs",
    "round",
    "intdiv",
    "times",
    "upto",
    "downto",
    "step",
    "compareTo",
    "plus",
    "minus",
    "multiply",
    "div",
    "mod",
    "power",
    "setScale",
    "isNaN",
    "floor",
    "ceil",
    "max",
    "min",
    "signum",
    "negate",
    "stripTrailingZeros",
    "scale",
    "precision",
    "toPlainString",
    "shortValue",
    "byteValue",
    "equals",
    "trunc",
];

fn cast(it: &mut Interp, v: &Value, t: &str, span: Span) -> R<Value> {
    crate::eval::cast(
        it,
        v.clone(),
        &TypeName {
            name: t.into(),
            array: false,
        },
        span,
    )
}

pub(crate) fn call(
    it: &mut Interp,
    v: &Value,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    let r = match (name, a.len()) {
        ("intValue" | "toInteger" | "shortValue" | "byteValue", 0) => cast(it, v, "Integer", span)?,
        ("longValue" | "toLong", 0) => cast(it, v, "Long", span)?,
        ("doubleValue" | "floatValue" | "toDouble" | "toFloat", 0) => cast(it, v, "Double", span)?,
        ("toBigDecimal", 0) => cast(it, v, "BigDecimal", span)?,
        ("toBigInteger", 0) => cast(it, v, "BigInteger", span)?,
        ("abs", 0) => match v {
            Value::Int(i) => Value::Int(i.wrapping_abs()),
            Value::Long(i) => Value::Long(i.wrapping_abs()),
            Value::BigInt(i) => Value::BigInt(i.saturating_abs()),
            Value::Dec(d) => Value::Dec(if d.m < 0 { d.neg() } else { *d }),
            Value::Double(d) => Value::Double(d.abs()),
            _ => return Ok(None),
        },
        ("negate", 0) => crate::eval::binary_op(it, BinOp::Sub, Value::Int(0), v.clone(), span)?,
        ("signum", 0) => Value::Int(match crate::value::compare_numbers(v, &Value::Int(0)) {
            Some(std::cmp::Ordering::Less) => -1,
            Some(std::cmp::Ordering::Greater) => 1,
            _ => 0,
        }),
        ("round", 0) => match v {
            Value::Double(d) => Value::from_i64((d + 0.5).floor() as i64),
            Value::Dec(d) => {
                let r = d.set_scale_half_up(0).unwrap_or(*d);
                Value::from_i64(r.m as i64)
            }
            other => other.clone(),
        },
        ("round" | "setScale", 1 | 2) => {
            let places = int_arg(it, a.get(0), span)?.clamp(0, 30) as u32;
            match v {
                Value::Double(d) => {
                    let f = 10f64.powi(places as i32);
                    Value::Double((d * f).round() / f)
                }
                other => match to_dec(other).and_then(|d| d.set_scale_half_up(places)) {
                    Some(d) => Value::Dec(d),
                    None => {
                        return it.fail(
                            "ArithmeticException",
                            "the number is too large to round",
                            span,
                        );
                    }
                },
            }
        }
        ("trunc", 0) => Value::from_i128(to_i128(v).unwrap_or(0)),
        ("floor", 0) => Value::Double(to_f64(v).unwrap_or(0.0).floor()),
        ("ceil", 0) => Value::Double(to_f64(v).unwrap_or(0.0).ceil()),
        ("isNaN", 0) => Value::Bool(to_f64(v).is_some_and(f64::is_nan)),
        ("stripTrailingZeros", 0) => match v {
            Value::Dec(d) => Value::Dec(d.stripped()),
            other => other.clone(),
        },
        ("toPlainString", 0) => Value::str(v.to_string()),
        ("scale", 0) => Value::Int(to_dec(v).map_or(0, |d| d.s as i32)),
        ("intdiv", 1) => {
            let (x, y) = (to_i128(v).unwrap_or(0), to_i128(a.get(0)).unwrap_or(0));
            if y == 0 {
                return it.fail("ArithmeticException", "/ by zero", span);
            }
            let Some(q) = x.checked_div(y) else {
                return it.fail(
                    "ArithmeticException",
                    "the result of intdiv is too large",
                    span,
                );
            };
            match (v, a.get(0)) {
                (Value::Int(_), Value::Int(_)) => Value::Int(q as i32),
                _ => Value::from_i128(q),
            }
        }
        ("compareTo", 1) => {
            Value::Int(crate::value::compare_numbers(v, a.get(0)).map_or(0, |o| o as i32))
        }
        ("plus" | "minus" | "multiply" | "div" | "mod" | "power", 1) => {
            let op = match name {
                "plus" => BinOp::Add,
                "minus" => BinOp::Sub,
                "multiply" => BinOp::Mul,
                "div" => BinOp::Div,
                "mod" => BinOp::Mod,
                _ => BinOp::Pow,
            };
            crate::eval::binary_op(it, op, v.clone(), a.get(0).clone(), span)?
        }
        ("max" | "min", 1) => {
            let o = crate::value::compare_numbers(v, a.get(0));
            let take_self = (name == "max") == (o != Some(std::cmp::Ordering::Less));
            if take_self {
                v.clone()
            } else {
                a.get(0).clone()
            }
        }
        ("times", 1) => {
            let n = to_i128(v).unwrap_or(0);
            for i in 0..n.max(0) {
                it.call_value(a.get(0), vec![Value::from_i128(i)], span)?;
            }
            Value::Null
        }
        ("upto" | "downto", 2) => {
            let from = to_i128(v).unwrap_or(0);
            let to = to_i128(a.get(0)).unwrap_or(0);
            if name == "upto" {
                let mut i = from;
                while i <= to {
                    it.call_value(a.get(1), vec![Value::from_i128(i)], span)?;
                    i += 1;
                }
            } else {
                let mut i = from;
                while i >= to {
                    it.call_value(a.get(1), vec![Value::from_i128(i)], span)?;
                    i -= 1;
                }
            }
            Value::Null
        }
        ("step", 3) => {
            let (from, to, step) = (
                to_i128(v).unwrap_or(0),
                to_i128(a.get(0)).unwrap_or(0),
                to_i128(a.get(1)).unwrap_or(0),
            );
            if step == 0 {
                return it.fail("IllegalArgumentException", "step must not be 0", span);
            }
            let mut i = from;
            while (step > 0 && i < to) || (step < 0 && i > to) {
                it.call_value(a.get(2), vec![Value::from_i128(i)], span)?;
                let Some(next) = i.checked_add(step) else {
                    break;
                };
                i = next;
            }
            Value::Null
        }
        ("precision", 0) => {
            Value::Int(to_dec(v).map_or(1, |d| d.m.unsigned_abs().to_string().len() as i32))
        }
        _ => return Ok(None),
    };
    Ok(Some(r))
}

pub(crate) fn parse_decimal(s: &str) -> Option<Dec> {
    Dec::parse(s.trim())
}
