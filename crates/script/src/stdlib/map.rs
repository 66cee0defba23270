//! Map methods. Closures given one parameter receive the entry; two receive key and value.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

use super::{Args, closure_cmp, natural_cmp, sort_values};
use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::limits::ENTRY_BYTES;
use crate::value::{MapData, Value, values_equal};

pub(crate) const METHODS: &[&str] = &[
    "size",
    "isEmpty",
    "get",
    "getAt",
    "getOrDefault",
    "put",
    "putAll",
    "putAt",
    "remove",
    "containsKey",
    "containsValue",
    "keySet",
    "values",
    "entrySet",
    "each",
    "eachWithIndex",
    "collect",
    "collectEntries",
    "collectMany",
    "find",
    "findAll",
    "any",
    "every",
    "count",
    "sort",
    "max",
    "min",
    "groupBy",
    "inject",
    "withDefault",
    "subMap",
    "plus",
    "minus",
    "clear",
    "findResult",
    "asImmutable",
    "keys",
    "sum",
    "countBy",
    "toSorted",
    "asBoolean",
    "toMapString",
    "putIfAbsent",
    "computeIfAbsent",
    "leftShift",
    "drop",
    "take",
];

fn entry(k: &crate::value::Key, v: &Value) -> Value {
    Value::Entry(Rc::new((k.to_value(), v.clone())))
}

