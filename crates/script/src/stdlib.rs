//! The GDK methods sync scripts use, split by receiver type, plus the built-in functions
//! (`println`) and static classes (`Math`, `Integer`, `JsonOutput`, …). Anything that would
//! reach files, processes, the network, the clock or reflection is refused here.

mod collection;
mod format;
mod list;
mod map;
mod number;
mod statics;
mod string;

use std::cmp::Ordering;
use std::rc::Rc;

use crate::diagnostic::{Span, did_you_mean};
use crate::eval::{Interp, R};
use crate::value::{Obj, Value, compare, values_equal};

pub(crate) use statics::{has_static, static_property};

pub(crate) const OBJECT_METHODS: &[&str] = &[
    "toString",
    "equals",
    "hashCode",
    "getClass",
    "is",
    "with",
    "inspect",
    "asBoolean",
    "isCase",
    "dump",
    "tap",
    "identity",
];

/// Methods Groovy's `DefaultGroovyMethods` define on `Object`, which treat null as empty.
pub(crate) const NULL_ITERATION: &[&str] = &[
    "each",
    "eachWithIndex",
    "collect",
    "findAll",
    "find",
    "any",
    "every",
    "grep",
];

pub(crate) fn has_method(o: &Value, name: &str) -> bool {
    let list: &[&str] = match o {
        Value::Str(_) => string::METHODS,
        Value::List(_) | Value::Range(_) => collection::METHODS,
        Value::Map(_) => map::METHODS,
        v if v.is_number() => number::METHODS,
        Value::Object(o) if o.def.is_none() => &["getMessage", "getCause", "getLocalizedMessage"],
        _ => &[],
    };
    list.contains(&name)
}

/// Arguments helpers.
pub(crate) struct Args<'a> {
    pub v: &'a [Value],
    null: Value,
}

impl<'a> Args<'a> {
    pub fn new(v: &'a [Value]) -> Args<'a> {
        Args {
            v,
            null: Value::Null,
        }
    }
    pub fn get(&self, i: usize) -> &Value {
        self.v.get(i).unwrap_or(&self.null)
    }
    pub fn len(&self) -> usize {
        self.v.len()
    }
    pub fn closure(&self) -> Option<&'a Value> {
        self.v.last().filter(|v| matches!(v, Value::Closure(_)))
    }
}

pub(crate) fn int_arg(it: &Interp, v: &Value, span: Span) -> R<i64> {
    match v {
        n if n.is_number() => Ok(crate::value::to_i128(n).unwrap_or(0) as i64),
        Value::Str(s) if s.chars().count() == 1 => Ok(s.chars().next().map_or(0, |c| c as i64)),
        other => it.fail(
            "IllegalArgumentException",
            format!("expected a whole number but got {}", other.describe()),
            span,
        ),
    }
}

/// Groovy's default ordering for `sort()`, `max()`, `min()`: numbers by value, otherwise the
/// natural order; mixed types fall back to their names so sorting never fails.
pub(crate) fn natural_cmp(a: &Value, b: &Value) -> Ordering {
    compare(a, b).unwrap_or_else(|| {
        a.type_name()
            .cmp(&b.type_name())
            .then_with(|| a.to_string().cmp(&b.to_string()))
    })
}

/// A stable merge sort whose comparator may fail (a closure can throw); unlike `slice::sort_by`
/// it never panics on an inconsistent comparator.
pub(crate) fn sort_values(
    it: &mut Interp,
    v: Vec<Value>,
    span: Span,
    cmp: &mut dyn FnMut(&mut Interp, &Value, &Value) -> R<Ordering>,
) -> R<Vec<Value>> {
    if v.len() <= 1 {
        return Ok(v);
    }
    // each level of the merge sort touches every element once
    it.work(v.len(), span)?;
    let mut v = v;
    let right = v.split_off(v.len() / 2);
    let left = sort_values(it, v, span, cmp)?;
    let right = sort_values(it, right, span, cmp)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => {
                if cmp(it, b, a)? == Ordering::Less {
                    out.extend(r.next());
                } else {
                    out.extend(l.next());
                }
            }
            (Some(_), None) => out.extend(l.next()),
            (None, Some(_)) => out.extend(r.next()),
            (None, None) => return Ok(out),
        }
    }
}

