//! Operators with Groovy's semantics: the numeric tower (Integer wraps, Long, BigDecimal for
//! decimals and `/`, Double), string and collection operators, casts, `instanceof`, regexes.

use std::cmp::Ordering;
use std::fmt::Write;
use std::rc::Rc;

pub(crate) use super::convert::*;
use super::{Interp, R, expr::range_of};
use crate::ast::{BinOp, UnOp};
use crate::diagnostic::Span;
use crate::limits::{ENTRY_BYTES, STR_BYTES, VALUE_BYTES, list_bytes};
use crate::num::Dec;
use crate::value::{MatcherVal, Value, compare, identical, to_dec, to_f64, to_i128, values_equal};

pub fn append_display(out: &mut String, v: &Value) {
    match v {
        Value::Str(s) => out.push_str(s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

#[derive(PartialEq, PartialOrd, Clone, Copy)]
enum NumClass {
    Int,
    Long,
    Big,
    Dec,
    Double,
}

fn class_of(v: &Value) -> Option<NumClass> {
    Some(match v {
        Value::Int(_) => NumClass::Int,
        Value::Long(_) => NumClass::Long,
        Value::BigInt(_) => NumClass::Big,
        Value::Dec(_) => NumClass::Dec,
        Value::Double(_) => NumClass::Double,
        _ => return None,
    })
}

fn i32_of(v: &Value) -> i32 {
    if let Value::Int(i) = v { *i } else { 0 }
}

/// Arithmetic on two numbers.
fn arith(it: &Interp, op: BinOp, a: &Value, b: &Value, span: Span) -> R<Value> {
    let (Some(ca), Some(cb)) = (class_of(a), class_of(b)) else {
        return it.fail("MissingMethodException", "not numbers", span);
    };
    let mut c = if ca > cb { ca } else { cb };
    let overflow = || {
        it.throw(
            "ArithmeticException",
            "the result of this calculation is too large",
            span,
        )
    };
    if op == BinOp::Div && c < NumClass::Double {
        let (x, y) = (
            to_dec(a).ok_or_else(overflow)?,
            to_dec(b).ok_or_else(overflow)?,
        );
        if y.is_zero() {
            return it.fail("ArithmeticException", "Division by zero", span);
        }
        return x.div(y).map(Value::Dec).ok_or_else(overflow);
    }
    if op == BinOp::Pow {
        return pow(it, a, b, span);
    }
    if matches!(
        op,
        BinOp::Shl | BinOp::Shr | BinOp::Ushr | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor
    ) {
        if c >= NumClass::Dec {
            return it.fail(
                "MissingMethodException",
                "bitwise operators need whole numbers",
                span,
            );
        }
        let (x, y) = (to_i128(a).unwrap_or(0), to_i128(b).unwrap_or(0));
        // Java masks the shift distance by the width: 31 for an int, 63 for a long
        let width_mask = if c == NumClass::Int { 31 } else { 63 };
        let r = match op {
            BinOp::Shl if c == NumClass::Int => ((x as i32).wrapping_shl((y & 31) as u32)) as i128,
            BinOp::Shl => x.checked_shl((y & 63) as u32).unwrap_or(0),
            BinOp::Shr => x >> (y & width_mask),
            BinOp::Ushr if c == NumClass::Int => ((x as i32 as u32) >> (y & 31)) as i128,
            BinOp::Ushr => ((x as i64 as u64) >> (y & 63)) as i128,
            BinOp::BitAnd => x & y,
            BinOp::BitOr => x | y,
            _ => x ^ y,
        };
        return Ok(match c {
            NumClass::Int => Value::Int(r as i32),
            NumClass::Long => Value::Long(r as i64),
            _ => Value::BigInt(r),
        });
    }
    if c == NumClass::Big && op == BinOp::Mod {
        c = NumClass::Big;
    }
    Ok(match c {
        NumClass::Int => {
            let (x, y) = (i32_of(a), i32_of(b));
            Value::Int(match op {
                BinOp::Add => x.wrapping_add(y),
                BinOp::Sub => x.wrapping_sub(y),
                BinOp::Mul => x.wrapping_mul(y),
                BinOp::Mod => {
                    if y == 0 {
                        return it.fail("ArithmeticException", "/ by zero", span);
                    }
                    x.wrapping_rem(y)
                }
                _ => return it.fail("MissingMethodException", "unsupported operator", span),
            })
        }
        NumClass::Long | NumClass::Big => {
            let (x, y) = (to_i128(a).unwrap_or(0), to_i128(b).unwrap_or(0));
            if c == NumClass::Long {
                let (x, y) = (x as i64, y as i64);
                Value::Long(match op {
                    BinOp::Add => x.wrapping_add(y),
                    BinOp::Sub => x.wrapping_sub(y),
                    BinOp::Mul => x.wrapping_mul(y),
                    BinOp::Mod => {
                        if y == 0 {
                            return it.fail("ArithmeticException", "/ by zero", span);
                        }
                        x.wrapping_rem(y)
                    }
                    _ => return it.fail("MissingMethodException", "unsupported operator", span),
                })
            } else {
                Value::BigInt(
                    match op {
                        BinOp::Add => x.checked_add(y),
                        BinOp::Sub => x.checked_sub(y),
                        BinOp::Mul => x.checked_mul(y),
                        BinOp::Mod => {
                            if y == 0 {
                                return it.fail("ArithmeticException", "/ by zero", span);
                            }
                            x.checked_rem(y)
                        }
                        _ => None,
                    }
                    .ok_or_else(overflow)?,
                )
            }
        }
        NumClass::Dec => {
            let (x, y) = (
                to_dec(a).ok_or_else(overflow)?,
                to_dec(b).ok_or_else(overflow)?,
            );
            let r = match op {
                BinOp::Add => x.add(y),
                BinOp::Sub => x.sub(y),
                BinOp::Mul => x.mul(y),
                BinOp::Mod => {
                    if y.is_zero() {
                        return it.fail("ArithmeticException", "Division by zero", span);
                    }
                    let s = x.s.max(y.s);
                    let (xm, ym) = (x.set_scale_half_up(s), y.set_scale_half_up(s));
                    match (xm, ym) {
                        (Some(p), Some(q)) => p.m.checked_rem(q.m).map(|m| Dec { m, s }),
                        _ => None,
                    }
                }
                _ => None,
            };
            Value::Dec(r.ok_or_else(overflow)?)
        }
        NumClass::Double => {
            let (x, y) = (to_f64(a).unwrap_or(0.0), to_f64(b).unwrap_or(0.0));
            Value::Double(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Mod => x % y,
                _ => return it.fail("MissingMethodException", "unsupported operator", span),
            })
        }
    })
}

/// `a ** b`. Whole numbers stay exact: Integer, then Long, then BigInteger as the result grows
/// (Groovy's promotion); a result wider than this engine's 128-bit BigInteger is an
/// `ArithmeticException`, never a wrapped or rounded number.
fn pow(it: &Interp, a: &Value, b: &Value, span: Span) -> R<Value> {
    let (ca, cb) = (class_of(a), class_of(b));
    if ca == Some(NumClass::Double) || cb == Some(NumClass::Double) || cb == Some(NumClass::Dec) {
        return Ok(Value::Double(
            to_f64(a).unwrap_or(0.0).powf(to_f64(b).unwrap_or(0.0)),
        ));
    }
    let e = to_i128(b).unwrap_or(0);
    if e < 0 {
        return Ok(Value::Double(to_f64(a).unwrap_or(0.0).powf(e as f64)));
    }
    let too_large = || {
        let bits = (to_f64(a).unwrap_or(0.0).abs().log2().max(1.0) * e as f64).ceil();
        it.throw(
            "ArithmeticException",
            format!(
                "the result of {a} ** {b} is too large: it needs about {bits} bits, and whole numbers here hold at most 127"
            ),
            span,
        )
    };
    if ca == Some(NumClass::Dec) {
        // square and multiply: at most 2 × 128 multiplications, each checked
        let mut base = to_dec(a).unwrap_or(Dec::from_i64(0));
        let mut r = Dec::from_i64(1);
        let mut e = e as u128;
        while e > 0 {
            if e & 1 == 1 {
                r = r.mul(base).ok_or_else(too_large)?;
            }
            e >>= 1;
            if e > 0 {
                base = base.mul(base).ok_or_else(too_large)?;
            }
        }
        return Ok(Value::Dec(r));
    }
    let base = to_i128(a).unwrap_or(0);
    let r = match base {
        0 | 1 => Some(if e == 0 { 1 } else { base }),
        -1 => Some(if e % 2 == 0 { 1 } else { -1 }),
        _ => u32::try_from(e).ok().and_then(|e| base.checked_pow(e)),
    };
    match r {
        Some(r) if ca == Some(NumClass::Int) && i32::try_from(r).is_ok() => {
            Ok(Value::Int(r as i32))
        }
        // an Integer power past int's range is a BigInteger in Groovy, a Long one stays Long
        Some(r) if ca == Some(NumClass::Long) && i64::try_from(r).is_ok() => {
            Ok(Value::Long(r as i64))
        }
        Some(r) => Ok(Value::BigInt(r)),
        None => Err(too_large()),
    }
}

pub fn unary(it: &mut Interp, op: UnOp, v: Value, span: Span) -> R<Value> {
    match op {
        UnOp::Not => Ok(Value::Bool(!v.truthy())),
        UnOp::Plus => Ok(v),
        UnOp::Neg => Ok(match v {
            Value::Int(i) => Value::Int(i.wrapping_neg()),
            Value::Long(i) => Value::Long(i.wrapping_neg()),
            Value::BigInt(i) => Value::BigInt(i.saturating_neg()),
            Value::Dec(d) => Value::Dec(d.neg()),
            Value::Double(d) => Value::Double(-d),
            Value::List(l) => {
                let items = l.borrow().clone();
                let mut out = Vec::new();
                for x in items {
                    out.push(unary(it, op, x, span)?);
                }
                Value::list(out)
            }
            other => {
                return it.fail(
                    "MissingMethodException",
                    format!("cannot negate {}", other.describe()),
                    span,
                );
            }
        }),
        UnOp::BitNot => match v {
            Value::Str(s) => Ok(Value::Regex(it.regex(&s, span)?)),
            Value::Int(i) => Ok(Value::Int(!i)),
            Value::Long(i) => Ok(Value::Long(!i)),
            other => it.fail(
                "MissingMethodException",
                format!("cannot apply ~ to {}", other.describe()),
                span,
            ),
        },
    }
}

pub fn make_range(it: &mut Interp, a: Value, b: Value, exclusive: bool, span: Span) -> R<Value> {
    match (&a, &b) {
        (Value::Str(x), Value::Str(y)) if x.chars().count() == 1 && y.chars().count() == 1 => {
            let (p, q) = (
                x.chars().next().map_or(0, |c| c as i64),
                y.chars().next().map_or(0, |c| c as i64),
            );
            let q = if exclusive {
                if q >= p { q - 1 } else { q + 1 }
            } else {
                q
            };
            Ok(range_of(p, q, true))
        }
        _ if a.is_number() && b.is_number() => {
            let (p, q) = (
                to_i128(&a).unwrap_or(0) as i64,
                to_i128(&b).unwrap_or(0) as i64,
            );
            if exclusive {
                if p == q {
                    return Ok(Value::list(Vec::new()));
                }
                let q = if q > p { q - 1 } else { q + 1 };
                return Ok(range_of(p, q, false));
            }
            Ok(range_of(p, q, false))
        }
        _ => it.fail(
            "IllegalArgumentException",
            format!(
                "a range needs numbers or single characters, not {} and {}",
                a.describe(),
                b.describe()
            ),
            span,
        ),
    }
}

pub fn binary(it: &mut Interp, op: BinOp, a: Value, b: Value, span: Span) -> R<Value> {
    use BinOp::*;
    if let (Value::Int(x), Value::Int(y)) = (&a, &b) {
        match op {
            Add => return Ok(Value::Int(x.wrapping_add(*y))),
            Sub => return Ok(Value::Int(x.wrapping_sub(*y))),
            Lt => return Ok(Value::Bool(x < y)),
            Gt => return Ok(Value::Bool(x > y)),
            Le => return Ok(Value::Bool(x <= y)),
            Ge => return Ok(Value::Bool(x >= y)),
            Eq => return Ok(Value::Bool(x == y)),
            Ne => return Ok(Value::Bool(x != y)),
            _ => {}
        }
    }
    if !it.sets.is_empty()
        && (it.is_set(&a) || it.is_set(&b))
        && let Some(v) = set_binary(it, op, &a, &b, span)?
    {
        return Ok(v);
    }
    match op {
        Eq => return Ok(Value::Bool(values_equal(&a, &b))),
        Ne => return Ok(Value::Bool(!values_equal(&a, &b))),
        Ident => return Ok(Value::Bool(identical(&a, &b))),
        NotIdent => return Ok(Value::Bool(!identical(&a, &b))),
        Lt | Le | Gt | Ge | Cmp => {
            let Some(o) = compare(&a, &b) else {
                return it.fail(
                    "IllegalArgumentException",
                    format!("cannot compare {} with {}", a.describe(), b.describe()),
                    span,
                );
            };
            return Ok(match op {
                Lt => Value::Bool(o == Ordering::Less),
                Le => Value::Bool(o != Ordering::Greater),
                Gt => Value::Bool(o == Ordering::Greater),
                Ge => Value::Bool(o != Ordering::Less),
                _ => Value::Int(o as i32),
            });
        }
        In | NotIn => {
            let r = it.is_case(&b, &a, span)?;
            return Ok(Value::Bool(r != (op == NotIn)));
        }
        Find => {
            let re = match &b {
                Value::Regex(r) => r.clone(),
                other => it.regex(&other.to_string(), span)?,
            };
            return find_all(it, &re, &a.to_string(), span);
        }
        Match => {
            let re = match &b {
                Value::Regex(r) => r.clone(),
                other => it.regex(&other.to_string(), span)?,
            };
            return Ok(Value::Bool(full_match(it, &re, &a.to_string(), span)?));
        }
        _ => {}
    }
    if a.is_number() && b.is_number() {
        return arith(it, op, &a, &b, span);
    }
    match (op, &a, &b) {
        // Boolean's and/or/xor: both sides are evaluated, unlike && and ||
        (BitAnd, Value::Bool(x), Value::Bool(y)) => Ok(Value::Bool(*x & *y)),
        (BitOr, Value::Bool(x), Value::Bool(y)) => Ok(Value::Bool(*x | *y)),
        (BitXor, Value::Bool(x), Value::Bool(y)) => Ok(Value::Bool(*x ^ *y)),
        // closure composition: `f >> g` is `g(f(x))`, `f << g` is `f(g(x))`
        (Shr | Shl, Value::Closure(_), Value::Closure(_)) => {
            let (first, then) = if op == Shr { (a, b) } else { (b, a) };
            Ok(Value::Closure(Rc::new(crate::value::Func::Composed {
                first,
                then,
            })))
        }
        (Add | Sub, Value::Time(t), _)
            if let Some(v) = crate::stdlib::time::date_arithmetic(it, t, op == Add, &b, span)? =>
        {
            Ok(v)
        }
        (Add, Value::Str(x), Value::Object(_)) => match it.custom_to_string(&b, span)? {
            Some(text) => concat(it, x, &Value::str(text), span),
            None => concat(it, x, &b, span),
        },
        (Add, Value::Str(x), _) => concat(it, x, &b, span),
        // `null + 'a'` is "nulla" in Groovy
        (Add, Value::Null, Value::Str(y)) => {
            concat(it, &Rc::from("null"), &Value::Str(y.clone()), span)
        }
        (Add, _, Value::Str(y)) if !matches!(a, Value::List(_) | Value::Map(_) | Value::Null) => {
            let mut s = match it.custom_to_string(&a, span)? {
                Some(text) => text,
                None => a.to_string(),
            };
            it.charge(s.len().saturating_add(y.len()), span)?;
            append_display(&mut s, &b);
            Ok(Value::str(s))
        }
        (Add, Value::List(l), _) => {
            let extra = match &b {
                Value::List(m) => m.borrow().len(),
                Value::Range(r) => r.len(),
                _ => 1,
            };
            let len = l.borrow().len();
            it.charge(list_bytes(len.saturating_add(extra)), span)?;
            it.work(len.saturating_add(extra), span)?;
            let mut v = Vec::with_capacity(len + extra);
            v.extend(l.borrow().iter().cloned());
            match &b {
                Value::List(_) | Value::Range(_) => v.extend(b.iter_items().unwrap_or_default()),
                other => v.push(other.clone()),
            }
            Ok(Value::list(v))
        }
        (Add, Value::Map(m), Value::Map(n)) => {
            let size = m.borrow().len().saturating_add(n.borrow().len());
            it.charge(size.saturating_mul(ENTRY_BYTES), span)?;
            it.work(size, span)?;
            let mut r = m.borrow().clone();
            for (k, v) in n.borrow().iter() {
                r.insert(k.clone(), v.clone());
            }
            Ok(Value::map(r))
        }
        (Sub, Value::List(l), _) => {
            let remove = match &b {
                Value::List(_) | Value::Range(_) => it.items(&b, span)?.unwrap_or_default(),
                other => vec![other.clone()],
            };
            let len = l.borrow().len();
            it.charge(list_bytes(len), span)?;
            let items = l.borrow().clone();
            let mut v = Vec::new();
            for x in items {
                // each element is compared with every one to remove: count that work
                it.work(remove.len(), span)?;
                if !remove.iter().any(|r| values_equal(&x, r)) {
                    v.push(x);
                }
            }
            Ok(Value::list(v))
        }
        (Sub, Value::Str(x), _) => {
            let pat = b.to_string();
            it.charge(x.len(), span)?;
            Ok(Value::str(x.replacen(&pat, "", 1)))
        }
        (Sub, Value::Map(m), Value::Map(n)) => {
            let size = m.borrow().len();
            it.charge(size.saturating_mul(ENTRY_BYTES), span)?;
            let mut r = m.borrow().clone();
            for (k, v) in n.borrow().iter() {
                if r.get(k).is_some_and(|x| values_equal(x, v)) {
                    r.shift_remove(k);
                }
            }
            Ok(Value::map(r))
        }
        (Mul, Value::Str(x), n) if n.is_number() => {
            let n = count_of(n);
            it.charge(x.len().saturating_mul(n), span)?;
            Ok(Value::str(x.repeat(n)))
        }
        (Mul, Value::List(l), n) if n.is_number() => {
            let n = count_of(n);
            let len = l.borrow().len();
            it.charge(list_bytes(len.saturating_mul(n)), span)?;
            let items = l.borrow().clone();
            let mut out = Vec::with_capacity(len * n);
            for _ in 0..n {
                out.extend(items.iter().cloned());
            }
            Ok(Value::list(out))
        }
        (Shl, Value::List(l), _) => {
            it.charge(VALUE_BYTES, span)?;
            l.borrow_mut().push(b.clone());
            Ok(a.clone())
        }
        (Shl, Value::Map(m), Value::Map(n)) => {
            it.charge(n.borrow().len().saturating_mul(ENTRY_BYTES), span)?;
            let add = n.borrow().clone();
            m.borrow_mut().extend(add);
            Ok(a.clone())
        }
        // `'a' << 'b'` makes a StringBuffer in Groovy: here a StringBuilder, which prints alike
        (Shl, Value::Str(x), _) => {
            let sb = it.new_object(
                &Rc::from("StringBuilder"),
                vec![Value::Str(x.clone())],
                span,
            )?;
            if let Value::Object(o) = &sb {
                crate::stdlib::string_builder_append(it, o, &b, span)?;
            }
            Ok(sb)
        }
        (Shl, Value::Object(o), _) if &*o.class == "StringBuilder" => {
            crate::stdlib::string_builder_append(it, o, &b, span)?;
            Ok(a.clone())
        }
        (_, Value::Null, _) | (_, _, Value::Null) => it.fail(
            "NullPointerException",
            format!("cannot apply '{}' to null", op_symbol(op)),
            span,
        ),
        _ => it.fail(
            "MissingMethodException",
            format!(
                "cannot apply '{}' to {} and {}",
                op_symbol(op),
                a.describe(),
                b.describe()
            ),
            span,
        ),
    }
}

/// The operators whose answer differs on a set: equality ignores order and a set never equals
/// a list; `+`, `-` and `<<` keep a set one, without an element twice. `None`: as on a list.
fn set_binary(it: &mut Interp, op: BinOp, a: &Value, b: &Value, span: Span) -> R<Option<Value>> {
    use BinOp::*;
    let same_set = |it: &mut Interp| -> R<bool> {
        if !(it.is_set(a) && it.is_set(b)) {
            return Ok(false);
        }
        let (x, y) = (
            a.iter_items().unwrap_or_default(),
            b.iter_items().unwrap_or_default(),
        );
        it.work(x.len().saturating_mul(y.len()), span)?;
        Ok(x.len() == y.len() && x.iter().all(|v| y.iter().any(|w| values_equal(v, w))))
    };
    Ok(Some(match op {
        Eq => Value::Bool(same_set(it)?),
        Ne => Value::Bool(!same_set(it)?),
        Add | Sub if it.is_set(a) => {
            let mut out = a.iter_items().unwrap_or_default();
            let other = match b {
                Value::List(_) | Value::Range(_) => it.items(b, span)?.unwrap_or_default(),
                v => vec![v.clone()],
            };
            it.charge(list_bytes(out.len().saturating_add(other.len())), span)?;
            it.work(out.len().saturating_mul(other.len()), span)?;
            if op == Add {
                for v in other {
                    if !out.iter().any(|w| values_equal(w, &v)) {
                        out.push(v);
                    }
                }
            } else {
                out.retain(|v| !other.iter().any(|w| values_equal(v, w)));
            }
            let set = Value::list(out);
            it.mark_set(&set);
            set
        }
        Shl if it.is_set(a) => {
            if let Value::List(l) = a {
                it.work(l.borrow().len(), span)?;
                if !l.borrow().iter().any(|w| values_equal(w, b)) {
                    it.charge(VALUE_BYTES, span)?;
                    l.borrow_mut().push(b.clone());
                }
            }
            a.clone()
        }
        _ => return Ok(None),
    }))
}

fn concat(it: &mut Interp, x: &str, b: &Value, span: Span) -> R<Value> {
    // the size is known before anything is built, except for a collection's text, which is
    // counted against the budget while it is written
    let known = match b {
        Value::Str(y) => y.len(),
        _ => 0,
    };
    it.charge(x.len().saturating_add(known), span)?;
    let mut s = std::mem::take(&mut it.scratch);
    s.clear();
    s.push_str(x);
    append_display(&mut s, b);
    let len = s.len();
    // what a collection printed is charged before the result is copied out of the buffer
    let charged = it.charge(0, span);
    let v = charged.map(|_| Value::str(s.as_str()));
    if len > 1 << 16 {
        // do not keep a large buffer for the rest of the run
        s = String::new();
    }
    it.scratch = s;
    v
}

/// A repeat count: negative is zero, and one too large for memory saturates (over budget).
fn count_of(n: &Value) -> usize {
    usize::try_from(to_i128(n).unwrap_or(0).max(0)).unwrap_or(usize::MAX)
}

pub fn op_symbol(op: BinOp) -> &'static str {
    use BinOp::*;
    match op {
        Add => "+",
        Sub => "-",
        Mul => "*",
        Div => "/",
        Mod => "%",
        Pow => "**",
        Eq => "==",
        Ne => "!=",
        Lt => "<",
        Le => "<=",
        Gt => ">",
        Ge => ">=",
        Cmp => "<=>",
        Ident => "===",
        NotIdent => "!==",
        Find => "=~",
        Match => "==~",
        In => "in",
        NotIn => "!in",
        Shl => "<<",
        Shr => ">>",
        Ushr => ">>>",
        BitAnd => "&",
        BitOr => "|",
        BitXor => "^",
    }
}

/// Longest pattern a script may compile (64 KiB of text).
pub(crate) const MAX_PATTERN_BYTES: usize = 64 << 10;
/// Compiled patterns kept per run; the least recently used one goes first.
pub(crate) const REGEX_CACHE_ENTRIES: usize = 128;
/// Most memory one compiled pattern (and its lazy DFA) may use.
const REGEX_SIZE_LIMIT: usize = 2 << 20;
/// Pattern bytes that cost one extra step to compile.
const PATTERN_BYTES_PER_STEP: usize = 16;

impl Interp<'_> {
    /// Compiles a Java-style regex (cached per run); a bad pattern is a catchable error. A
    /// compile is a step weighted by the pattern's length, and the clock is read after it, so
    /// a loop of fresh patterns honours the time limit.
    pub(crate) fn regex(&mut self, pattern: &str, span: Span) -> R<Rc<fancy_regex::Regex>> {
        if let Some(i) = self.regex_cache.get_index_of(pattern) {
            let last = self.regex_cache.len() - 1;
            self.regex_cache.move_index(i, last);
            return Ok(self.regex_cache[last].clone());
        }
        if pattern.len() > MAX_PATTERN_BYTES {
            return self.fail(
                "PatternSyntaxException",
                format!(
                    "the regular expression pattern is {} bytes long; the limit is {MAX_PATTERN_BYTES}",
                    pattern.len()
                ),
                span,
            );
        }
        let weight = 1 + (pattern.len() / PATTERN_BYTES_PER_STEP) as u64;
        if let Err(e) = self.budget.steps_weighted(weight, span) {
            return Err(self.limit_err(e));
        }
        self.charge(pattern.len().saturating_mul(2), span)?;
        let built = fancy_regex::RegexBuilder::new(pattern)
            .backtrack_limit(1_000_000)
            .delegate_size_limit(REGEX_SIZE_LIMIT)
            .delegate_dfa_size_limit(REGEX_SIZE_LIMIT)
            .build();
        if let Err(e) = self.budget.check_time(span) {
            return Err(self.limit_err(e));
        }
        match built {
            Ok(r) => {
                let r = Rc::new(r);
                if self.regex_cache.len() >= REGEX_CACHE_ENTRIES {
                    self.regex_cache.shift_remove_index(0);
                }
                self.regex_cache.insert(Rc::from(pattern), r.clone());
                Ok(r)
            }
            Err(e) => self.fail(
                "PatternSyntaxException",
                format!("invalid regular expression /{pattern}/: {e}"),
                span,
            ),
        }
    }
}