pub(crate) fn call(
    it: &mut Interp,
    recv: &Value,
    m: &Rc<RefCell<MapData>>,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    // methods that build a collection of the map's size charge it before building
    if matches!(
        name,
        "keySet"
            | "keys"
            | "values"
            | "entrySet"
            | "subMap"
            | "asImmutable"
            | "sort"
            | "toSorted"
            | "each"
            | "eachWithIndex"
            | "collect"
            | "collectEntries"
            | "collectMany"
            | "find"
            | "findAll"
            | "any"
            | "every"
            | "count"
            | "max"
            | "min"
            | "groupBy"
            | "inject"
            | "findResult"
            | "sum"
            | "countBy"
            | "drop"
            | "take"
    ) {
        let n = m.borrow().len();
        if n > 1024 || !matches!(name, "each" | "find" | "any" | "every" | "count") {
            it.charge(n.saturating_mul(ENTRY_BYTES + 32), span)?;
        }
        it.work(n, span)?;
    }
    let v = match (name, a.len()) {
        ("size", 0) => Value::Int(m.borrow().len() as i32),
        ("isEmpty", 0) => Value::Bool(m.borrow().is_empty()),
        ("get" | "getAt", 1) => m
            .borrow()
            .get(&a.get(0).to_key())
            .cloned()
            .unwrap_or(Value::Null),
        ("get", 2) => {
            let k = a.get(0).to_key();
            let existing = m.borrow().get(&k).cloned();
            match existing {
                Some(v) => v,
                None => {
                    it.charge(ENTRY_BYTES, span)?;
                    m.borrow_mut().insert(k, a.get(1).clone());
                    a.get(1).clone()
                }
            }
        }
        ("getOrDefault", 2) => m
            .borrow()
            .get(&a.get(0).to_key())
            .cloned()
            .unwrap_or_else(|| a.get(1).clone()),
        ("put" | "putAt", 2) => {
            it.charge(ENTRY_BYTES, span)?;
            // the key first: making it may read this very map
            let k = a.get(0).to_key();
            m.borrow_mut()
                .insert(k, a.get(1).clone())
                .unwrap_or(Value::Null)
        }
        ("putIfAbsent", 2) => {
            let k = a.get(0).to_key();
            let existing = m.borrow().get(&k).cloned();
            match existing {
                Some(v) if !matches!(v, Value::Null) => v,
                _ => {
                    it.charge(ENTRY_BYTES, span)?;
                    m.borrow_mut().insert(k, a.get(1).clone());
                    Value::Null
                }
            }
        }
        ("computeIfAbsent", 2) => {
            let k = a.get(0).to_key();
            let existing = m.borrow().get(&k).cloned();
            match existing {
                Some(v) if !matches!(v, Value::Null) => v,
                _ => {
                    let v = it.call_value(a.get(1), vec![a.get(0).clone()], span)?;
                    it.charge(ENTRY_BYTES, span)?;
                    m.borrow_mut().insert(k, v.clone());
                    v
                }
            }
        }
        ("putAll" | "leftShift", 1) => {
            if let Value::Map(o) = a.get(0) {
                it.charge(o.borrow().len().saturating_mul(ENTRY_BYTES), span)?;
            }
            let other = match a.get(0) {
                Value::Map(o) => o.borrow().clone(),
                Value::Entry(e) => {
                    let mut d = MapData::default();
                    d.insert(e.0.to_key(), e.1.clone());
                    d
                }
                _ => {
                    return it.fail(
                        "IllegalArgumentException",
                        format!("{name} needs a map"),
                        span,
                    );
                }
            };
            it.charge(other.len().saturating_mul(ENTRY_BYTES), span)?;
            m.borrow_mut().extend(other);
            if name == "leftShift" {
                recv.clone()
            } else {
                Value::Null
            }
        }
        ("remove", 1) => {
            let k = a.get(0).to_key();
            m.borrow_mut().shift_remove(&k).unwrap_or(Value::Null)
        }
        ("containsKey", 1) => Value::Bool(m.borrow().contains_key(&a.get(0).to_key())),
        ("containsValue", 1) => Value::Bool(m.borrow().values().any(|v| values_equal(v, a.get(0)))),
        ("keySet" | "keys", 0) => Value::list(m.borrow().keys().map(|k| k.to_value()).collect()),
        ("values", 0) => Value::list(m.borrow().values().cloned().collect()),
        ("entrySet", 0) => Value::list(m.borrow().iter().map(|(k, v)| entry(k, v)).collect()),
        ("clear", 0) => {
            m.borrow_mut().clear();
            Value::Null
        }
        ("subMap", 1) => {
            let keys = it.items(a.get(0), span)?.unwrap_or_default();
            let src = m.borrow();
            let mut out = MapData::default();
            for k in keys {
                let k = k.to_key();
                if let Some(v) = src.get(&k) {
                    out.insert(k, v.clone());
                }
            }
            Value::map(out)
        }
        ("plus" | "minus", 1) => {
            let op = if name == "plus" {
                crate::ast::BinOp::Add
            } else {
                crate::ast::BinOp::Sub
            };
            crate::eval::binary_op(it, op, recv.clone(), a.get(0).clone(), span)?
        }
        ("asImmutable" | "toSorted", 0) if name == "asImmutable" => Value::map(m.borrow().clone()),
        ("withDefault", 1) => {
            it.set_map_default(m, a.get(0).clone());
            recv.clone()
        }
        ("sort" | "toSorted", 0 | 1) => {
            let entries: Vec<Value> = m.borrow().iter().map(|(k, v)| entry(k, v)).collect();
            let sorted = match a.closure() {
                Some(f) => {
                    let f = f.clone();
                    sort_values(it, entries, span, &mut |it, x, y| {
                        closure_cmp(it, &f, x, y, span)
                    })?
                }
                None => sort_values(it, entries, span, &mut |_, x, y| {
                    Ok(match (x, y) {
                        (Value::Entry(p), Value::Entry(q)) => natural_cmp(&p.0, &q.0),
                        _ => Ordering::Equal,
                    })
                })?,
            };
            let mut out = MapData::default();
            for e in sorted {
                if let Value::Entry(e) = e {
                    out.insert(e.0.to_key(), e.1.clone());
                }
            }
            Value::map(out)
        }
        ("eachWithIndex", 1) if matches!(a.get(0), Value::Closure(f) if super::closure_arity(f) == 3) =>
        {
            let entries: Vec<(Value, Value)> = m
                .borrow()
                .iter()
                .map(|(k, v)| (k.to_value(), v.clone()))
                .collect();
            for (i, (k, v)) in entries.into_iter().enumerate() {
                it.call_value(a.get(0), vec![k, v, Value::Int(i as i32)], span)?;
            }
            recv.clone()
        }
        ("removeAll" | "retainAll", 1) if matches!(a.get(0), Value::Closure(_)) => {
            let entries: Vec<(crate::value::Key, Value)> = m
                .borrow()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let mut changed = false;
            for (k, v) in entries {
                let hit = it.call_value(a.get(0), vec![entry(&k, &v)], span)?.truthy();
                if hit == (name == "removeAll") {
                    m.borrow_mut().shift_remove(&k);
                    changed = true;
                }
            }
            Value::Bool(changed)
        }
        (
            "each" | "eachWithIndex" | "collect" | "collectEntries" | "collectMany" | "find"
            | "findAll" | "any" | "every" | "count" | "max" | "min" | "groupBy" | "inject"
            | "findResult" | "sum" | "countBy" | "drop" | "take" | "takeWhile" | "dropWhile",
            _,
        ) => {
            let entries: Vec<Value> = m.borrow().iter().map(|(k, v)| entry(k, v)).collect();
            let as_list = Value::list(entries);
            let r = super::collection::call(it, &as_list, name, a, span)?;
            match (name, r) {
                ("each" | "eachWithIndex", Some(_)) => recv.clone(),
                ("findAll" | "drop" | "take" | "takeWhile" | "dropWhile", Some(v)) => {
                    entries_to_map(&v)
                }
                ("groupBy", Some(Value::Map(g))) => {
                    let mut out = MapData::default();
                    for (k, v) in g.borrow().iter() {
                        out.insert(k.clone(), entries_to_map(v));
                    }
                    Value::map(out)
                }
                (_, Some(v)) => v,
                (_, None) => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

fn entries_to_map(v: &Value) -> Value {
    let mut out = MapData::default();
    for e in v.iter_items().unwrap_or_default() {
        if let Value::Entry(e) = e {
            out.insert(e.0.to_key(), e.1.clone());
        }
    }
    Value::map(out)
}