/// Applies a closure given to sort/max/min: one parameter means "compare by this key", two
/// mean "this is the comparator".
pub(crate) fn closure_cmp(
    it: &mut Interp,
    f: &Value,
    a: &Value,
    b: &Value,
    span: Span,
) -> R<Ordering> {
    let arity = match f {
        Value::Closure(c) => match &**c {
            crate::value::Func::Closure { def, .. } => def.params.len(),
            _ => 1,
        },
        _ => 1,
    };
    if arity == 2 {
        let r = it.call_value(f, vec![a.clone(), b.clone()], span)?;
        let n = crate::value::to_i128(&r).unwrap_or(0);
        return Ok(n.cmp(&0));
    }
    let ka = it.call_value(f, vec![a.clone()], span)?;
    let kb = it.call_value(f, vec![b.clone()], span)?;
    Ok(natural_cmp(&ka, &kb))
}

/// The distinct items, in order. Quadratic (values compare across types, so they cannot be
/// hashed): the work is counted so a long list honours the time limit.
pub(crate) fn unique_values(it: &mut Interp, items: Vec<Value>, span: Span) -> R<Vec<Value>> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for x in items {
        it.work(out.len(), span)?;
        if !out.iter().any(|y| values_equal(y, &x)) {
            out.push(x);
        }
    }
    Ok(out)
}

/// `sb.append(v)`, `sb << v`: the new text is charged before it is built.
pub(crate) fn string_builder_append(it: &mut Interp, o: &Rc<Obj>, v: &Value, span: Span) -> R<()> {
    // render first: `sb.append(sb)` reads the builder it appends to
    let text = string::text(it, v, span)?;
    let cur = o
        .fields
        .borrow()
        .get("value")
        .cloned()
        .unwrap_or(Value::Null);
    let cur = string::text(it, &cur, span)?;
    it.charge(cur.len().saturating_add(text.len()), span)?;
    let mut out = String::with_capacity(cur.len() + text.len());
    out.push_str(&cur);
    out.push_str(&text);
    o.fields
        .borrow_mut()
        .insert(Rc::from("value"), Value::str(out));
    Ok(())
}

