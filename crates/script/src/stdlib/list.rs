//! Methods that change a list in place: `add`, `remove`, `removeAll`, `sort`, `unique`, ….

use std::cell::RefCell;
use std::rc::Rc;

use super::collection::{sort_with, unique_by};
use super::{Args, int_arg};
use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::limits::{VALUE_BYTES, list_bytes};
use crate::value::{Value, values_equal};

pub(crate) fn call_mutating(
    it: &mut Interp,
    l: &Rc<RefCell<Vec<Value>>>,
    recv: &Value,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    let r = match (name, a.len()) {
        // `addAll(i, items)`: inserted at `i`
        ("addAll", 2) if a.get(0).is_number() && !it.is_set(recv) => {
            let at = super::int_arg(it, a.get(0), span)?;
            let len = l.borrow().len();
            let Some(at) = usize::try_from(at).ok().filter(|i| *i <= len) else {
                return it.fail(
                    "IndexOutOfBoundsException",
                    format!("Index: {at}, Size: {len}"),
                    span,
                );
            };
            let more = it.items(a.get(1), span)?.unwrap_or_default();
            it.charge(crate::limits::list_bytes(more.len()), span)?;
            let changed = !more.is_empty();
            l.borrow_mut().splice(at..at, more);
            Some(Value::Bool(changed))
        }
        // A set holds each element once: adding one it has changes nothing.
        ("add" | "leftShift" | "push" | "addAll", 1) if it.is_set(recv) => {
            let more = match a.get(0) {
                v if name == "addAll" => it.items(v, span)?.unwrap_or_default(),
                v => vec![v.clone()],
            };
            it.work(l.borrow().len().saturating_mul(more.len()), span)?;
            it.charge(list_bytes(more.len()), span)?;
            let mut changed = false;
            for v in more {
                if !l.borrow().iter().any(|w| values_equal(w, &v)) {
                    l.borrow_mut().push(v);
                    changed = true;
                }
            }
            Some(if matches!(name, "add" | "addAll") {
                Value::Bool(changed)
            } else {
                recv.clone()
            })
        }
        ("add" | "leftShift" | "push", 1) => {
            it.charge(VALUE_BYTES, span)?;
            l.borrow_mut().push(a.get(0).clone());
            Some(if name == "add" {
                Value::Bool(true)
            } else {
                recv.clone()
            })
        }
        ("add", 2) => {
            let i = int_arg(it, a.get(0), span)?;
            let len = l.borrow().len();
            if i < 0 || i as usize > len {
                return it.fail(
                    "IndexOutOfBoundsException",
                    format!("Index: {i}, Size: {len}"),
                    span,
                );
            }
            it.charge(VALUE_BYTES, span)?;
            it.work(len, span)?;
            l.borrow_mut().insert(i as usize, a.get(1).clone());
            Some(Value::Null)
        }
        ("addAll", 1) => {
            let more = match a.get(0) {
                Value::List(m) => m.borrow().len(),
                Value::Range(r) => r.len(),
                Value::Map(m) => m.borrow().len(),
                Value::Str(s) => s.chars().count(),
                _ => 0,
            };
            // the new slots first, then the items (a range's numbers, a string's characters)
            it.charge(list_bytes(more), span)?;
            let items = it.items(a.get(0), span)?.unwrap_or_default();
            l.borrow_mut().extend(items);
            Some(Value::Bool(true))
        }
        ("remove" | "removeAt", 1)
            if a.get(0).is_number() && matches!(a.get(0), Value::Int(_) | Value::Long(_)) =>
        {
            let i = int_arg(it, a.get(0), span)?;
            let len = l.borrow().len();
            let idx = if i < 0 { i + len as i64 } else { i };
            if idx < 0 || idx as usize >= len {
                return it.fail(
                    "IndexOutOfBoundsException",
                    format!("Index {i} out of bounds for length {len}"),
                    span,
                );
            }
            Some(l.borrow_mut().remove(idx as usize))
        }
        ("remove", 1) => {
            let pos = l.borrow().iter().position(|x| values_equal(x, a.get(0)));
            Some(Value::Bool(pos.map(|p| l.borrow_mut().remove(p)).is_some()))
        }
        ("pop", 0) => match l.borrow_mut().pop() {
            Some(v) => Some(v),
            None => {
                return it.fail("NoSuchElementException", "Cannot pop() an empty List", span);
            }
        },
        ("removeAll" | "removeIf" | "retainAll", 1) => {
            let items = l.borrow().clone();
            let mut keep = Vec::with_capacity(items.len());
            let mut changed = false;
            let others = match a.get(0) {
                Value::Closure(_) => Vec::new(),
                other => it.items(other, span)?.unwrap_or_default(),
            };
            for x in items {
                let hit = match a.get(0) {
                    f @ Value::Closure(_) => it.call1(f, x.clone(), span)?.truthy(),
                    _ => {
                        it.work(others.len(), span)?;
                        others.iter().any(|y| values_equal(y, &x))
                    }
                };
                if hit == (name == "retainAll") {
                    keep.push(x);
                } else {
                    changed = true;
                }
            }
            *l.borrow_mut() = keep;
            Some(Value::Bool(changed))
        }
        ("clear", 0) => {
            l.borrow_mut().clear();
            Some(Value::Null)
        }
        ("set" | "putAt", 2) => {
            let old = it.get_index(recv, a.get(0), span)?;
            it.set_index(recv, a.get(0), a.get(1).clone(), span)?;
            Some(old)
        }
        ("sort", _) if !matches!(a.get(0), Value::Bool(false)) => {
            let items = l.borrow().clone();
            let sorted = sort_with(it, items, a.closure(), span)?;
            *l.borrow_mut() = sorted;
            Some(recv.clone())
        }
        ("unique", _) if !matches!(a.get(0), Value::Bool(false)) => {
            let items = l.borrow().clone();
            let u = unique_by(it, items, a.closure(), span)?;
            *l.borrow_mut() = u;
            Some(recv.clone())
        }
        _ => None,
    };
    Ok(r)
}
