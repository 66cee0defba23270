//! List and range methods: the GDK's iteration methods (`collect`, `findAll`, `inject`, …) and
//! Java's `List` methods.

use std::cmp::Ordering;

use super::{Args, closure_cmp, int_arg, natural_cmp, sort_values, unique_values};
use crate::ast::BinOp;
use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::limits::{ENTRY_BYTES, VALUE_BYTES, list_bytes};
use crate::value::{MapData, Value, java_equals, values_equal};

pub(crate) const METHODS: &[&str] = &[
    "size",
    "isEmpty",
    "get",
    "getAt",
    "first",
    "last",
    "head",
    "tail",
    "init",
    "take",
    "drop",
    "takeWhile",
    "dropWhile",
    "add",
    "addAll",
    "remove",
    "removeAt",
    "removeAll",
    "removeIf",
    "retainAll",
    "clear",
    "contains",
    "containsAll",
    "indexOf",
    "lastIndexOf",
    "join",
    "collect",
    "collectMany",
    "collectEntries",
    "each",
    "eachWithIndex",
    "withIndex",
    "indexed",
    "find",
    "findAll",
    "findIndexOf",
    "findIndexValues",
    "isReverse",
    "encodeBase64",
    "transpose",
    "findResult",
    "findResults",
    "any",
    "every",
    "count",
    "countBy",
    "sum",
    "max",
    "min",
    "inject",
    "groupBy",
    "sort",
    "toSorted",
    "unique",
    "toUnique",
    "reverse",
    "flatten",
    "toList",
    "toSet",
    "intersect",
    "disjoint",
    "plus",
    "minus",
    "subList",
    "grep",
    "push",
    "pop",
    "collate",
    "set",
    "putAt",
    "asList",
    "asImmutable",
    "toArray",
    "leftShift",
    "average",
    "reverseEach",
    "findLastIndexOf",
    "lastIndexOf",
    "getFrom",
    "getTo",
    "step",
    "split",
    "multiply",
    "eachWithIndex",
    "asUnmodifiable",
    "shuffled",
    "stream",
];

fn call1(it: &mut Interp, f: &Value, x: Value, span: Span) -> R<Value> {
    it.call1(f, x, span)
}

fn need_closure<'a>(it: &Interp, a: &'a Args, name: &str, span: Span) -> R<&'a Value> {
    match a.closure() {
        Some(f) => Ok(f),
        None => it.fail(
            "MissingMethodException",
            format!("{name} needs a closure, e.g. {name} {{ it … }}"),
            span,
        ),
    }
}

fn sum(it: &mut Interp, items: Vec<Value>, span: Span) -> R<Value> {
    let mut iter = items.into_iter();
    let Some(mut acc) = iter.next() else {
        return Ok(Value::Null);
    };
    for x in iter {
        acc = crate::eval::binary_op(it, BinOp::Add, acc, x, span)?;
    }
    Ok(acc)
}

/// Flattens nested lists into `out`, charging every element before it is kept: a list that
/// holds the same long list many times cannot flatten into more than the budget.
fn flatten(it: &mut Interp, v: &[Value], out: &mut Vec<Value>, depth: usize, span: Span) -> R<()> {
    for x in v {
        match x {
            Value::List(_) | Value::Range(_)
                if depth < 100 && crate::value::visit(crate::value::Walk::Flatten, depth + 1) =>
            {
                let items = it.items(x, span)?.unwrap_or_default();
                flatten(it, &items, out, depth + 1, span)?
            }
            other => {
                it.charge(VALUE_BYTES, span)?;
                out.push(other.clone())
            }
        }
    }
    Ok(())
}

/// A list of `n` new slots, charged first.
fn charged_list(it: &mut Interp, n: usize, span: Span) -> R<()> {
    it.charge(list_bytes(n), span)?;
    it.work(n, span)
}