/// Dispatches `recv.name(args)` to the method table of the receiver's type.
pub(crate) fn call_method(
    it: &mut Interp,
    recv: Value,
    name: &str,
    args: Vec<Value>,
    span: Span,
) -> R<Value> {
    let a = Args::new(&args);
    let r = match &recv {
        Value::Str(s) => string::call(it, s, name, &a, span)?,
        Value::List(_) | Value::Range(_) => collection::call(it, &recv, name, &a, span)?,
        Value::Map(m) => map::call(it, &recv, m, name, &a, span)?,
        v if v.is_number() => number::call(it, v, name, &a, span)?,
        Value::Class(c) => {
            let c = c.clone();
            statics::call_static(it, &c, name, &a, span)?
        }
        Value::Closure(_) => match name {
            "call" | "doCall" => Some(it.call_value(&recv, args.clone(), span)?),
            "curry" => {
                let bound = args.clone();
                let f = recv.clone();
                Some(curry(f, bound))
            }
            _ => None,
        },
        Value::Regex(re) => match name {
            "matcher" => Some(crate::eval::ops_find_all(
                it,
                re,
                &a.get(0).to_string(),
                span,
            )?),
            "pattern" | "toString" => Some(Value::str(re.as_str())),
            "matches" => Some(Value::Bool(crate::eval::ops_full_match(
                it,
                re,
                &a.get(0).to_string(),
                span,
            )?)),
            _ => None,
        },
        Value::Matcher(m) => match name {
            "matches" => Some(Value::Bool(crate::eval::ops_full_match(
                it, &m.regex, &m.input, span,
            )?)),
            "find" => Some(Value::Bool(!m.groups.is_empty())),
            "group" => {
                let g = if a.len() == 0 {
                    0
                } else {
                    int_arg(it, a.get(0), span)? as usize
                };
                Some(
                    m.groups
                        .first()
                        .and_then(|x| x.get(g))
                        .cloned()
                        .unwrap_or(Value::Null),
                )
            }
            "groupCount" => Some(Value::Int(
                m.groups.first().map_or(0, |g| g.len() as i32 - 1),
            )),
            "size" | "getCount" => Some(Value::Int(m.groups.len() as i32)),
            _ => collection::call(
                it,
                &Value::list(recv.iter_items().unwrap_or_default()),
                name,
                &a,
                span,
            )?,
        },
        Value::Entry(e) => match name {
            "getKey" => Some(e.0.clone()),
            "getValue" => Some(e.1.clone()),
            _ => None,
        },
        Value::Object(o) if o.def.is_none() => object_method(it, o, name, &a, span)?,
        Value::Null => match name {
            "toString" => Some(Value::str("null")),
            "is" | "equals" => Some(Value::Bool(matches!(a.get(0), Value::Null))),
            "asBoolean" => Some(Value::Bool(false)),
            _ => {
                return it.fail(
                    "NullPointerException",
                    format!("cannot call {name}() on null"),
                    span,
                );
            }
        },
        _ => None,
    };
    if let Some(v) = r {
        return Ok(v);
    }
    if let Some(v) = generic(it, &recv, name, &a, span)? {
        return Ok(v);
    }
    let mut candidates: Vec<&str> = OBJECT_METHODS.to_vec();
    candidates.extend(match &recv {
        Value::Str(_) => string::METHODS,
        Value::List(_) | Value::Range(_) => collection::METHODS,
        Value::Map(_) => map::METHODS,
        v if v.is_number() => number::METHODS,
        _ => &[],
    });
    let hint = did_you_mean(name, candidates)
        .map(|s| format!("; did you mean '{s}'?"))
        .unwrap_or_default();
    let what = match &recv {
        Value::Class(c) => format!("class {c}"),
        // No internal type name (LinkedHashMap): the object a host made the map, or a map.
        Value::Map(m) => it.map_label(m),
        other => other.type_name(),
    };
    if let Value::Map(m) = &recv
        && let Some(h) = it.map_methods(m)
    {
        let methods = h.method_names();
        if let Some(s) = did_you_mean(name, methods.iter().map(String::as_str)) {
            return it.fail(
                "MissingMethodException",
                format!("no method '{name}' on {what}; did you mean '{s}'?"),
                span,
            );
        }
    }
    it.fail(
        "MissingMethodException",
        format!(
            "no method '{name}' on {what} taking {} argument(s){hint}",
            args.len()
        ),
        span,
    )
}

fn curry(f: Value, bound: Vec<Value>) -> Value {
    // a curried closure: a method reference would lose the bound values, so wrap in a list-call
    let mut m = crate::value::MapData::default();
    m.insert(crate::value::Key::Str(Rc::from("f")), f);
    m.insert(crate::value::Key::Str(Rc::from("args")), Value::list(bound));
    Value::Closure(Rc::new(crate::value::Func::MethodRef {
        recv: Some(Value::map(m)),
        name: Rc::from("__curried"),
    }))
}

