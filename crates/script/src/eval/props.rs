//! Property access, subscripts, method dispatch and object creation.

use std::cell::RefCell;
use std::rc::Rc;

use indexmap::IndexMap;

use super::{Ctx, Flow, Interp, R, ops};
use crate::ast::{Expr, ExprKind, Name};
use crate::diagnostic::{ScriptError, Span, did_you_mean};
use crate::host::Invoker;
use crate::value::{Obj, StrKey, Value, group_value, to_i128};

/// Lets host objects call closures back.
struct HostInvoker<'a, 'p> {
    it: &'a mut Interp<'p>,
    span: Span,
}

impl Invoker for HostInvoker<'_, '_> {
    fn call(&mut self, callee: &Value, args: Vec<Value>) -> Result<Value, ScriptError> {
        match self.it.call_value(callee, args, self.span) {
            Ok(v) | Err(Flow::Return(v)) => Ok(v),
            Err(Flow::Err(t)) => Err(t.error),
            Err(_) => Ok(Value::Null),
        }
    }
}

fn describe_path(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Var(n) => Some(n.to_string()),
        ExprKind::Prop { obj, name, .. } => Some(format!("{}.{name}", describe_path(obj)?)),
        ExprKind::DynProp { obj, .. } => Some(format!("{}.\"…\"", describe_path(obj)?)),
        ExprKind::Index { obj, .. } => Some(format!("{}[…]", describe_path(obj)?)),
        _ => None,
    }
}

