//! Expression evaluation.

use std::rc::Rc;

use super::{Interp, R, ops};
use crate::ast::*;
use crate::value::{Func, MapData, RangeVal, Value, to_i128};

impl Interp<'_> {
    pub fn eval(&mut self, e: &Expr) -> R<Value> {
        let span = e.span;
        self.check_stack(span)?;
        match &e.kind {
            ExprKind::Null => Ok(Value::Null),
            ExprKind::Bool(b) => Ok(Value::Bool(*b)),
            ExprKind::Int(i) => Ok(Value::Int(*i)),
            ExprKind::Long(i) => Ok(Value::Long(*i)),
            ExprKind::BigInt(i) => Ok(Value::BigInt(*i)),
            ExprKind::Dec(d) => Ok(Value::Dec(*d)),
            ExprKind::Double(d) => Ok(Value::Double(*d)),
            ExprKind::Str(s) => Ok(Value::Str(s.clone())),
            ExprKind::GString(parts) => {
                // build in the reusable buffer so the only allocation is the string itself
                let mut out = std::mem::take(&mut self.scratch);
                out.clear();
                for p in parts {
                    match p {
                        GPart::Lit(s) => out.push_str(s),
                        GPart::Expr(e) => match self.eval(e) {
                            Ok(v) => match self.custom_to_string(&v, span) {
                                Ok(Some(text)) => out.push_str(&text),
                                Ok(None) => {
                                    // a string's size is known: charge it before copying; a
                                    // collection's text is counted while it prints
                                    let known = match &v {
                                        Value::Str(s) => s.len(),
                                        _ => 0,
                                    };
                                    if let Err(f) = self.charge(known, span) {
                                        self.scratch = out;
                                        return Err(f);
                                    }
                                    ops::append_display(&mut out, &v)
                                }
                                Err(f) => {
                                    self.scratch = out;
                                    return Err(f);
                                }
                            },
                            Err(f) => {
                                self.scratch = out;
                                return Err(f);
                            }
                        },
                    }
                }
                // the literal parts, and what collections printed, before the copy is made
                let lits: usize = parts
                    .iter()
                    .map(|p| if let GPart::Lit(s) = p { s.len() } else { 0 })
                    .sum();
                let charged = self.charge(lits, span);
                let v = charged.map(|_| Value::str(out.as_str()));
                if out.len() > 1 << 16 {
                    out = String::new();
                }
                self.scratch = out;
                v
            }
            ExprKind::Var(name) => self.lookup(name, span),
            ExprKind::This => Ok(self.ctx.this.clone().unwrap_or(Value::Null)),
            ExprKind::Class(name) => Ok(Value::Class(name.clone())),
            ExprKind::List(items) => {
                self.charge(crate::limits::list_bytes(items.len()) + 32, span)?;
                let mut v = Vec::with_capacity(items.len());
                for i in items {
                    v.push(self.eval(i)?);
                }
                Ok(Value::list(v))
            }
            ExprKind::Map(entries) => {
                self.charge(entries.len() * crate::limits::ENTRY_BYTES + 48, span)?;
                let mut m = MapData::with_capacity_and_hasher(entries.len(), Default::default());
                for (k, v) in entries {
                    let key = self.eval(k)?.to_key();
                    let val = self.eval(v)?;
                    m.insert(key, val);
                }
                Ok(Value::map(m))
            }
            ExprKind::Range {
                from,
                to,
                exclusive,
            } => {
                let a = self.eval(from)?;
                let b = self.eval(to)?;
                ops::make_range(self, a, b, *exclusive, span)
            }
            ExprKind::Unary(op, x) => {
                let v = self.eval(x)?;
                ops::unary(self, *op, v, span)
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.eval(a)?;
                let y = self.eval(b)?;
                ops::binary(self, *op, x, y, span)
            }
            ExprKind::And(a, b) => Ok(Value::Bool(
                self.eval(a)?.truthy() && self.eval(b)?.truthy(),
            )),
            ExprKind::Or(a, b) => Ok(Value::Bool(
                self.eval(a)?.truthy() || self.eval(b)?.truthy(),
            )),
            ExprKind::Elvis(a, b) => {
                let v = self.eval(a)?;
                if v.truthy() { Ok(v) } else { self.eval(b) }
            }
            ExprKind::Ternary(c, a, b) => {
                if self.eval(c)?.truthy() {
                    self.eval(a)
                } else {
                    self.eval(b)
                }
            }
            ExprKind::IncDec {
                target,
                delta,
                prefix,
            } => {
                let old = self.eval(target)?;
                let new = ops::binary(self, BinOp::Add, old.clone(), Value::Int(*delta), span)?;
                self.assign_to(target, new.clone())?;
                Ok(if *prefix { new } else { old })
            }
            ExprKind::Assign { target, op, value } => {
                let v = match op {
                    None => self.eval(value)?,
                    Some(op) => {
                        let old = self.eval(target)?;
                        let r = self.eval(value)?;
                        if *op == BinOp::Shl
                            && let Value::List(l) = &old
                        {
                            l.borrow_mut().push(r);
                            return Ok(old);
                        }
                        ops::binary(self, *op, old, r, span)?
                    }
                };
                self.assign_to(target, v.clone())?;
                Ok(v)
            }
            ExprKind::ElvisAssign { target, value } => {
                let old = self.eval(target)?;
                if old.truthy() {
                    return Ok(old);
                }
                let v = self.eval(value)?;
                self.assign_to(target, v.clone())?;
                Ok(v)
            }
            ExprKind::MultiAssign { names, value } => {
                let v = self.eval(value)?;
                let items = v.iter_items().unwrap_or_default();
                for (i, n) in names.iter().enumerate() {
                    self.assign_var(n, items.get(i).cloned().unwrap_or(Value::Null));
                }
                Ok(v)
            }
            ExprKind::Prop { obj, name, safe } => {
                let o = self.eval(obj)?;
                if *safe && matches!(o, Value::Null) {
                    return Ok(Value::Null);
                }
                self.get_prop(&o, name, span, obj)
            }
            ExprKind::DynProp { obj, name, safe } => {
                let o = self.eval(obj)?;
                if *safe && matches!(o, Value::Null) {
                    return Ok(Value::Null);
                }
                let n: Name = Rc::from(self.eval(name)?.to_string().as_str());
                self.get_prop(&o, &n, span, obj)
            }
            ExprKind::Spread { obj, name } => {
                let o = self.eval(obj)?;
                let items = match &o {
                    Value::Null => return Ok(Value::Null),
                    other => self
                        .items(other, span)?
                        .unwrap_or_else(|| vec![other.clone()]),
                };
                self.charge(crate::limits::list_bytes(items.len()), span)?;
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    out.push(if let Value::Null = it {
                        Value::Null
                    } else {
                        self.get_prop(&it, name, span, obj)?
                    });
                }
                Ok(Value::list(out))
            }
            ExprKind::Index { obj, index, safe } => {
                let o = self.eval(obj)?;
                if *safe && matches!(o, Value::Null) {
                    return Ok(Value::Null);
                }
                let i = self.eval(index)?;
                self.get_index(&o, &i, span)
            }
            ExprKind::Method {
                obj,
                name,
                args,
                safe,
                spread,
            } => {
                let recv = self.eval(obj)?;
                if *safe && matches!(recv, Value::Null) {
                    return Ok(Value::Null);
                }
                let argv = self.eval_args(args)?;
                if *spread {
                    let items = self.items(&recv, span)?.unwrap_or_default();
                    self.charge(crate::limits::list_bytes(items.len()), span)?;
                    let mut out = Vec::new();
                    for it in items {
                        out.push(if let Value::Null = it {
                            Value::Null
                        } else {
                            self.call_method(it, name, argv.clone(), span)?
                        });
                    }
                    return Ok(Value::list(out));
                }
                if matches!(recv, Value::Null) && crate::stdlib::NULL_ITERATION.contains(&&**name) {
                    // Groovy iterates null as an empty collection
                    let r = self.call_method(Value::list(Vec::new()), name, argv, span)?;
                    return Ok(if &**name == "each" || &**name == "eachWithIndex" {
                        Value::Null
                    } else {
                        r
                    });
                }
                if matches!(recv, Value::Null) && !crate::stdlib::OBJECT_METHODS.contains(&&**name)
                {
                    let hint = self.null_hint(obj);
                    return self.fail(
                        "NullPointerException",
                        format!("cannot call {name}() on null{hint}"),
                        span,
                    );
                }
                if let ExprKind::This = obj.kind
                    && self.ctx.this.is_none()
                {
                    return self.call_function(name, argv, span);
                }
                self.call_method(recv, name, argv, span)
            }
            ExprKind::Call { name, args } => {
                let argv = self.eval_args(args)?;
                self.call_function(name, argv, span)
            }
            ExprKind::CallValue { callee, args } => {
                let f = self.eval(callee)?;
                let argv = self.eval_args(args)?;
                self.call_value(&f, argv, span)
            }
            ExprKind::Closure(def) => Ok(self.make_closure(def)),
            ExprKind::New { class, args } => {
                let argv = self.eval_args(args)?;
                self.new_object(class, argv, span)
            }
            ExprKind::NewArray { elems } => {
                let mut v = Vec::with_capacity(elems.len());
                for i in elems {
                    v.push(self.eval(i)?);
                }
                Ok(Value::list(v))
            }
            ExprKind::Cast { expr, ty } => {
                let v = self.eval(expr)?;
                ops::cast(self, v, ty, span)
            }
            ExprKind::InstanceOf { expr, ty, negated } => {
                let v = self.eval(expr)?;
                Ok(Value::Bool(
                    ops::instance_of(self, &v, &ty.name) != *negated,
                ))
            }
            ExprKind::Switch(sw) => self.eval_switch(sw),
            ExprKind::MethodRef { target, name } => {
                let recv = if let ExprKind::This = target.kind {
                    None
                } else {
                    Some(self.eval(target)?)
                };
                Ok(Value::Closure(Rc::new(Func::MethodRef {
                    recv,
                    name: name.clone(),
                })))
            }
        }
    }

    fn eval_args(&mut self, args: &[Expr]) -> R<Vec<Value>> {
        let mut v = Vec::with_capacity(args.len());
        for a in args {
            v.push(self.eval(a)?);
        }
        Ok(v)
    }

    pub(crate) fn assign_to(&mut self, target: &Expr, v: Value) -> R<()> {
        let span = target.span;
        match &target.kind {
            ExprKind::Var(name) => {
                self.assign_var(name, v);
                Ok(())
            }
            ExprKind::Prop { obj, name, safe } => {
                let o = self.eval(obj)?;
                if *safe && matches!(o, Value::Null) {
                    return Ok(());
                }
                self.set_prop(&o, name, v, span)
            }
            ExprKind::DynProp { obj, name, safe } => {
                let o = self.eval(obj)?;
                if *safe && matches!(o, Value::Null) {
                    return Ok(());
                }
                let n: Name = Rc::from(self.eval(name)?.to_string().as_str());
                self.set_prop(&o, &n, v, span)
            }
            ExprKind::Index { obj, index, .. } => {
                let o = self.eval(obj)?;
                let i = self.eval(index)?;
                self.set_index(&o, &i, v, span)
            }
            _ => self.fail("GroovyRuntimeException", "this cannot be assigned to", span),
        }
    }

    pub(crate) fn is_case(
        &mut self,
        case: &Value,
        subject: &Value,
        span: crate::diagnostic::Span,
    ) -> R<bool> {
        Ok(match case {
            Value::Class(c) => ops::instance_of(self, subject, c),
            Value::Range(r) => match subject {
                // an IntRange holds Integers only: `3L in 1..5` is false in Groovy
                v if v.is_number() && !r.chars && !matches!(v, Value::Int(_)) => false,
                v if v.is_number() => to_i128(v).is_some_and(|x| {
                    i64::try_from(x).is_ok_and(|x| r.contains(x))
                        && crate::value::compare_numbers(v, &Value::from_i128(x))
                            == Some(std::cmp::Ordering::Equal)
                }),
                Value::Str(s) if r.chars => {
                    s.chars().count() == 1 && s.chars().next().is_some_and(|c| r.contains(c as i64))
                }
                _ => false,
            },
            Value::List(l) => {
                let l = l.borrow();
                l.iter().any(|x| crate::value::java_equals(x, subject))
            }
            Value::Regex(re) => match subject {
                Value::Null => false,
                s => ops::full_match(self, re, &s.to_string(), span)?,
            },
            Value::Closure(_) => self.call_value(case, vec![subject.clone()], span)?.truthy(),
            Value::Map(m) => m.borrow().contains_key(&subject.to_key()),
            other => crate::value::values_equal(other, subject),
        })
    }
}

pub(crate) fn range_of(from: i64, to: i64, chars: bool) -> Value {
    Value::Range(Rc::new(RangeVal { from, to, chars }))
}