pub fn full_match(it: &mut Interp, re: &fancy_regex::Regex, s: &str, span: Span) -> R<bool> {
    let anchored = format!("^(?:{})$", re.as_str());
    let re = it.regex(&anchored, span)?;
    re.is_match(s).map_err(|e| {
        it.throw(
            "PatternSyntaxException",
            format!("regular expression failed: {e}"),
            span,
        )
    })
}

/// `s =~ re`: a matcher holding every match and its groups.
pub fn find_all(it: &mut Interp, re: &Rc<fancy_regex::Regex>, s: &str, span: Span) -> R<Value> {
    let mut groups = Vec::new();
    let mut spans = Vec::new();
    for caps in re.captures_iter(s) {
        let caps = caps.map_err(|e| {
            it.throw(
                "PatternSyntaxException",
                format!("regular expression failed: {e}"),
                span,
            )
        })?;
        let text: usize = (0..caps.len())
            .map(|i| caps.get(i).map_or(0, |m| m.as_str().len()))
            .sum();
        it.charge(
            text.saturating_add(caps.len().saturating_add(1).saturating_mul(STR_BYTES)),
            span,
        )?;
        let g: Vec<Value> = (0..caps.len())
            .map(|i| caps.get(i).map_or(Value::Null, |m| Value::str(m.as_str())))
            .collect();
        groups.push(g);
        if let Some(m) = caps.get(0) {
            let start = s[..m.start()].chars().count();
            spans.push((start, start + m.as_str().chars().count()));
        }
        it.step(span)?;
    }
    Ok(Value::Matcher(Rc::new(MatcherVal {
        groups,
        spans,
        input: Rc::from(s),
        regex: re.clone(),
        current: std::cell::Cell::new(None),
    })))
}