pub(crate) fn call(
    it: &mut Interp,
    recv: &Value,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    if let Value::List(l) = recv
        && let Some(v) = super::list::call_mutating(it, l, recv, name, a, span)?
    {
        return Ok(Some(v));
    }
    let set = it.is_set(recv);
    if set && matches!(name, "plus" | "minus") && a.len() == 1 {
        let op = if name == "plus" {
            BinOp::Add
        } else {
            BinOp::Sub
        };
        return crate::eval::binary_op(it, op, recv.clone(), a.get(0).clone(), span).map(Some);
    }
    let items = it.items(recv, span)?.unwrap_or_default();
    let n = items.len();
    // the methods below that build a list of the receiver's size charge it up front
    if matches!(
        name,
        "tail"
            | "init"
            | "takeWhile"
            | "dropWhile"
            | "collect"
            | "withIndex"
            | "indexed"
            | "findAll"
            | "grep"
            | "findResults"
            | "sort"
            | "toSorted"
            | "unique"
            | "toUnique"
            | "reverse"
            | "toList"
            | "asList"
            | "toArray"
            | "asImmutable"
            | "asUnmodifiable"
            | "toSet"
            | "intersect"
            | "split"
            | "collate"
            | "step"
            | "groupBy"
            | "countBy"
            | "collectEntries"
    ) {
        let per = match name {
            "withIndex" | "indexed" | "collate" => 3 * VALUE_BYTES + 32,
            "groupBy" | "countBy" | "collectEntries" => ENTRY_BYTES,
            _ => VALUE_BYTES,
        };
        it.charge(n.saturating_mul(per), span)?;
        it.work(n, span)?;
    }
    let v = match (name, a.len()) {
        ("size", 0) => Value::Int(n as i32),
        ("isEmpty", 0) => Value::Bool(n == 0),
        // `get` is Java's: an index past the end is an error (`getAt` and `l[i]` give null)
        ("get", 1) if a.get(0).is_number() => {
            let i = int_arg(it, a.get(0), span)?;
            match usize::try_from(i).ok().and_then(|i| items.get(i)) {
                Some(v) => v.clone(),
                None => {
                    return it.fail(
                        "IndexOutOfBoundsException",
                        format!("Index {i} out of bounds for length {n}"),
                        span,
                    );
                }
            }
        }
        ("get" | "getAt", 1) => it.get_index(recv, a.get(0), span)?,
        ("stream" | "parallelStream", 0) => {
            return it.fail(
                "UnsupportedOperationException",
                "Java streams are not offered in sync scripts: use Groovy's collection methods instead (collect for map, findAll for filter, inject for reduce, join for joining)",
                span,
            );
        }
        ("encodeBase64", 0) => {
            use base64::Engine;
            let Some(bytes) = super::string::byte_list(recv) else {
                return it.fail(
                    "IllegalArgumentException",
                    "encodeBase64 needs a list of bytes, such as 'text'.bytes",
                    span,
                );
            };
            it.charge(bytes.len().saturating_mul(2).saturating_add(4), span)?;
            Value::str(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        ("isReverse", 0) => Value::Bool(matches!(recv, Value::Range(r) if r.from > r.to)),
        ("transpose", 0) => {
            let rows: Vec<Vec<Value>> = items
                .iter()
                .map(|r| r.iter_items().unwrap_or_default())
                .collect();
            let width = rows.iter().map(Vec::len).min().unwrap_or(0);
            it.charge(list_bytes(width.saturating_mul(rows.len())), span)?;
            Value::list(
                (0..width)
                    .map(|c| Value::list(rows.iter().map(|r| r[c].clone()).collect()))
                    .collect(),
            )
        }
        ("findIndexValues", 1) => {
            let mut out = Vec::new();
            for (i, x) in items.iter().enumerate() {
                if it.call1(a.get(0), x.clone(), span)?.truthy() {
                    out.push(Value::Int(i as i32));
                }
            }
            Value::list(out)
        }
        ("collectNested", 1) => {
            fn nested(it: &mut Interp, v: &Value, f: &Value, span: Span, depth: usize) -> R<Value> {
                match v {
                    Value::List(_) if depth < 64 => {
                        let items = it.items(v, span)?.unwrap_or_default();
                        it.charge(list_bytes(items.len()), span)?;
                        let mut out = Vec::with_capacity(items.len());
                        for x in &items {
                            out.push(nested(it, x, f, span, depth + 1)?);
                        }
                        Ok(Value::list(out))
                    }
                    other => it.call1(f, other.clone(), span),
                }
            }
            nested(it, recv, a.get(0), span, 0)?
        }
        ("plus", 2) if a.get(0).is_number() => {
            let at = int_arg(it, a.get(0), span)?;
            let Some(at) = usize::try_from(at).ok().filter(|i| *i <= n) else {
                return it.fail(
                    "IndexOutOfBoundsException",
                    format!("Index: {at}, Size: {n}"),
                    span,
                );
            };
            let add = match a.get(1) {
                v @ (Value::List(_) | Value::Range(_)) => it.items(v, span)?.unwrap_or_default(),
                v => vec![v.clone()],
            };
            it.charge(list_bytes(n.saturating_add(add.len())), span)?;
            let mut out = items.clone();
            out.splice(at..at, add);
            Value::list(out)
        }
        ("withIndex" | "indexed", 1) => {
            let offset = int_arg(it, a.get(0), span)?;
            it.charge(list_bytes(n).saturating_mul(3), span)?;
            if name == "indexed" {
                let mut m = MapData::default();
                for (i, x) in items.iter().enumerate() {
                    m.insert(crate::value::Key::Int(i as i64 + offset), x.clone());
                }
                Value::map(m)
            } else {
                Value::list(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, x)| {
                            Value::list(vec![x.clone(), Value::from_i64(i as i64 + offset)])
                        })
                        .collect(),
                )
            }
        }
        ("collate", 2..=3) => {
            let size = int_arg(it, a.get(0), span)?;
            let (step, keep) = match (a.len(), a.get(1)) {
                (1, _) => (size, true),
                (2, Value::Bool(b)) => (size, *b),
                (2, v) => (int_arg(it, v, span)?, true),
                _ => (int_arg(it, a.get(1), span)?, a.get(2).truthy()),
            };
            if size <= 0 || step <= 0 {
                return it.fail(
                    "IllegalArgumentException",
                    "collate needs a size and a step of 1 or more",
                    span,
                );
            }
            let (size, step) = (size as usize, step as usize);
            it.charge(
                list_bytes(n.saturating_mul(size.div_ceil(step).max(1))),
                span,
            )?;
            let mut out = Vec::new();
            let mut i = 0;
            while i < n {
                let chunk: Vec<Value> = items[i..(i + size).min(n)].to_vec();
                if chunk.len() == size || keep {
                    out.push(Value::list(chunk));
                }
                i += step;
            }
            Value::list(out)
        }
        ("groupBy", k) if k >= 2 && a.v.iter().all(|f| matches!(f, Value::Closure(_))) => {
            // grouped by the first closure, each group again by the rest
            let first = a.get(0).clone();
            let grouped = call(
                it,
                recv,
                "groupBy",
                &Args::new(std::slice::from_ref(&first)),
                span,
            )?;
            let Some(Value::Map(m)) = grouped else {
                return Ok(None);
            };
            let entries: Vec<(crate::value::Key, Value)> = m
                .borrow()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut out = MapData::default();
            for (key, group) in entries {
                let sub = call(it, &group, "groupBy", &Args::new(&a.v[1..]), span)?
                    .unwrap_or(Value::Null);
                out.insert(key, sub);
            }
            Value::map(out)
        }
        ("first" | "head", 0) => match items.first() {
            Some(v) => v.clone(),
            None => {
                return it.fail(
                    "NoSuchElementException",
                    format!("Cannot access {name}() element from an empty List"),
                    span,
                );
            }
        },
        ("last", 0) => match items.last() {
            Some(v) => v.clone(),
            None => {
                return it.fail(
                    "NoSuchElementException",
                    "Cannot access last() element from an empty List",
                    span,
                );
            }
        },
        ("tail", 0) => {
            if n == 0 {
                return it.fail(
                    "NoSuchElementException",
                    "Cannot access tail() for an empty List",
                    span,
                );
            }
            Value::list(items[1..].to_vec())
        }
        ("init", 0) => Value::list(items[..n.saturating_sub(1)].to_vec()),
        ("take", 1) => {
            let k = (int_arg(it, a.get(0), span)?.max(0) as usize).min(n);
            charged_list(it, k, span)?;
            Value::list(items.into_iter().take(k).collect())
        }
        ("drop", 1) => {
            let k = (int_arg(it, a.get(0), span)?.max(0) as usize).min(n);
            charged_list(it, n - k, span)?;
            Value::list(items.into_iter().skip(k).collect())
        }
        ("takeWhile" | "dropWhile", 1) => {
            let f = need_closure(it, a, name, span)?;
            let mut cut = n;
            for (i, x) in items.iter().enumerate() {
                if !call1(it, f, x.clone(), span)?.truthy() {
                    cut = i;
                    break;
                }
            }
            if name == "takeWhile" {
                Value::list(items[..cut].to_vec())
            } else {
                Value::list(items[cut..].to_vec())
            }
        }
        ("contains", 1) => Value::Bool(items.iter().any(|x| java_equals(x, a.get(0)))),
        ("containsAll", 1) => {
            let other = it.items(a.get(0), span)?.unwrap_or_default();
            it.work(other.len().saturating_mul(n), span)?;
            Value::Bool(
                other
                    .iter()
                    .all(|y| items.iter().any(|x| java_equals(x, y))),
            )
        }
        ("indexOf", 1) => Value::Int(
            items
                .iter()
                .position(|x| java_equals(x, a.get(0)))
                .map_or(-1, |p| p as i32),
        ),
        ("lastIndexOf", 1) => Value::Int(
            items
                .iter()
                .rposition(|x| java_equals(x, a.get(0)))
                .map_or(-1, |p| p as i32),
        ),
        ("join", 0 | 1) => {
            let sep = if a.len() == 1 {
                a.get(0).to_string()
            } else {
                String::new()
            };
            // strings' sizes are known: charge them first; other items are counted while
            // they print
            let known =
                items.iter().fold(
                    sep.len().saturating_mul(n.saturating_sub(1)),
                    |t, x| match x {
                        Value::Str(s) => t.saturating_add(s.len()),
                        _ => t,
                    },
                );
            it.charge(known, span)?;
            let mut s = String::with_capacity(known.min(1 << 20));
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(&sep);
                }
                crate::eval::append_display(&mut s, x);
                if i % 1024 == 1023 {
                    it.charge(0, span)?;
                    it.work(1024, span)?;
                }
            }
            it.charge(0, span)?;
            Value::str(s)
        }
        ("collect", 0) => Value::list(items),
        ("collect", 1) => {
            let f = need_closure(it, a, name, span)?;
            let mut out = Vec::with_capacity(n);
            for x in items {
                out.push(call1(it, f, x, span)?);
            }
            Value::list(out)
        }
        ("collectMany", 1) => {
            let f = need_closure(it, a, name, span)?;
            let mut out = Vec::new();
            for x in items {
                let r = call1(it, f, x, span)?;
                let more = it.items(&r, span)?.unwrap_or_else(|| vec![r.clone()]);
                charged_list(it, more.len(), span)?;
                out.extend(more);
            }
            Value::list(out)
        }
        ("collectEntries", 0 | 1) => {
            let mut m = MapData::default();
            for x in items {
                let e = match a.closure() {
                    Some(f) => call1(it, f, x, span)?,
                    None => x,
                };
                match &e {
                    Value::Map(em) => {
                        it.charge(em.borrow().len().saturating_mul(ENTRY_BYTES), span)?;
                        m.extend(em.borrow().iter().map(|(k, v)| (k.clone(), v.clone())))
                    }
                    Value::Entry(en) => {
                        m.insert(en.0.to_key(), en.1.clone());
                    }
                    other => {
                        let kv = other.iter_items().unwrap_or_default();
                        if kv.len() != 2 {
                            return it.fail(
                                "IllegalArgumentException",
                                "collectEntries needs [key, value] pairs or maps",
                                span,
                            );
                        }
                        m.insert(kv[0].to_key(), kv[1].clone());
                    }
                }
            }
            Value::map(m)
        }
        ("each", 1) => {
            let f = need_closure(it, a, name, span)?;
            for x in items {
                call1(it, f, x, span)?;
            }
            recv.clone()
        }
        ("reverseEach", 1) => {
            let f = need_closure(it, a, name, span)?;
            for x in items.into_iter().rev() {
                call1(it, f, x, span)?;
            }
            recv.clone()
        }
        ("eachWithIndex", 1) => {
            let f = need_closure(it, a, name, span)?;
            for (i, x) in items.into_iter().enumerate() {
                it.call_value(f, vec![x, Value::Int(i as i32)], span)?;
            }
            recv.clone()
        }
        ("withIndex" | "indexed", 0) => {
            let pairs: Vec<Value> = items
                .into_iter()
                .enumerate()
                .map(|(i, x)| {
                    if name == "withIndex" {
                        Value::list(vec![x, Value::Int(i as i32)])
                    } else {
                        Value::list(vec![Value::Int(i as i32), x])
                    }
                })
                .collect();
            if name == "indexed" {
                let mut m = MapData::default();
                for p in pairs {
                    let kv = p.iter_items().unwrap_or_default();
                    m.insert(kv[0].to_key(), kv[1].clone());
                }
                Value::map(m)
            } else {
                Value::list(pairs)
            }
        }
        ("find", 0 | 1) => {
            for x in items {
                let hit = match a.closure() {
                    Some(f) => call1(it, f, x.clone(), span)?.truthy(),
                    None => x.truthy(),
                };
                if hit {
                    return Ok(Some(x));
                }
            }
            Value::Null
        }
        ("findAll" | "grep", 0 | 1) => {
            let mut out = Vec::new();
            for x in items {
                let hit = match a.get(0) {
                    f @ Value::Closure(_) => call1(it, f, x.clone(), span)?.truthy(),
                    Value::Null if a.len() == 0 => x.truthy(),
                    filter if name == "grep" => it.is_case(filter, &x, span)?,
                    _ => x.truthy(),
                };
                if hit {
                    out.push(x);
                }
            }
            Value::list(out)
        }
        ("findIndexOf" | "findLastIndexOf", 1) => {
            let f = need_closure(it, a, name, span)?;
            let mut found = -1;
            for (i, x) in items.into_iter().enumerate() {
                if call1(it, f, x, span)?.truthy() {
                    found = i as i32;
                    if name == "findIndexOf" {
                        break;
                    }
                }
            }
            Value::Int(found)
        }
        ("findResult", 1) => {
            let f = need_closure(it, a, name, span)?;
            for x in items {
                let r = call1(it, f, x, span)?;
                if !matches!(r, Value::Null) {
                    return Ok(Some(r));
                }
            }
            Value::Null
        }
        ("findResults", 1) => {
            let f = need_closure(it, a, name, span)?;
            let mut out = Vec::new();
            for x in items {
                let r = call1(it, f, x, span)?;
                if !matches!(r, Value::Null) {
                    out.push(r);
                }
            }
            Value::list(out)
        }
        ("any" | "every", 0 | 1) => {
            let want_any = name == "any";
            for x in items {
                let hit = match a.closure() {
                    Some(f) => call1(it, f, x, span)?.truthy(),
                    None => x.truthy(),
                };
                if hit == want_any {
                    return Ok(Some(Value::Bool(want_any)));
                }
            }
            Value::Bool(!want_any)
        }
        ("count", 1) => {
            let mut c = 0;
            for x in items {
                let hit = match a.get(0) {
                    f @ Value::Closure(_) => call1(it, f, x, span)?.truthy(),
                    other => values_equal(other, &x),
                };
                c += hit as i32;
            }
            Value::Int(c)
        }
        ("countBy" | "groupBy", 1) => {
            let f = need_closure(it, a, name, span)?;
            let mut m = MapData::default();
            for x in items {
                let k = call1(it, f, x.clone(), span)?.to_key();
                if name == "countBy" {
                    let c = m
                        .get(&k)
                        .map_or(0, |v| if let Value::Int(i) = v { *i } else { 0 });
                    m.insert(k, Value::Int(c + 1));
                } else {
                    match m.get(&k) {
                        Some(Value::List(l)) => l.borrow_mut().push(x),
                        _ => {
                            m.insert(k, Value::list(vec![x]));
                        }
                    }
                }
            }
            Value::map(m)
        }
        ("sum", 0) => sum(it, items, span)?,
        ("sum", 1) => {
            let mut mapped = Vec::with_capacity(n);
            match a.get(0) {
                f @ Value::Closure(_) => {
                    for x in items {
                        mapped.push(call1(it, f, x, span)?);
                    }
                }
                init => {
                    mapped.push(init.clone());
                    mapped.extend(items);
                }
            }
            sum(it, mapped, span)?
        }
        ("average", 0) => {
            if n == 0 {
                Value::Null
            } else {
                let total = sum(it, items, span)?;
                crate::eval::binary_op(it, BinOp::Div, total, Value::Int(n as i32), span)?
            }
        }
        ("max" | "min", 0 | 1) => {
            let mut best: Option<Value> = None;
            for x in items {
                best = Some(match best {
                    None => x,
                    Some(b) => {
                        let o = match a.closure() {
                            Some(f) => closure_cmp(it, f, &x, &b, span)?,
                            None => natural_cmp(&x, &b),
                        };
                        if (name == "max" && o == Ordering::Greater)
                            || (name == "min" && o == Ordering::Less)
                        {
                            x
                        } else {
                            b
                        }
                    }
                });
            }
            best.unwrap_or(Value::Null)
        }
        ("inject", 1 | 2) => {
            let f = need_closure(it, a, name, span)?;
            let mut iter = items.into_iter();
            let mut acc = if a.len() == 2 {
                a.get(0).clone()
            } else {
                iter.next().unwrap_or(Value::Null)
            };
            for x in iter {
                acc = it.call_value(f, vec![acc, x], span)?;
            }
            acc
        }
        ("sort" | "toSorted", _) => Value::list(sort_with(it, items, a.closure(), span)?),
        ("unique" | "toUnique", _) => Value::list(unique_by(it, items, a.closure(), span)?),
        ("reverse", 0) => Value::list(items.into_iter().rev().collect()),
        ("flatten", 0) => {
            let mut out = Vec::new();
            crate::value::visit(crate::value::Walk::Flatten, 0);
            flatten(it, &items, &mut out, 0, span)?;
            Value::list(out)
        }
        ("toList" | "asList" | "toArray" | "asImmutable" | "asUnmodifiable", 0) => {
            Value::list(items)
        }
        ("toSet", 0) => Value::list(unique_values(it, items, span)?),
        ("intersect", 1) => {
            let other = it.items(a.get(0), span)?.unwrap_or_default();
            let mut common = Vec::new();
            for x in items {
                it.work(other.len(), span)?;
                if other.iter().any(|y| values_equal(&x, y)) {
                    common.push(x);
                }
            }
            Value::list(unique_values(it, common, span)?)
        }
        ("disjoint", 1) => {
            let other = it.items(a.get(0), span)?.unwrap_or_default();
            it.work(other.len().saturating_mul(n), span)?;
            Value::Bool(
                !items
                    .iter()
                    .any(|x| other.iter().any(|y| values_equal(x, y))),
            )
        }
        ("plus" | "minus" | "multiply", 1) => {
            let op = match name {
                "plus" => BinOp::Add,
                "minus" => BinOp::Sub,
                _ => BinOp::Mul,
            };
            crate::eval::binary_op(it, op, Value::list(items), a.get(0).clone(), span)?
        }
        ("subList", 2) => {
            let (from, to) = (int_arg(it, a.get(0), span)?, int_arg(it, a.get(1), span)?);
            if from < 0 || to > n as i64 || from > to {
                return it.fail(
                    "IndexOutOfBoundsException",
                    format!("subList({from}, {to}) of a list of size {n}"),
                    span,
                );
            }
            charged_list(it, (to - from) as usize, span)?;
            Value::list(items[from as usize..to as usize].to_vec())
        }
        ("collate", 1) => {
            let size = int_arg(it, a.get(0), span)?.max(1) as usize;
            Value::list(
                items
                    .chunks(size)
                    .map(|c| Value::list(c.to_vec()))
                    .collect(),
            )
        }
        ("split", 1) => {
            let f = need_closure(it, a, name, span)?;
            let (mut yes, mut no) = (Vec::new(), Vec::new());
            for x in items {
                if call1(it, f, x.clone(), span)?.truthy() {
                    yes.push(x)
                } else {
                    no.push(x)
                }
            }
            Value::list(vec![Value::list(yes), Value::list(no)])
        }
        ("getFrom", 0) => items.first().cloned().unwrap_or(Value::Null),
        ("getTo", 0) => items.last().cloned().unwrap_or(Value::Null),
        ("step", 1) => {
            let k = int_arg(it, a.get(0), span)?.max(1) as usize;
            Value::list(items.into_iter().step_by(k).collect())
        }
        _ => return Ok(None),
    };
    // What a set's filters give is a set; `toSet()` makes one.
    if (set
        && matches!(
            name,
            "findAll" | "grep" | "intersect" | "unique" | "toUnique"
        ))
        || name == "toSet"
    {
        it.mark_set(&v);
    }
    Ok(Some(v))
}

pub(super) fn sort_with(
    it: &mut Interp,
    items: Vec<Value>,
    f: Option<&Value>,
    span: Span,
) -> R<Vec<Value>> {
    match f {
        Some(f) => {
            let f = f.clone();
            sort_values(it, items, span, &mut |it, x, y| {
                closure_cmp(it, &f, x, y, span)
            })
        }
        None => sort_values(it, items, span, &mut |_, x, y| Ok(natural_cmp(x, y))),
    }
}

pub(super) fn unique_by(
    it: &mut Interp,
    items: Vec<Value>,
    f: Option<&Value>,
    span: Span,
) -> R<Vec<Value>> {
    let Some(f) = f else {
        return unique_values(it, items, span);
    };
    let mut out: Vec<Value> = Vec::new();
    let mut keys: Vec<Value> = Vec::new();
    for x in items {
        let k = call1(it, f, x.clone(), span)?;
        it.work(keys.len(), span)?;
        if !keys.iter().any(|y| values_equal(y, &k)) {
            keys.push(k);
            out.push(x);
        }
    }
    Ok(out)
}