impl Interp<'_> {
    /// Explains why `obj_expr` is null, with a did-you-mean for a mistyped map key.
    pub(crate) fn null_hint(&mut self, obj_expr: &Expr) -> String {
        let Some(path) = describe_path(obj_expr) else {
            return String::new();
        };
        if let ExprKind::Prop { obj, name, .. } = &obj_expr.kind
            && let Ok(Value::Map(m)) = self.eval_quiet(obj)
        {
            let m = m.borrow();
            if !m.contains_key(&StrKey(name)) {
                let keys: Vec<String> = m
                    .keys()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect();
                let hint = did_you_mean(name, keys.iter().map(|s| s.as_str()))
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                return format!(": '{path}' is null because the map has no key '{name}'{hint}");
            }
        }
        format!(": '{path}' is null")
    }

    fn eval_quiet(&mut self, e: &Expr) -> R<Value> {
        match &e.kind {
            ExprKind::Var(_) | ExprKind::Prop { .. } | ExprKind::This => self.eval(e),
            _ => Ok(Value::Null),
        }
    }

    pub(crate) fn get_prop(
        &mut self,
        o: &Value,
        name: &Name,
        span: Span,
        obj_expr: &Expr,
    ) -> R<Value> {
        match o {
            Value::Map(m) => {
                if let Some(v) = m.borrow().get(&StrKey(name)) {
                    return Ok(v.clone());
                }
                if let Some(v) = self.map_default(m, &Value::Str(name.clone()), span)? {
                    return Ok(v);
                }
                // A host's object kept as a map (`issue`, `replica`) has a class, as Exalate's
                // objects do (`replica.class.simpleName` in a log line); a plain map's `class`
                // is its key, as in Groovy.
                if &**name == "class" && self.is_host_map(m) {
                    return Ok(Value::Class(Rc::from(self.map_label(m).as_str())));
                }
                self.strict_miss(m, name, span)?;
                Ok(match &**name {
                    "empty" => Value::Bool(m.borrow().is_empty()),
                    _ => Value::Null,
                })
            }
            Value::Null => {
                let hint = self.null_hint(obj_expr);
                self.fail(
                    "NullPointerException",
                    format!("cannot get property '{name}' on null{hint}"),
                    span,
                )
            }
            Value::List(_) | Value::Range(_) => {
                if &**name == "length" {
                    return Ok(Value::Int(o.iter_items().map_or(0, |v| v.len() as i32)));
                }
                if let Some(v) = self.getter(o, name, span)? {
                    return Ok(v);
                }
                let items = self.items(o, span)?.unwrap_or_default();
                self.charge(crate::limits::list_bytes(items.len()), span)?;
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    out.push(if let Value::Null = it {
                        Value::Null
                    } else {
                        self.get_prop(&it, name, span, obj_expr)?
                    });
                }
                Ok(Value::list(out))
            }
            Value::Object(obj) => {
                if let Some(v) = obj.fields.borrow().get(name) {
                    return Ok(v.clone());
                }
                // `binding.x` is the variable `x`
                if super::is_binding(o) && &**name != "variables" {
                    let args = vec![Value::str(&**name)];
                    return self.call_method(o.clone(), "getVariable", args, span);
                }
                if let Some(def) = &obj.def {
                    let s = self.class_statics(def)?;
                    if let Some(v) = s.borrow().get(name) {
                        return Ok(v.clone());
                    }
                }
                if let Some(v) = self.getter(o, name, span)? {
                    return Ok(v);
                }
                let names: Vec<String> =
                    obj.fields.borrow().keys().map(|k| k.to_string()).collect();
                self.no_property(o, name, names, span)
            }
            Value::Host(h) => match h.get_property(name) {
                Ok(Some(v)) => Ok(v),
                Ok(None) if &**name == "class" => Ok(Value::Class(Rc::from(h.type_name()))),
                Ok(None) => self.no_property(o, name, h.property_names(), span),
                Err(e) => self.fail("HostException", e, span),
            },
            Value::Class(c) => {
                if let Some(def) = self.class_def(c) {
                    let s = self.class_statics(&def)?;
                    if let Some(v) = s.borrow().get(name) {
                        return Ok(v.clone());
                    }
                }
                if let Some(v) = crate::stdlib::time::class_property(self, c, name) {
                    return Ok(v);
                }
                match crate::stdlib::static_property(c, name) {
                    Some(v) => Ok(v),
                    None => match self
                        .host_classes
                        .as_ref()
                        .and_then(|h| h.static_property(c, name))
                    {
                        Some(Ok(v)) => Ok(v),
                        Some(Err(e)) => self.fail("HostException", e, span),
                        None => self.no_property(o, name, Vec::new(), span),
                    },
                }
            }
            _ => match self.getter(o, name, span)? {
                Some(v) => Ok(v),
                None => self.no_property(o, name, Vec::new(), span),
            },
        }
    }

    /// `x.foo` as `x.getFoo()` / `x.isFoo()` / `x.foo()` for the library types.
    fn getter(&mut self, o: &Value, name: &str, span: Span) -> R<Option<Value>> {
        if let Value::Entry(e) = o {
            return Ok(match name {
                "key" => Some(e.0.clone()),
                "value" => Some(e.1.clone()),
                _ => None,
            });
        }
        let mut cap = String::with_capacity(name.len() + 3);
        let mut chars = name.chars();
        if let Some(f) = chars.next() {
            cap.extend(f.to_uppercase());
            cap.push_str(chars.as_str());
        }
        for candidate in [format!("get{cap}"), format!("is{cap}")] {
            if crate::stdlib::has_method(o, &candidate) {
                return self
                    .call_method(o.clone(), &candidate, Vec::new(), span)
                    .map(Some);
            }
        }
        if matches!(name, "class") {
            return Ok(Some(Value::Class(Rc::from(self.class_name(o).as_str()))));
        }
        if matches!(o, Value::Str(_) | Value::List(_) | Value::Map(_))
            && matches!(name, "size" | "length")
        {
            return Ok(None);
        }
        Ok(None)
    }

    fn no_property<T>(&self, o: &Value, name: &str, candidates: Vec<String>, span: Span) -> R<T> {
        let hint = did_you_mean(name, candidates.iter().map(|s| s.as_str()))
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        self.fail(
            "MissingPropertyException",
            format!("no property '{name}' on {}{hint}", o.describe()),
            span,
        )
    }

    pub(crate) fn set_prop(&mut self, o: &Value, name: &Name, v: Value, span: Span) -> R<()> {
        match o {
            Value::Map(m) => {
                self.charge(crate::limits::ENTRY_BYTES, span)?;
                m.borrow_mut()
                    .insert(crate::value::Key::Str(name.clone()), v);
                Ok(())
            }
            Value::Null => self.fail(
                "NullPointerException",
                format!("cannot set property '{name}' on null"),
                span,
            ),
            Value::Object(obj) => {
                if super::is_binding(o) {
                    self.charge(crate::limits::ENTRY_BYTES, span)?;
                    self.set_variable(name.clone(), v);
                    return Ok(());
                }
                if let Some(slot) = obj.fields.borrow_mut().get_mut(name) {
                    *slot = v;
                    return Ok(());
                }
                if let Some(def) = &obj.def {
                    let s = self.class_statics(def)?;
                    if let Some(slot) = s.borrow_mut().get_mut(name) {
                        *slot = v;
                        return Ok(());
                    }
                }
                let names: Vec<String> =
                    obj.fields.borrow().keys().map(|k| k.to_string()).collect();
                self.no_property(o, name, names, span)
            }
            Value::Host(h) => h
                .set_property(name, v)
                .map_err(|e| self.throw("HostException", e, span)),
            Value::Time(t) => {
                if crate::stdlib::time::set_property(self, t, name, v, span)? {
                    Ok(())
                } else {
                    self.fail(
                        "ReadOnlyPropertyException",
                        format!("cannot set property '{name}' on a {}", t.type_name()),
                        span,
                    )
                }
            }
            Value::Class(c) => {
                if let Some(def) = self.class_def(c) {
                    let s = self.class_statics(&def)?;
                    if let Some(slot) = s.borrow_mut().get_mut(name) {
                        *slot = v;
                        return Ok(());
                    }
                }
                self.no_property(o, name, Vec::new(), span)
            }
            Value::List(l) => {
                let items = l.borrow().clone();
                for it in items {
                    self.set_prop(&it, name, v.clone(), span)?;
                }
                Ok(())
            }
            other => self.fail(
                "ReadOnlyPropertyException",
                format!("cannot set property '{name}' on {}", other.describe()),
                span,
            ),
        }
    }

    fn index_of(&self, i: &Value, len: usize, span: Span) -> R<Option<usize>> {
        let Some(n) = (if i.is_number() { to_i128(i) } else { None }) else {
            return self.fail(
                "IllegalArgumentException",
                format!("a list index must be a number, not {}", i.describe()),
                span,
            );
        };
        let idx = if n < 0 { n + len as i128 } else { n };
        Ok(if idx < 0 { None } else { Some(idx as usize) })
    }

    pub(crate) fn get_index(&mut self, o: &Value, i: &Value, span: Span) -> R<Value> {
        match (o, i) {
            (Value::Map(m), _) => {
                let found = m.borrow().get(&i.to_key()).cloned();
                match found {
                    Some(v) => Ok(v),
                    None => Ok(self.map_default(m, i, span)?.unwrap_or(Value::Null)),
                }
            }
            (Value::Null, _) => self.fail(
                "NullPointerException",
                "cannot take an element of null",
                span,
            ),
            (_, Value::Range(_)) | (_, Value::List(_))
                if !matches!(o, Value::Object(_) | Value::Host(_)) =>
            {
                let items = self.indexable(o, span)?;
                let is_str = matches!(o, Value::Str(_));
                let mut out = Vec::new();
                // a range subscript counts negative ends from the back: l[1..-1], s[0..-2]
                let indices = match i {
                    Value::Range(r) if !r.chars => {
                        let len = items.len() as i64;
                        let norm = |n: i64| if n < 0 { n + len } else { n };
                        let (from, to) = (norm(r.from), norm(r.to));
                        if from < 0 || to < 0 || from >= len.max(1) || to >= len.max(1) {
                            return self.fail(
                                "IndexOutOfBoundsException",
                                format!(
                                    "range {}..{} is out of range for length {len}",
                                    r.from, r.to
                                ),
                                span,
                            );
                        }
                        if items.is_empty() {
                            Vec::new()
                        } else if from <= to {
                            (from..=to).map(Value::from_i64).collect()
                        } else {
                            (to..=from).rev().map(Value::from_i64).collect()
                        }
                    }
                    other => other.iter_items().unwrap_or_default(),
                };
                for idx in indices {
                    let Some(k) = self.index_of(&idx, items.len(), span)? else {
                        return self.fail(
                            "IndexOutOfBoundsException",
                            format!("index {idx} is out of range"),
                            span,
                        );
                    };
                    match items.get(k) {
                        Some(v) => out.push(v.clone()),
                        None if is_str || matches!(i, Value::Range(_)) => {
                            return self.fail(
                                "IndexOutOfBoundsException",
                                format!("index {idx} is out of range for length {}", items.len()),
                                span,
                            );
                        }
                        None => out.push(Value::Null),
                    }
                }
                if is_str {
                    return Ok(Value::str(
                        out.iter().map(|v| v.to_string()).collect::<String>(),
                    ));
                }
                Ok(Value::list(out))
            }
            (Value::List(l), _) => {
                let l = l.borrow();
                let idx = self.index_of(i, l.len(), span)?;
                Ok(idx.and_then(|k| l.get(k).cloned()).unwrap_or(Value::Null))
            }
            (Value::Str(s), _) => {
                let chars: Vec<char> = s.chars().collect();
                match self
                    .index_of(i, chars.len(), span)?
                    .and_then(|k| chars.get(k))
                {
                    Some(c) => Ok(Value::str(c.to_string())),
                    None => self.fail(
                        "StringIndexOutOfBoundsException",
                        format!(
                            "index {i} is out of range for a string of length {}",
                            chars.len()
                        ),
                        span,
                    ),
                }
            }
            (Value::Range(r), _) => match self.index_of(i, r.len(), span)? {
                Some(k) if k < r.len() => Ok(r.get(k)),
                _ => self.fail(
                    "IndexOutOfBoundsException",
                    format!("index {i} is out of range"),
                    span,
                ),
            },
            (Value::Matcher(m), _) => match self
                .index_of(i, m.groups.len(), span)?
                .and_then(|k| m.groups.get(k))
            {
                Some(g) => Ok(group_value(g)),
                None => self.fail(
                    "IndexOutOfBoundsException",
                    format!("there is no match number {i}"),
                    span,
                ),
            },
            (Value::Object(_) | Value::Host(_), _) => {
                let n: Name = Rc::from(i.to_string().as_str());
                let e = Expr {
                    kind: ExprKind::Null,
                    span,
                };
                self.get_prop(o, &n, span, &e)
            }
            (other, _) => self.fail(
                "MissingMethodException",
                format!("cannot take an element of {}", other.describe()),
                span,
            ),
        }
    }

    fn indexable(&self, o: &Value, span: Span) -> R<Vec<Value>> {
        match o.iter_items() {
            Some(v) if !matches!(o, Value::Map(_)) => Ok(v),
            _ => self.fail(
                "MissingMethodException",
                format!("cannot take elements of {}", o.describe()),
                span,
            ),
        }
    }

    pub(crate) fn set_index(&mut self, o: &Value, i: &Value, v: Value, span: Span) -> R<()> {
        match o {
            Value::Map(m) => {
                self.charge(crate::limits::ENTRY_BYTES, span)?;
                let k = i.to_key();
                m.borrow_mut().insert(k, v);
                Ok(())
            }
            Value::List(l) => {
                let len = l.borrow().len();
                let Some(k) = self.index_of(i, len, span)? else {
                    return self.fail(
                        "IndexOutOfBoundsException",
                        format!("index {i} is before the start of the list"),
                        span,
                    );
                };
                self.charge(
                    crate::limits::list_bytes(k.saturating_sub(len).saturating_add(1)),
                    span,
                )?;
                let mut l = l.borrow_mut();
                if k >= l.len() {
                    l.resize(k + 1, Value::Null);
                }
                l[k] = v;
                Ok(())
            }
            Value::Object(_) | Value::Host(_) => {
                let n: Name = Rc::from(i.to_string().as_str());
                self.set_prop(o, &n, v, span)
            }
            Value::Null => self.fail(
                "NullPointerException",
                "cannot set an element of null",
                span,
            ),
            other => self.fail(
                "MissingMethodException",
                format!("cannot set elements of {}", other.describe()),
                span,
            ),
        }
    }

    /// `recv.name(args)`.
    pub fn call_method(
        &mut self,
        recv: Value,
        name: &str,
        args: Vec<Value>,
        span: Span,
    ) -> R<Value> {
        match &recv {
            Value::Object(o) if o.def.is_some() => {
                let def = o.def.clone().expect("checked above");
                let ms: Vec<_> = def
                    .methods
                    .iter()
                    .filter(|m| &*m.name == name)
                    .cloned()
                    .collect();
                if let Some(m) = self.pick_overload(&ms, &args) {
                    let ctx = Ctx {
                        this: if m.is_static {
                            None
                        } else {
                            Some(recv.clone())
                        },
                        class: Some(def.clone()),
                    };
                    return self.invoke_method(&m, args, ctx, span);
                }
                let field = o.fields.borrow().get(name).cloned();
                if let Some(f @ Value::Closure(_)) = field {
                    return self.call_value(&f, args, span);
                }
            }
            Value::Class(c) => {
                if self.class_def(c).is_none()
                    && let Some(classes) = self.host_classes.clone()
                    && let Some(r) = classes.static_call(c, name, &args)
                {
                    return r.or_else(|e| self.fail("HostException", e, span));
                }
                if let Some(def) = self.class_def(c) {
                    self.class_statics(&def)?;
                    let ms: Vec<_> = def
                        .methods
                        .iter()
                        .filter(|m| &*m.name == name && m.is_static)
                        .cloned()
                        .collect();
                    if let Some(m) = self.pick_overload(&ms, &args) {
                        return self.invoke_method(
                            &m,
                            args,
                            Ctx {
                                this: None,
                                class: Some(def.clone()),
                            },
                            span,
                        );
                    }
                }
            }
            Value::Host(h) => {
                let h = h.clone();
                let mut inv = HostInvoker { it: self, span };
                return match h.call_method(name, &args, &mut inv) {
                    Some(Ok(v)) => Ok(v),
                    Some(Err(e)) => self.fail("HostException", e, span),
                    None if h.as_text().is_some() => {
                        let text = Value::str(h.as_text().unwrap_or_default());
                        crate::stdlib::call_method(self, text, name, args, span)
                    }
                    None => {
                        let methods = h.method_names();
                        let hint = did_you_mean(name, methods.iter().map(|s| s.as_str()))
                            .map(|s| format!("; did you mean '{s}'?"))
                            .unwrap_or_default();
                        // What the object does have, so the admin need not guess.
                        let known = if methods.is_empty() {
                            String::new()
                        } else {
                            format!(" (its methods: {})", methods.join(", "))
                        };
                        self.fail(
                            "MissingMethodException",
                            format!("no method '{name}' on {}{hint}{known}", h.type_name()),
                            span,
                        )
                    }
                };
            }
            Value::Map(m) => {
                let f = m.borrow().get(&StrKey(name)).cloned();
                if let Some(f @ Value::Closure(_)) = f
                    && !crate::stdlib::has_method(&recv, name)
                {
                    return self.call_value(&f, args, span);
                }
                if let Some(h) = self.map_methods(m) {
                    let mut inv = HostInvoker { it: self, span };
                    match h.call_method(name, &args, &mut inv) {
                        Some(Ok(v)) => return Ok(v),
                        Some(Err(e)) => return self.fail("HostException", e, span),
                        None => {}
                    }
                }
            }
            Value::Closure(_) if name == "call" => return self.call_value(&recv, args, span),
            _ => {}
        }
        crate::stdlib::call_method(self, recv, name, args, span)
    }

    /// `new C(args)`.
    pub(crate) fn new_object(&mut self, class: &Name, args: Vec<Value>, span: Span) -> R<Value> {
        if let Some(def) = self.class_def(class) {
            return self.instantiate(&def, args, span);
        }
        if let Some(classes) = self.host_classes.clone()
            && let Some(made) = classes.construct(class, &args)
        {
            return made.or_else(|e| self.fail("HostException", e, span));
        }
        if ops::is_exception_name(class) {
            let message = args.first().cloned().unwrap_or(Value::Null);
            let message = match message {
                Value::Object(o) => Value::str(Value::Object(o).to_string()),
                Value::Null => Value::Null,
                other => Value::str(other.to_string()),
            };
            let e = ops::exception_object(class, message);
            if let (Value::Object(o), Some(cause)) = (&e, args.get(1)) {
                o.fields
                    .borrow_mut()
                    .insert(Rc::from("cause"), cause.clone());
            }
            return Ok(e);
        }
        if let Some(v) = crate::stdlib::time::construct(self, class, &args, span)? {
            return Ok(v);
        }
        let first = args.first().cloned();
        match &**class {
            "DecimalFormat" => {
                let mut fields = IndexMap::default();
                fields.insert(Rc::from("pattern"), Value::str(first.map(|v| v.to_string()).unwrap_or_else(|| "#,##0.###".into())));
                Ok(Value::Object(Rc::new(Obj { class: class.clone(), def: None, fields: RefCell::new(fields) })))
            }
            "JsonSlurper" => Ok(Value::Object(Rc::new(Obj {
                class: class.clone(),
                def: None,
                fields: RefCell::new(IndexMap::default()),
            }))),
            "JsonBuilder" => {
                let mut fields = IndexMap::default();
                fields.insert(Rc::from("content"), first.unwrap_or(Value::Null));
                Ok(Value::Object(Rc::new(Obj { class: class.clone(), def: None, fields: RefCell::new(fields) })))
            }
            "StringBuilder" | "StringBuffer" => {
                let mut fields = IndexMap::default();
                let init = match first {
                    Some(Value::Str(s)) => s.to_string(),
                    _ => String::new(),
                };
                fields.insert(Rc::from("value"), Value::str(init));
                Ok(Value::Object(Rc::new(Obj { class: Rc::from("StringBuilder"), def: None, fields: RefCell::new(fields) })))
            }
            "ArrayList" | "LinkedList" | "HashSet" | "LinkedHashSet" | "TreeSet" | "Vector" => {
                let items = match first {
                    Some(v) if !v.is_number() => self.items(&v, span)?.unwrap_or_default(),
                    _ => Vec::new(),
                };
                self.charge(crate::limits::list_bytes(items.len()), span)?;
                let t = crate::ast::TypeName { name: class.clone(), array: false };
                ops::cast(self, Value::list(items), &t, span)
            }
            "HashMap" | "LinkedHashMap" | "TreeMap" | "ConcurrentHashMap" => {
                if let Some(Value::Map(m)) = &first {
                    self.charge(m.borrow().len().saturating_mul(crate::limits::ENTRY_BYTES), span)?;
                }
                let mut m = match first {
                    Some(Value::Map(m)) => m.borrow().clone(),
                    _ => Default::default(),
                };
                if &**class == "TreeMap" {
                    m.sort_by(|a, _, b, _| crate::value::compare(&a.to_value(), &b.to_value()).unwrap_or(std::cmp::Ordering::Equal));
                }
                Ok(Value::map(m))
            }
            // `new String(bytes)`: the bytes read as UTF-8
            "String" => match first.as_ref().and_then(|v| match v {
                Value::List(_) => crate::stdlib::string::byte_list(v),
                _ => None,
            }) {
                Some(bytes) => Ok(Value::str(String::from_utf8_lossy(&bytes).into_owned())),
                None => Ok(Value::str(first.map(|v| v.to_string()).unwrap_or_default())),
            },
            "Integer" | "Long" | "BigDecimal" | "BigInteger" | "Double" | "Boolean" => {
                let t = crate::ast::TypeName { name: class.clone(), array: false };
                ops::cast(self, first.unwrap_or(Value::Null), &t, span)
            }
            "Object" => Ok(Value::map(Default::default())),
            "File" | "URL" | "Socket" | "ProcessBuilder" | "Thread" | "FileReader" | "FileWriter" | "GroovyShell"
            | "ClassLoader" | "Random" | "Scanner" => self.fail(
                "SecurityException",
                format!("new {class}(…) is not available in sync scripts: they have no file, process or network access"),
                span,
            ),
            _ => self.fail("GroovyRuntimeException", format!("unknown class '{class}': it is neither defined in the script nor available to sync scripts"), span),
        }
    }
}
