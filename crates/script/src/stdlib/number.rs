//! Number methods.

use super::{Args, int_arg};
use crate::ast::{BinOp, TypeName};
use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::num::{Dec, Rounding};
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
            // Math.round: the nearest whole number, halves up
            Value::Double(d) => Value::from_i64((d + 0.5).floor() as i64),
            Value::Dec(d) => Value::Dec(scaled(it, *d, 0, Rounding::HalfUp, span)?),
            other => other.clone(),
        },
        ("round" | "trunc", 1) => {
            let places = int_arg(it, a.get(0), span)?;
            let mode = if name == "round" {
                Rounding::HalfUp
            } else {
                Rounding::Down
            };
            match v {
                // as Groovy does: through the double's shortest decimal form (2.345 → 2.35)
                Value::Double(d) => match Dec::from_f64(*d) {
                    Some(x) => Value::Double(scaled(it, x, places, mode, span)?.to_f64()),
                    None => Value::Double(*d),
                },
                Value::Dec(d) => Value::Dec(scaled(it, *d, places, mode, span)?),
                _ => return Ok(None),
            }
        }
        ("setScale", 1 | 2) => {
            let places = int_arg(it, a.get(0), span)?;
            let mode = if a.len() == 2 {
                rounding_arg(it, a.get(1), span)?
            } else {
                Rounding::Unnecessary
            };
            match v {
                Value::Dec(d) => Value::Dec(scaled(it, *d, places, mode, span)?),
                _ => return Ok(None),
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
        // with a fractional start, end or step the numbers are decimals: 1.0.step(2.0, 0.5)
        ("step", 3)
            if [v, a.get(0), a.get(1)]
                .iter()
                .any(|x| matches!(x, Value::Dec(_) | Value::Double(_))) =>
        {
            let zero = Value::Int(0);
            let up =
                crate::value::compare_numbers(a.get(1), &zero) == Some(std::cmp::Ordering::Greater);
            if crate::value::compare_numbers(a.get(1), &zero) == Some(std::cmp::Ordering::Equal) {
                return it.fail("IllegalArgumentException", "step must not be 0", span);
            }
            let mut i = v.clone();
            loop {
                let o = crate::value::compare_numbers(&i, a.get(0));
                let more = if up {
                    o == Some(std::cmp::Ordering::Less)
                } else {
                    o == Some(std::cmp::Ordering::Greater)
                };
                if !more {
                    break;
                }
                it.call_value(a.get(2), vec![i.clone()], span)?;
                i = crate::eval::binary_op(it, BinOp::Add, i, a.get(1).clone(), span)?;
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
        ("next" | "previous", 0) => {
            let op = if name == "next" {
                BinOp::Add
            } else {
                BinOp::Sub
            };
            crate::eval::binary_op(it, op, v.clone(), Value::Int(1), span)?
        }
        ("add" | "subtract" | "remainder", 1) if matches!(v, Value::Dec(_) | Value::BigInt(_)) => {
            let op = match name {
                "add" => BinOp::Add,
                "subtract" => BinOp::Sub,
                _ => BinOp::Mod,
            };
            crate::eval::binary_op(it, op, v.clone(), a.get(0).clone(), span)?
        }
        ("divide", 1) if matches!(v, Value::Dec(_) | Value::BigInt(_)) => {
            // Java's exact division: an answer that does not terminate is an error
            let (Some(x), Some(y)) = (to_dec(v), to_dec(a.get(0))) else {
                return Ok(None);
            };
            if y.is_zero() {
                return it.fail("ArithmeticException", "Division by zero", span);
            }
            match x.div(y) {
                Some(q) if q.mul(y).is_some_and(|p| p.cmp(x).is_eq()) => Value::Dec(q),
                _ => {
                    return it.fail(
                        "ArithmeticException",
                        "Non-terminating decimal expansion; no exact representable decimal result: give divide a scale and a rounding mode",
                        span,
                    );
                }
            }
        }
        ("divide", 2 | 3) if matches!(v, Value::Dec(_) | Value::BigInt(_)) => {
            let (Some(x), Some(y)) = (to_dec(v), to_dec(a.get(0))) else {
                return Ok(None);
            };
            if y.is_zero() {
                return it.fail("ArithmeticException", "Division by zero", span);
            }
            let (places, mode) = if a.len() == 3 {
                (
                    int_arg(it, a.get(1), span)?,
                    rounding_arg(it, a.get(2), span)?,
                )
            } else {
                (i64::from(x.s), rounding_arg(it, a.get(1), span)?)
            };
            // divide with guard digits, then round once to the asked scale
            let guard = u32::try_from(places.max(0) + 6).unwrap_or(36).min(36);
            let Some(q) = x.div_exact_to(y, guard) else {
                return it.fail("ArithmeticException", "the quotient is too large", span);
            };
            Value::Dec(scaled(it, q, places, mode, span)?)
        }
        ("pow", 1) if matches!(v, Value::Dec(_) | Value::BigInt(_)) => {
            crate::eval::binary_op(it, BinOp::Pow, v.clone(), a.get(0).clone(), span)?
        }
        ("movePointLeft" | "movePointRight", 1) if matches!(v, Value::Dec(_)) => {
            let Value::Dec(d) = v else { return Ok(None) };
            let n = int_arg(it, a.get(0), span)?;
            let n = if name == "movePointLeft" { n } else { -n };
            let s = i64::from(d.s) + n;
            if s >= 0 {
                match u32::try_from(s) {
                    Ok(s) if s <= 36 => Value::Dec(Dec { m: d.m, s }),
                    _ => return it.fail("ArithmeticException", "the scale is too large", span),
                }
            } else {
                match 10i128
                    .checked_pow((-s) as u32)
                    .and_then(|p| d.m.checked_mul(p))
                {
                    Some(m) => Value::Dec(Dec { m, s: 0 }),
                    None => return it.fail("ArithmeticException", "the number is too large", span),
                }
            }
        }
        ("unscaledValue", 0) if matches!(v, Value::Dec(_)) => {
            let Value::Dec(d) = v else { return Ok(None) };
            Value::from_i128(d.m)
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

/// `d.setScale(places, mode)`, or the `ArithmeticException` Java throws.
fn scaled(it: &Interp, d: Dec, places: i64, mode: Rounding, span: Span) -> R<Dec> {
    d.set_scale(places, mode)
        .or_else(|e| it.fail("ArithmeticException", e, span))
}

/// A `RoundingMode` (`RoundingMode.HALF_UP`) or one of `BigDecimal`'s `ROUND_…` numbers.
pub(crate) fn rounding_arg(it: &Interp, v: &Value, span: Span) -> R<Rounding> {
    let found = match v {
        Value::Object(o) if &*o.class == "RoundingMode" && o.def.is_none() => o
            .fields
            .borrow()
            .get("name")
            .and_then(|n| Rounding::named(&n.to_string())),
        n if n.is_number() => to_i128(n)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| Rounding::ALL.get(i))
            .map(|(_, r)| *r),
        _ => None,
    };
    match found {
        Some(r) => Ok(r),
        None => it.fail(
            "IllegalArgumentException",
            format!(
                "expected a rounding mode such as RoundingMode.HALF_UP but got {}",
                v.describe()
            ),
            span,
        ),
    }
}

/// The `RoundingMode` value of a mode.
pub(crate) fn rounding_value(r: Rounding) -> Value {
    let mut fields = indexmap::IndexMap::default();
    fields.insert(std::rc::Rc::from("name"), Value::str(r.name()));
    Value::Object(std::rc::Rc::new(crate::value::Obj {
        class: std::rc::Rc::from("RoundingMode"),
        def: None,
        fields: std::cell::RefCell::new(fields),
    }))
}
