//! Operators with Groovy's semantics: the numeric tower (Integer wraps, Long, BigDecimal for
//! decimals and `/`, Double), string and collection operators, casts, `instanceof`, regexes.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt::Write;
use std::rc::Rc;

use indexmap::IndexMap;

use super::{Interp, R, expr::range_of};
use crate::ast::{BinOp, TypeName, UnOp};
use crate::diagnostic::Span;
use crate::num::Dec;
use crate::value::{
    MatcherVal, Obj, Value, compare, identical, to_dec, to_f64, to_i128, values_equal,
};

const KNOWN_CLASSES: &[&str] = &[
    "String",
    "Integer",
    "Long",
    "Double",
    "Float",
    "BigDecimal",
    "BigInteger",
    "Boolean",
    "Number",
    "Math",
    "List",
    "ArrayList",
    "Map",
    "HashMap",
    "LinkedHashMap",
    "Set",
    "HashSet",
    "LinkedHashSet",
    "Collection",
    "Object",
    "Closure",
    "Character",
    "Collections",
    "Arrays",
    "JsonOutput",
    "JsonSlurper",
    "Pattern",
    "System",
    "Iterable",
    "Exception",
    "RuntimeException",
    "Throwable",
    "StringBuilder",
    "GString",
    "Short",
    "Byte",
    "TreeMap",
    "Objects",
    "Class",
    "Runtime",
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

pub fn is_known_class(name: &str) -> bool {
    KNOWN_CLASSES.contains(&name) || is_exception_name(name)
}

pub fn is_exception_name(name: &str) -> bool {
    name.ends_with("Exception") || name.ends_with("Error") || name == "Throwable"
}

const RUNTIME: &[&str] = &[
    "NullPointerException",
    "IllegalStateException",
    "IllegalArgumentException",
    "ArithmeticException",
    "IndexOutOfBoundsException",
    "ArrayIndexOutOfBoundsException",
    "StringIndexOutOfBoundsException",
    "NumberFormatException",
    "ClassCastException",
    "GroovyCastException",
    "MissingPropertyException",
    "MissingMethodException",
    "GroovyRuntimeException",
    "UnsupportedOperationException",
    "NoSuchElementException",
    "ConcurrentModificationException",
    "PatternSyntaxException",
];

/// Whether an exception of class `thrown` is caught by `catch (Type e)`.
pub fn exception_matches(thrown: &str, catch_type: &str) -> bool {
    if thrown == catch_type || catch_type == "Throwable" {
        return true;
    }
    let is_error = thrown.ends_with("Error");
    match catch_type {
        "Exception" => !is_error,
        "Error" => is_error,
        "RuntimeException" => RUNTIME.contains(&thrown),
        "IllegalArgumentException" => {
            matches!(thrown, "NumberFormatException" | "PatternSyntaxException")
        }
        "IndexOutOfBoundsException" => thrown.ends_with("IndexOutOfBoundsException"),
        "GroovyRuntimeException" => matches!(
            thrown,
            "MissingPropertyException" | "MissingMethodException" | "GroovyCastException"
        ),
        "ClassCastException" => thrown == "GroovyCastException",
        _ => false,
    }
}

pub fn exception_object(class: &str, message: Value) -> Value {
    let mut fields = IndexMap::default();
    fields.insert(Rc::from("message"), message);
    fields.insert(Rc::from("cause"), Value::Null);
    Value::Object(Rc::new(Obj {
        class: Rc::from(class),
        def: None,
        fields: RefCell::new(fields),
    }))
}

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
        BinOp::Shl | BinOp::Shr | BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor
    ) {
        if c >= NumClass::Dec {
            return it.fail(
                "MissingMethodException",
                "bitwise operators need whole numbers",
                span,
            );
        }
        let (x, y) = (to_i128(a).unwrap_or(0), to_i128(b).unwrap_or(0));
        let r = match op {
            BinOp::Shl => x.checked_shl((y & 63) as u32).unwrap_or(0),
            BinOp::Shr => x >> (y & 63),
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
                        (Some(p), Some(q)) => Some(Dec { m: p.m % q.m, s }),
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
    if ca == Some(NumClass::Dec) {
        let base = to_dec(a).unwrap_or(Dec::from_i64(0));
        let mut r = Dec::from_i64(1);
        for _ in 0..e.min(1000) {
            r = r.mul(base).ok_or_else(|| {
                it.throw("ArithmeticException", "the result of ** is too large", span)
            })?;
        }
        return Ok(Value::Dec(r));
    }
    let base = to_i128(a).unwrap_or(0);
    let r = u32::try_from(e).ok().and_then(|e| base.checked_pow(e));
    match r {
        Some(r) if ca == Some(NumClass::Int) && i32::try_from(r).is_ok() => {
            Ok(Value::Int(r as i32))
        }
        Some(r) if ca != Some(NumClass::Big) && i64::try_from(r).is_ok() => {
            Ok(Value::Long(r as i64))
        }
        Some(r) => Ok(Value::BigInt(r)),
        None => Ok(Value::Double((base as f64).powf(e as f64))),
    }
}

pub fn unary(it: &mut Interp, op: UnOp, v: Value, span: Span) -> R<Value> {
    match op {
        UnOp::Not => Ok(Value::Bool(!v.truthy())),
        UnOp::Plus => Ok(v),
        UnOp::Neg => Ok(match v {
            Value::Int(i) => Value::Int(i.wrapping_neg()),
            Value::Long(i) => Value::Long(i.wrapping_neg()),
            Value::BigInt(i) => Value::BigInt(-i),
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
        (Add, Value::Str(x), _) => concat(it, x, &b, span),
        (Add, _, Value::Str(_)) if !matches!(a, Value::List(_) | Value::Map(_) | Value::Null) => {
            let mut s = a.to_string();
            append_display(&mut s, &b);
            it.charge(s.len(), span)?;
            Ok(Value::str(s))
        }
        (Add, Value::List(l), _) => {
            let mut v = l.borrow().clone();
            match &b {
                Value::List(_) | Value::Range(_) => v.extend(b.iter_items().unwrap_or_default()),
                other => v.push(other.clone()),
            }
            it.charge(16 * v.len(), span)?;
            Ok(Value::list(v))
        }
        (Add, Value::Map(m), Value::Map(n)) => {
            let mut r = m.borrow().clone();
            for (k, v) in n.borrow().iter() {
                r.insert(k.clone(), v.clone());
            }
            it.charge(48 * r.len(), span)?;
            Ok(Value::map(r))
        }
        (Sub, Value::List(l), _) => {
            let remove = match &b {
                Value::List(_) | Value::Range(_) => b.iter_items().unwrap_or_default(),
                other => vec![other.clone()],
            };
            let v: Vec<Value> = l
                .borrow()
                .iter()
                .filter(|x| !remove.iter().any(|r| values_equal(x, r)))
                .cloned()
                .collect();
            Ok(Value::list(v))
        }
        (Sub, Value::Str(x), _) => {
            let pat = b.to_string();
            Ok(Value::str(x.replacen(&pat, "", 1)))
        }
        (Sub, Value::Map(m), Value::Map(n)) => {
            let mut r = m.borrow().clone();
            for (k, v) in n.borrow().iter() {
                if r.get(k).is_some_and(|x| values_equal(x, v)) {
                    r.shift_remove(k);
                }
            }
            Ok(Value::map(r))
        }
        (Mul, Value::Str(x), n) if n.is_number() => {
            let n = to_i128(n).unwrap_or(0).max(0) as usize;
            it.charge(x.len().saturating_mul(n), span)?;
            Ok(Value::str(x.repeat(n)))
        }
        (Mul, Value::List(l), n) if n.is_number() => {
            let n = to_i128(n).unwrap_or(0).max(0) as usize;
            let items = l.borrow().clone();
            it.charge(16usize.saturating_mul(items.len()).saturating_mul(n), span)?;
            let mut out = Vec::new();
            for _ in 0..n {
                out.extend(items.iter().cloned());
            }
            Ok(Value::list(out))
        }
        (Shl, Value::List(l), _) => {
            it.charge(16, span)?;
            l.borrow_mut().push(b.clone());
            Ok(a.clone())
        }
        (Shl, Value::Map(m), Value::Map(n)) => {
            let add = n.borrow().clone();
            m.borrow_mut().extend(add);
            Ok(a.clone())
        }
        (Shl, Value::Object(o), _) if &*o.class == "StringBuilder" => {
            crate::stdlib::string_builder_append(o, &b);
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

fn concat(it: &mut Interp, x: &str, b: &Value, span: Span) -> R<Value> {
    let mut s = std::mem::take(&mut it.scratch);
    s.clear();
    s.push_str(x);
    append_display(&mut s, b);
    let v = Value::str(s.as_str());
    let len = s.len();
    it.scratch = s;
    it.charge(len, span)?;
    Ok(v)
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
        BitAnd => "&",
        BitOr => "|",
        BitXor => "^",
    }
}

impl Interp<'_> {
    /// Compiles a Java-style regex (cached per run); a bad pattern is a catchable error.
    pub(crate) fn regex(&mut self, pattern: &str, span: Span) -> R<Rc<fancy_regex::Regex>> {
        if let Some(r) = self.regex_cache.get(pattern) {
            return Ok(r.clone());
        }
        let built = fancy_regex::RegexBuilder::new(pattern)
            .backtrack_limit(1_000_000)
            .build();
        match built {
            Ok(r) => {
                let r = Rc::new(r);
                self.regex_cache.insert(pattern.to_string(), r.clone());
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
    for caps in re.captures_iter(s) {
        let caps = caps.map_err(|e| {
            it.throw(
                "PatternSyntaxException",
                format!("regular expression failed: {e}"),
                span,
            )
        })?;
        let g: Vec<Value> = (0..caps.len())
            .map(|i| caps.get(i).map_or(Value::Null, |m| Value::str(m.as_str())))
            .collect();
        groups.push(g);
        it.step(span)?;
    }
    Ok(Value::Matcher(Rc::new(MatcherVal {
        groups,
        input: Rc::from(s),
        regex: re.clone(),
    })))
}

/// The value a typed declaration without initialiser starts with.
pub fn default_of(t: &TypeName) -> Value {
    if t.array {
        return Value::Null;
    }
    match &*t.name {
        "int" | "short" | "byte" => Value::Int(0),
        "long" => Value::Long(0),
        "double" | "float" => Value::Double(0.0),
        "boolean" => Value::Bool(false),
        _ => Value::Null,
    }
}

/// Assignment to a typed variable or parameter converts like Groovy does.
pub fn coerce_declared(it: &mut Interp, v: Value, t: &TypeName, span: Span) -> R<Value> {
    if matches!(v, Value::Null) {
        return Ok(default_of(t));
    }
    match &*t.name {
        "String" if !t.array => match v {
            Value::Str(_) => Ok(v),
            other => Ok(Value::str(other.to_string())),
        },
        "int" | "Integer" | "long" | "Long" | "double" | "Double" | "float" | "Float" | "short"
        | "byte" | "BigDecimal"
            if !t.array && v.is_number() =>
        {
            cast(it, v, t, span)
        }
        "boolean" | "Boolean" if !t.array => Ok(Value::Bool(v.truthy())),
        _ if t.array => cast(it, v, t, span),
        _ => Ok(v),
    }
}

fn parse_int(it: &Interp, s: &str, span: Span) -> R<i128> {
    s.trim().parse::<i128>().map_err(|_| {
        it.throw(
            "NumberFormatException",
            format!("For input string: \"{s}\""),
            span,
        )
    })
}

/// `v as T` and `(T) v`.
pub fn cast(it: &mut Interp, v: Value, t: &TypeName, span: Span) -> R<Value> {
    if t.array {
        let items = match &v {
            Value::Null => return Ok(Value::Null),
            other => other.iter_items().unwrap_or_else(|| vec![other.clone()]),
        };
        let elem = TypeName {
            name: t.name.clone(),
            array: false,
        };
        let mut out = Vec::with_capacity(items.len());
        for x in items {
            out.push(cast(it, x, &elem, span)?);
        }
        return Ok(Value::list(out));
    }
    if matches!(v, Value::Null) {
        return Ok(match &*t.name {
            "boolean" => Value::Bool(false),
            _ => Value::Null,
        });
    }
    let fail = |it: &Interp, v: &Value| {
        it.fail(
            "GroovyCastException",
            format!("cannot cast {} to {}", v.describe(), t.name),
            span,
        )
    };
    match &*t.name {
        "String" | "CharSequence" | "GString" => Ok(Value::str(v.to_string())),
        "int" | "Integer" | "short" | "Short" | "byte" | "Byte" => match &v {
            Value::Str(s) => Ok(Value::Int(parse_int(it, s, span)? as i32)),
            n if n.is_number() => Ok(Value::Int(to_i128(n).unwrap_or(0) as i32)),
            Value::Bool(b) if &*t.name == "int" => Ok(Value::Int(*b as i32)),
            other => fail(it, other),
        },
        "long" | "Long" => match &v {
            Value::Str(s) => Ok(Value::Long(parse_int(it, s, span)? as i64)),
            n if n.is_number() => Ok(Value::Long(to_i128(n).unwrap_or(0) as i64)),
            other => fail(it, other),
        },
        "BigInteger" => match &v {
            Value::Str(s) => Ok(Value::BigInt(parse_int(it, s, span)?)),
            n if n.is_number() => Ok(Value::BigInt(to_i128(n).unwrap_or(0))),
            other => fail(it, other),
        },
        "double" | "Double" | "float" | "Float" => match &v {
            Value::Str(s) => s.trim().parse::<f64>().map(Value::Double).map_err(|_| {
                it.throw(
                    "NumberFormatException",
                    format!("For input string: \"{s}\""),
                    span,
                )
            }),
            n if n.is_number() => Ok(Value::Double(to_f64(n).unwrap_or(0.0))),
            other => fail(it, other),
        },
        "BigDecimal" | "Number" => match &v {
            Value::Str(s) => Dec::parse(s.trim()).map(Value::Dec).ok_or_else(|| {
                it.throw(
                    "NumberFormatException",
                    format!("Character array is missing \"exponent\" mark 'e' or 'E'. ({s})"),
                    span,
                )
            }),
            n if n.is_number() && &*t.name == "Number" => Ok(v.clone()),
            n if n.is_number() => to_dec(n).map(Value::Dec).map_or_else(|| fail(it, n), Ok),
            other => fail(it, other),
        },
        "boolean" | "Boolean" => Ok(Value::Bool(v.truthy())),
        "char" | "Character" => match &v {
            Value::Str(s) if s.chars().count() == 1 => Ok(v.clone()),
            n if n.is_number() => Ok(Value::str(
                char::from_u32(to_i128(n).unwrap_or(0) as u32)
                    .unwrap_or('?')
                    .to_string(),
            )),
            other => fail(it, other),
        },
        "List" | "ArrayList" | "Collection" | "Iterable" | "LinkedList" => match &v {
            Value::List(_) => Ok(v),
            other => match other.iter_items() {
                Some(items) if !matches!(other, Value::Str(_)) => Ok(Value::list(items)),
                _ => Ok(Value::list(vec![other.clone()])),
            },
        },
        "Set" | "HashSet" | "LinkedHashSet" | "TreeSet" | "SortedSet" => {
            let items = v.iter_items().unwrap_or_else(|| vec![v.clone()]);
            let mut out: Vec<Value> = Vec::new();
            for x in items {
                if !out.iter().any(|y| values_equal(y, &x)) {
                    out.push(x);
                }
            }
            if t.name.starts_with("Tree") || t.name.starts_with("Sorted") {
                out.sort_by(|a, b| compare(a, b).unwrap_or(Ordering::Equal));
            }
            Ok(Value::list(out))
        }
        "Map" | "HashMap" | "LinkedHashMap" => match &v {
            Value::Map(_) => Ok(v),
            other => fail(it, other),
        },
        "Object" | "def" | "var" => Ok(v),
        other => {
            if instance_of(it, &v, other) {
                Ok(v)
            } else if it.class_def(other).is_some() {
                fail(it, &v)
            } else {
                Ok(v)
            }
        }
    }
}

/// `v instanceof T` (and `case T:`), with Java's class hierarchy for the types scripts see.
pub fn instance_of(it: &Interp, v: &Value, t: &str) -> bool {
    let t = t.rsplit('.').next().unwrap_or(t);
    match v {
        Value::Null => false,
        Value::Bool(_) => matches!(t, "Boolean" | "Object"),
        Value::Int(_) => matches!(t, "Integer" | "Number" | "Object" | "Comparable" | "int"),
        Value::Long(_) => matches!(t, "Long" | "Number" | "Object" | "Comparable" | "long"),
        Value::BigInt(_) => matches!(t, "BigInteger" | "Number" | "Object" | "Comparable"),
        Value::Dec(_) => matches!(t, "BigDecimal" | "Number" | "Object" | "Comparable"),
        Value::Double(_) => matches!(t, "Double" | "Number" | "Object" | "Comparable" | "double"),
        Value::Str(_) => matches!(t, "String" | "CharSequence" | "Object" | "Comparable"),
        Value::List(_) => matches!(
            t,
            "List" | "ArrayList" | "Collection" | "Iterable" | "Object"
        ),
        Value::Range(_) => matches!(
            t,
            "Range" | "IntRange" | "List" | "Collection" | "Iterable" | "Object"
        ),
        Value::Map(_) => matches!(t, "Map" | "LinkedHashMap" | "HashMap" | "Object"),
        Value::Closure(_) => matches!(t, "Closure" | "Object"),
        Value::Regex(_) => matches!(t, "Pattern" | "Object"),
        Value::Matcher(_) => matches!(t, "Matcher" | "Object"),
        Value::Entry(_) => matches!(t, "Entry" | "Object"),
        Value::Class(_) => matches!(t, "Class" | "Object"),
        Value::Object(o) => {
            t == "Object"
                || *o.class == *t
                || (o.def.is_none()
                    && is_exception_name(&o.class)
                    && exception_matches(&o.class, t))
                || it.class_def(&o.class).is_some_and(|_| false)
        }
        Value::Host(h) => t == "Object" || h.type_name() == t,
    }
}
