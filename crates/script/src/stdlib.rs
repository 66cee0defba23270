//! The GDK methods sync scripts use, split by receiver type, plus the built-in functions
//! (`println`) and static classes (`Math`, `Integer`, `JsonOutput`, …). Anything that would
//! reach files, processes, the network or reflection is refused here; the time comes only from
//! the host's clock (`time`).

mod collection;
mod format;
mod list;
mod map;
mod number;
mod statics;
pub(crate) mod string;
pub(crate) mod time;

use std::cmp::Ordering;
use std::rc::Rc;

use crate::diagnostic::{Span, did_you_mean};
use crate::eval::{Interp, R};
use crate::value::{Curry, Func, Obj, Value, compare, values_equal};

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
        Value::Object(o) if o.def.is_none() && &*o.class == "Binding" => &["getVariables"],
        Value::Object(o) if o.def.is_none() && &*o.class == "JsonBuilder" => &["getContent"],
        Value::Object(o) if o.def.is_none() => &["getMessage", "getCause", "getLocalizedMessage"],
        Value::Time(t) => return time::has_getter(t, name),
        Value::Closure(_) => &["getMaximumNumberOfParameters", "getParameterTypes"],
        Value::Matcher(_) => &["getCount"],
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
        Value::Closure(f) => closure_method(it, f, &recv, name, &args, span)?,
        Value::Regex(re) => match name {
            "matcher" => Some(crate::eval::ops_find_all(
                it,
                re,
                &a.get(0).to_string(),
                span,
            )?),
            "pattern" | "toString" => Some(Value::str(re.as_str())),
            "flags" => Some(Value::Int(0)),
            "split" => {
                let text = string::text(it, a.get(0), span)?;
                let args = [Value::Regex(re.clone())];
                string::call(it, &text, "split", &Args::new(&args), span)?
            }
            "matches" => Some(Value::Bool(crate::eval::ops_full_match(
                it,
                re,
                &a.get(0).to_string(),
                span,
            )?)),
            _ => None,
        },
        Value::Matcher(m) => match matcher_method(it, m, name, &a, span)? {
            Some(v) => Some(v),
            None => collection::call(
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
        Value::Time(t) => time::call(it, t, name, &a, span)?,
        Value::Null => match name {
            "toString" | "inspect" => Some(Value::str("null")),
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
        // Nor `ArrayList` / `LinkedHashSet`: what the script made.
        Value::List(_) if it.is_set(&recv) => "a set".into(),
        Value::List(_) => "a list".into(),
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

/// Java's `Matcher` methods: `find()` moves to the next match, `group`, `start` and `end` read
/// the current one (the first when the script never called `find()`, as after `if (m)`).
fn matcher_method(
    it: &mut Interp,
    m: &Rc<crate::value::MatcherVal>,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    let current = |it: &Interp| -> R<usize> {
        match m.current.get() {
            Some(i) if i < m.groups.len() => Ok(i),
            None if !m.groups.is_empty() => Ok(0),
            _ => it.fail("IllegalStateException", "No match found", span),
        }
    };
    let group_index = |it: &mut Interp, v: &Value| -> R<usize> {
        if let Value::Str(n) = v {
            return match m.regex.capture_names().position(|x| x == Some(&**n)) {
                Some(i) => Ok(i),
                None => it.fail(
                    "IllegalArgumentException",
                    format!("No group with name <{n}>"),
                    span,
                ),
            };
        }
        Ok(usize::try_from(int_arg(it, v, span)?).unwrap_or(usize::MAX))
    };
    Ok(Some(match (name, a.len()) {
        ("matches", 0) => {
            let whole = crate::eval::ops_full_match(it, &m.regex, &m.input, span)?;
            if whole {
                m.current.set(Some(0));
            }
            Value::Bool(whole)
        }
        ("find", 0) => {
            let next = m.current.get().map_or(0, |i| i.saturating_add(1));
            m.current.set(Some(next.min(m.groups.len())));
            Value::Bool(next < m.groups.len())
        }
        ("reset", 0) => {
            m.current.set(None);
            Value::Matcher(m.clone())
        }
        ("group", 0 | 1) => {
            let i = current(it)?;
            let g = if a.len() == 0 {
                0
            } else {
                group_index(it, a.get(0))?
            };
            match m.groups[i].get(g) {
                Some(v) => v.clone(),
                None => {
                    return it.fail("IndexOutOfBoundsException", format!("No group {g}"), span);
                }
            }
        }
        ("start" | "end", 0) => {
            let i = current(it)?;
            let (s, e) = m.spans.get(i).copied().unwrap_or((0, 0));
            Value::Int(if name == "start" { s } else { e } as i32)
        }
        ("groupCount", 0) => Value::Int(m.regex.captures_len() as i32 - 1),
        ("hasGroup", 0) => Value::Bool(m.regex.captures_len() > 1),
        ("size" | "getCount", 0) => Value::Int(m.groups.len() as i32),
        ("replaceAll" | "replaceFirst", 1) => {
            let args = [Value::Regex(m.regex.clone()), a.get(0).clone()];
            return string::call(it, &m.input, name, &Args::new(&args), span);
        }
        ("pattern", 0) => Value::Regex(m.regex.clone()),
        _ => return Ok(None),
    }))
}

/// The parameters a closure takes (`maximumNumberOfParameters`): `{ it }` takes one.
pub(crate) fn closure_arity(f: &Func) -> usize {
    match f {
        Func::Closure { def, .. } => {
            if def.params.is_empty() && def.implicit_it {
                1
            } else {
                def.params.len()
            }
        }
        Func::Curried { f, bound, .. } => match f {
            Value::Closure(g) => closure_arity(g).saturating_sub(bound.len()),
            _ => 0,
        },
        Func::Composed { first: f, .. } | Func::Memoized { f, .. } => match f {
            Value::Closure(g) => closure_arity(g),
            _ => 0,
        },
        Func::MethodRef { .. } | Func::ScriptMethod(_) => 1,
    }
}

fn closure_method(
    it: &mut Interp,
    f: &Rc<Func>,
    recv: &Value,
    name: &str,
    args: &[Value],
    span: Span,
) -> R<Option<Value>> {
    let curried = |bound: Vec<Value>, at: Curry| {
        Value::Closure(Rc::new(Func::Curried {
            f: recv.clone(),
            bound,
            at,
        }))
    };
    let composed = |first: &Value, then: &Value| {
        Value::Closure(Rc::new(Func::Composed {
            first: first.clone(),
            then: then.clone(),
        }))
    };
    Ok(Some(match (name, args) {
        ("call" | "doCall", _) => it.call_value(recv, args.to_vec(), span)?,
        ("curry", _) => curried(args.to_vec(), Curry::Left),
        ("rcurry", _) => curried(args.to_vec(), Curry::Right),
        ("ncurry", [n, rest @ ..]) => {
            let n = int_arg(it, n, span)?;
            let Ok(n) = usize::try_from(n) else {
                return it.fail(
                    "IllegalArgumentException",
                    format!("ncurry needs a position of 0 or more, not {n}"),
                    span,
                );
            };
            curried(rest.to_vec(), Curry::At(n))
        }
        ("memoize", []) => Value::Closure(Rc::new(Func::Memoized {
            f: recv.clone(),
            cache: Default::default(),
        })),
        ("rightShift", [g @ Value::Closure(_)]) => composed(recv, g),
        ("leftShift", [g @ Value::Closure(_)]) => composed(g, recv),
        ("getMaximumNumberOfParameters", []) => Value::Int(closure_arity(f) as i32),
        ("getParameterTypes", []) => {
            let n = closure_arity(f);
            it.charge(crate::limits::list_bytes(n), span)?;
            Value::list(vec![Value::Class(Rc::from("Object")); n])
        }
        _ => return Ok(None),
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
        ("Binding", "getVariables") => Some(it.binding_variables(span)?),
        ("Binding", "hasVariable") => {
            let n = a.get(0).to_string();
            Some(Value::Bool(it.variable(&n).is_some()))
        }
        ("Binding", "getVariable" | "getProperty") => {
            let n = a.get(0).to_string();
            match it.variable(&n) {
                Some(v) => Some(v),
                None => {
                    return it.fail(
                        "MissingPropertyException",
                        format!("No such property: {n} for class: groovy.lang.Binding"),
                        span,
                    );
                }
            }
        }
        ("Binding", "setVariable" | "setProperty") => {
            let n = a.get(0).to_string();
            it.charge(crate::limits::ENTRY_BYTES, span)?;
            it.set_variable(Rc::from(n.as_str()), a.get(1).clone());
            Some(Value::Null)
        }
        ("JsonBuilder", "toString") => {
            Some(Value::str(crate::json::to_json_text(&field("content"))))
        }
        ("JsonBuilder", "toPrettyString") => {
            let text = crate::json::to_json_text(&field("content"));
            it.charge(text.len().saturating_mul(2), span)?;
            let args = [Value::str(text)];
            statics::call_static(
                it,
                &Rc::from("JsonOutput"),
                "prettyPrint",
                &Args::new(&args),
                span,
            )?
        }
        ("JsonBuilder", "getContent") => Some(field("content")),
        ("JsonBuilder", name)
            if a.len() == 1
                && (matches!(a.get(0), Value::Map(_))
                    || (name == "call" && !matches!(a.get(0), Value::Closure(_)))) =>
        {
            // `b(map)`, `b.call(list)`: the content; `b.issue(map)`: {"issue": map}
            let content = if name == "call" {
                a.get(0).clone()
            } else {
                let mut m = crate::value::MapData::default();
                m.insert(crate::value::Key::Str(Rc::from(name)), a.get(0).clone());
                Value::map(m)
            };
            o.fields
                .borrow_mut()
                .insert(Rc::from("content"), content.clone());
            Some(content)
        }
        ("JsonBuilder", _) => {
            return it.fail(
                "UnsupportedOperationException",
                "JsonBuilder's builder closures are not offered in sync scripts: build the map or list and pass it, as in new JsonBuilder([name: 'x', tags: ['a']]) or JsonOutput.toJson(map)",
                span,
            );
        }
        ("DecimalFormat", "format") => {
            let pattern = field("pattern").to_string();
            match format::decimal_format(&pattern, a.get(0)) {
                Ok(text) => Some(Value::str(text)),
                Err(e) => return it.fail("IllegalArgumentException", e, span),
            }
        }
        ("DecimalFormat", "toPattern") => Some(field("pattern")),
        ("RoundingMode", "name" | "toString") => Some(field("name")),
        ("RoundingMode", "ordinal") => Some(Value::Int(
            crate::num::Rounding::named(&field("name").to_string()).map_or(0, |r| r as i32),
        )),
        ("StringBuilder", "append") => {
            string_builder_append(it, o, a.get(0), span)?;
            Some(Value::Object(o.clone()))
        }
        (
            "StringBuilder",
            "insert" | "setLength" | "deleteCharAt" | "delete" | "replace" | "reverse",
        ) => {
            let cur: Vec<char> = field("value").to_string().chars().collect();
            let idx = |it: &mut Interp, v: &Value| -> R<usize> {
                let i = int_arg(it, v, span)?;
                match usize::try_from(i) {
                    Ok(i) if i <= cur.len() || name == "setLength" => Ok(i),
                    _ => it.fail(
                        "StringIndexOutOfBoundsException",
                        format!("index {i}, length {}", cur.len()),
                        span,
                    ),
                }
            };
            let mut next = cur.clone();
            match name {
                "insert" => {
                    let at = idx(it, a.get(0))?;
                    let t = string::text(it, a.get(1), span)?;
                    it.charge(cur.len().saturating_add(t.len()), span)?;
                    next.splice(at..at, t.chars());
                }
                "setLength" => {
                    let n = idx(it, a.get(0))?;
                    it.charge(n, span)?;
                    next.resize(n, '\0');
                }
                "deleteCharAt" => {
                    let at = idx(it, a.get(0))?;
                    if at >= next.len() {
                        return it.fail(
                            "StringIndexOutOfBoundsException",
                            format!("index {at}, length {}", cur.len()),
                            span,
                        );
                    }
                    next.remove(at);
                }
                "delete" | "replace" => {
                    let from = idx(it, a.get(0))?;
                    let to =
                        int_arg(it, a.get(1), span)?.clamp(from as i64, cur.len() as i64) as usize;
                    let with = if name == "replace" {
                        string::text(it, a.get(2), span)?.to_string()
                    } else {
                        String::new()
                    };
                    it.charge(cur.len().saturating_add(with.len()), span)?;
                    next.splice(from..to, with.chars());
                }
                _ => next.reverse(),
            }
            o.fields.borrow_mut().insert(
                Rc::from("value"),
                Value::str(next.into_iter().collect::<String>()),
            );
            Some(Value::Object(o.clone()))
        }
        ("StringBuilder", "indexOf" | "charAt" | "substring" | "contains") => {
            let text = field("value");
            let Value::Str(text) = text else {
                return Ok(None);
            };
            string::call(it, &text, name, a, span)?
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
        // Java's equals: `5.equals(5L)` and `1.0.equals(1.00)` are false, unlike `==`
        "equals" => Value::Bool(crate::value::java_equals(recv, a.get(0))),
        "is" => Value::Bool(crate::value::identical(recv, a.get(0))),
        "hashCode" => Value::Int(
            recv.to_string()
                .bytes()
                .fold(0i32, |h, b| h.wrapping_mul(31).wrapping_add(b as i32)),
        ),
        "getClass" => Value::Class(Rc::from(it.class_name(recv).as_str())),
        "asBoolean" => Value::Bool(recv.truthy()),
        "inspect" => {
            let text = inspect(recv, 0);
            it.charge(text.len(), span)?;
            Value::str(text)
        }
        "dump" => Value::Str(string::text(it, recv, span)?),
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
        "getBinding" if args.is_empty() => Ok(crate::eval::binding_object()),
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

/// Groovy's `inspect()`: the value as source code would write it (`['a':1, 'b':[2]]`).
fn inspect(v: &Value, depth: usize) -> String {
    if depth > 64 {
        return "[…]".to_string();
    }
    match v {
        Value::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::List(l) => {
            let items: Vec<String> = l.borrow().iter().map(|x| inspect(x, depth + 1)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(m) => {
            let m = m.borrow();
            if m.is_empty() {
                return "[:]".to_string();
            }
            let items: Vec<String> = m
                .iter()
                .map(|(k, x)| {
                    format!(
                        "{}:{}",
                        inspect(&k.to_value(), depth + 1),
                        inspect(x, depth + 1)
                    )
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}