fn object_method(
    it: &mut Interp,
    o: &Rc<Obj>,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    let field = |n: &str| o.fields.borrow().get(n).cloned().unwrap_or(Value::Null);
    Ok(match (&*o.class, name) {
        ("JsonSlurper", "parseText" | "parse") => {
            let text = a.get(0).to_string();
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(j) => {
                    it.charge(text.len() * 4, span)?;
                    Some(crate::json::from_json(&j))
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
        ("StringBuilder", "append") => {
            string_builder_append(it, o, a.get(0), span)?;
            Some(Value::Object(o.clone()))
        }
        ("StringBuilder", "toString") => Some(Value::str(field("value").to_string())),
        ("StringBuilder", "length" | "size") => {
            Some(Value::Int(field("value").to_string().chars().count() as i32))
        }
        (_, "getMessage" | "getLocalizedMessage") => Some(field("message")),
        (_, "getCause") => Some(field("cause")),
        (_, "printStackTrace") => Some(Value::Null),
        _ => None,
    })
}

/// Methods every object has.
fn generic(it: &mut Interp, recv: &Value, name: &str, a: &Args, span: Span) -> R<Option<Value>> {
    Ok(Some(match name {
        "toString" => match recv {
            Value::Str(_) => recv.clone(),
            other => Value::Str(string::text(it, other, span)?),
        },
        "equals" => Value::Bool(values_equal(recv, a.get(0))),
        "is" => Value::Bool(crate::value::identical(recv, a.get(0))),
        "hashCode" => Value::Int(
            recv.to_string()
                .bytes()
                .fold(0i32, |h, b| h.wrapping_mul(31).wrapping_add(b as i32)),
        ),
        "getClass" => Value::Class(Rc::from(it.class_name(recv).as_str())),
        "asBoolean" => Value::Bool(recv.truthy()),
        "inspect" | "dump" => Value::Str(string::text(it, recv, span)?),
        "isCase" => Value::Bool(it.is_case(recv, a.get(0), span)?),
        "with" | "tap" => {
            let Some(f) = a.closure() else {
                return Ok(None);
            };
            let r = it.call_value(f, vec![recv.clone()], span)?;
            if name == "tap" { recv.clone() } else { r }
        }
        "identity" => {
            let Some(f) = a.closure() else {
                return Ok(None);
            };
            it.call_value(f, vec![recv.clone()], span)?
        }
        "__curried" => {
            let Value::Map(m) = recv else { return Ok(None) };
            let (f, bound) = {
                let m = m.borrow();
                (
                    m.get(&crate::value::StrKey("f")).cloned(),
                    m.get(&crate::value::StrKey("args")).cloned(),
                )
            };
            let mut args = bound.and_then(|b| b.iter_items()).unwrap_or_default();
            args.extend(a.v.iter().cloned());
            it.call_value(&f.unwrap_or(Value::Null), args, span)?
        }
        _ => return Ok(None),
    }))
}

/// Functions called by bare name that are not script methods or variables.
pub(crate) fn call_builtin(it: &mut Interp, name: &str, args: Vec<Value>, span: Span) -> R<Value> {
    match name {
        "println" => {
            if let Some(v) = args.first() {
                let s = match it.custom_to_string(v, span)? {
                    Some(s) => Rc::from(s),
                    None => string::text(it, v, span)?,
                };
                it.charge(s.len(), span)?;
                it.stdout.push_str(&s);
            }
            it.stdout.push('\n');
            Ok(Value::Null)
        }
        "print" => {
            if let Some(v) = args.first() {
                let s = match it.custom_to_string(v, span)? {
                    Some(s) => Rc::from(s),
                    None => string::text(it, v, span)?,
                };
                it.charge(s.len(), span)?;
                it.stdout.push_str(&s);
            }
            Ok(Value::Null)
        }
        "printf" => {
            let s = format::format(it, &args, span)?;
            it.charge(s.len(), span)?;
            it.stdout.push_str(&s);
            Ok(Value::Null)
        }
        "sprintf" => Ok(Value::str(format::format(it, &args, span)?)),
        "evaluate" | "sleep" | "execute" | "getBinding" | "setBinding" | "run" | "exit"
        | "load" => it.fail(
            "SecurityException",
            format!("{name}() is not available in sync scripts"),
            span,
        ),
        _ => {
            let mut candidates = it.local_names();
            candidates.extend(it.method_names());
            candidates.extend(["println", "print", "printf", "sprintf"].map(String::from));
            let hint = did_you_mean(name, candidates.iter().map(|s| s.as_str()))
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            it.fail(
                "MissingMethodException",
                format!("no method or closure '{name}' is defined here{hint}"),
                span,
            )
        }
    }
}
