//! Calls: closures, method references, script methods (overloads by arity, default values),
//! script classes (fields, statics, constructors) and the call-depth guard.

use super::*;
use crate::value::Curry;

impl Interp<'_> {
    /// The text of an instance of a script class that defines `toString()`, which Groovy uses
    /// in GStrings, `println` and string concatenation; `None` for every other value.
    pub(crate) fn custom_to_string(&mut self, v: &Value, span: Span) -> R<Option<String>> {
        let Value::Object(o) = v else { return Ok(None) };
        let Some(def) = &o.def else { return Ok(None) };
        let Some(m) = def
            .methods
            .iter()
            .find(|m| &*m.name == "toString" && m.params.is_empty() && !m.is_static)
            .cloned()
        else {
            return Ok(None);
        };
        let ctx = Ctx {
            this: Some(v.clone()),
            class: Some(def.clone()),
        };
        Ok(Some(
            self.invoke_method(&m, Vec::new(), ctx, span)?.to_string(),
        ))
    }

    /// Calls a closure, method reference or script method value.
    pub fn call_value(&mut self, f: &Value, args: Vec<Value>, span: Span) -> R<Value> {
        match f {
            Value::Closure(func) => {
                let func = func.clone();
                match &*func {
                    Func::Closure {
                        def,
                        env,
                        this,
                        class,
                    } => {
                        let bind = if args.len() == 1 && def.params.len() <= 1 {
                            let mut args = args;
                            Bind::One(args.pop().unwrap_or(Value::Null))
                        } else {
                            Bind::Many(args)
                        };
                        self.call_closure(def, env, this, class, bind, span)
                    }
                    Func::MethodRef { recv, name } => match recv {
                        Some(Value::Class(c))
                            if !self.classes.contains_key(c)
                                && !args.is_empty()
                                && !crate::stdlib::has_static(c, name) =>
                        {
                            let mut args = args;
                            let first = args.remove(0);
                            self.call_method(first, name, args, span)
                        }
                        Some(r) => self.call_method(r.clone(), name, args, span),
                        None => self.call_function(name, args, span),
                    },
                    Func::ScriptMethod(name) => self.call_function(name, args, span),
                    Func::Curried { f, bound, at } => {
                        let mut all = Vec::with_capacity(bound.len() + args.len());
                        match at {
                            Curry::Left => {
                                all.extend(bound.iter().cloned());
                                all.extend(args);
                            }
                            Curry::Right => {
                                all.extend(args);
                                all.extend(bound.iter().cloned());
                            }
                            Curry::At(n) => {
                                if *n > args.len() {
                                    return self.fail(
                                        "IllegalArgumentException",
                                        format!(
                                            "the closure was curried at position {n} but is called with {} argument(s)",
                                            args.len()
                                        ),
                                        span,
                                    );
                                }
                                let mut args = args;
                                let tail = args.split_off(*n);
                                all.extend(args);
                                all.extend(bound.iter().cloned());
                                all.extend(tail);
                            }
                        }
                        self.call_value(f, all, span)
                    }
                    Func::Composed { first, then } => {
                        let mid = self.call_value(first, args, span)?;
                        self.call1(then, mid, span)
                    }
                    Func::Memoized { f, cache } => {
                        let hit = cache
                            .borrow()
                            .iter()
                            .find(|(k, _)| {
                                k.len() == args.len()
                                    && k.iter()
                                        .zip(&args)
                                        .all(|(x, y)| crate::value::values_equal(x, y))
                            })
                            .map(|(_, v)| v.clone());
                        if let Some(v) = hit {
                            return Ok(v);
                        }
                        let v = self.call_value(f, args.clone(), span)?;
                        let mut c = cache.borrow_mut();
                        if c.len() >= crate::value::MEMO_ENTRIES {
                            c.remove(0);
                        }
                        c.push((args, v.clone()));
                        Ok(v)
                    }
                }
            }
            // `builder(map)` is `builder.call(map)`
            Value::Object(o) if o.def.is_none() && &*o.class == "JsonBuilder" => {
                self.call_method(f.clone(), "call", args, span)
            }
            other => self.fail(
                "MissingMethodException",
                format!("{} cannot be called like a function", other.describe()),
                span,
            ),
        }
    }

    /// Calls `f` with one argument, without building an argument vector for closures.
    pub fn call1(&mut self, f: &Value, x: Value, span: Span) -> R<Value> {
        if let Value::Closure(func) = f
            && let Func::Closure {
                def,
                env,
                this,
                class,
            } = &**func
            && def.params.len() <= 1
        {
            return self.call_closure(def, env, this, class, Bind::One(x), span);
        }
        self.call_value(f, vec![x], span)
    }

    pub(super) fn call_closure(
        &mut self,
        def: &Rc<ClosureDef>,
        env: &[(Name, Cell)],
        this: &Option<Value>,
        class: &Option<Rc<ClassDef>>,
        bind: Bind,
        span: Span,
    ) -> R<Value> {
        self.enter_call(span, std::borrow::Cow::Borrowed("closure"))?;
        let saved_base = self.base;
        let saved_len = self.env.len();
        self.base = saved_len;
        self.env.extend(env.iter().cloned());
        let saved_ctx = std::mem::replace(
            &mut self.ctx,
            Ctx {
                this: this.clone(),
                class: class.clone(),
            },
        );
        let r = match bind {
            Bind::One(x) => self.bind_one(&def.params, def.implicit_it, x, span),
            Bind::Many(args) => self.bind_params(&def.params, def.implicit_it, args, span),
        }
        .and_then(|_| self.exec_seq(&def.body));
        self.env.truncate(saved_len);
        self.base = saved_base;
        self.ctx = saved_ctx;
        self.leave_call();
        match r {
            Ok(v) | Err(Flow::Return(v)) => Ok(v),
            Err(Flow::Break) | Err(Flow::Continue) => Ok(Value::Null),
            Err(e) => Err(e),
        }
    }

    /// Binds a single argument to a closure of at most one parameter.
    pub(super) fn bind_one(
        &mut self,
        params: &[Param],
        implicit_it: bool,
        x: Value,
        span: Span,
    ) -> R<()> {
        match params.first() {
            None if implicit_it => {
                self.declare(self.it_name.clone(), x);
                Ok(())
            }
            None => self.bind_params(params, implicit_it, vec![x], span),
            Some(p) => {
                let v = match &p.ty {
                    Some(t) => ops::coerce_declared(self, x, t, span)?,
                    None => x,
                };
                self.declare(p.name.clone(), v);
                Ok(())
            }
        }
    }

    pub(super) fn bind_params(
        &mut self,
        params: &[Param],
        implicit_it: bool,
        mut args: Vec<Value>,
        span: Span,
    ) -> R<()> {
        if params.is_empty() {
            // `{ -> … }` takes no argument at all
            if !implicit_it && !args.is_empty() {
                return self.fail(
                    "MissingMethodException",
                    format!(
                        "this closure takes no arguments but was called with {}",
                        args.len()
                    ),
                    span,
                );
            }
            if implicit_it {
                let it = if args.is_empty() {
                    Value::Null
                } else {
                    args.swap_remove(0)
                };
                let name = self.it_name.clone();
                self.declare(name, it);
            }
            return Ok(());
        }
        // a closure of several parameters called with one list spreads it: { k, v -> } on entries
        if params.len() > 1 && args.len() == 1 {
            match &args[0] {
                Value::Entry(e) if params.len() == 2 => {
                    let e = e.clone();
                    args = vec![e.0.clone(), e.1.clone()];
                }
                Value::List(l) if l.borrow().len() == params.len() => {
                    let items = l.borrow().clone();
                    args = items;
                }
                _ => {}
            }
        }
        let required = params.iter().filter(|p| p.default.is_none()).count();
        if args.len() < required || args.len() > params.len() {
            return self.fail(
                "MissingMethodException",
                format!(
                    "this takes {} argument(s) but was called with {}",
                    if required == params.len() {
                        required.to_string()
                    } else {
                        format!("{required} to {}", params.len())
                    },
                    args.len()
                ),
                span,
            );
        }
        let mut optional_to_fill = args.len() - required;
        let mut it = args.into_iter();
        for p in params {
            let v = if p.default.is_none() || optional_to_fill > 0 {
                if p.default.is_some() {
                    optional_to_fill -= 1;
                }
                it.next().unwrap_or(Value::Null)
            } else if let Some(d) = &p.default {
                self.eval(d)?
            } else {
                Value::Null
            };
            let v = match &p.ty {
                Some(t) => ops::coerce_declared(self, v, t, span)?,
                None => v,
            };
            self.declare(p.name.clone(), v);
        }
        Ok(())
    }

    pub(super) fn enter_call(&mut self, span: Span, name: std::borrow::Cow<'static, str>) -> R<()> {
        self.step(span)?;
        self.budget.depth += 1;
        let used = self.stack_base.abs_diff(stack_position());
        if self.budget.depth > self.budget.limits.max_depth
            || used > self.budget.limits.max_stack_bytes
        {
            self.budget.depth -= 1;
            let e = ScriptError::limit(
                format!(
                    "calls are nested {} deep, past the recursion limit (at most {} levels and {} KiB of stack): is a method calling itself forever?",
                    self.budget.depth + 1,
                    self.budget.limits.max_depth,
                    self.budget.limits.max_stack_bytes >> 10
                ),
                span,
            );
            return Err(self.limit_err(e));
        }
        self.stack.push(StackEntry { name, span });
        Ok(())
    }

    pub(super) fn leave_call(&mut self) {
        self.budget.depth -= 1;
        self.stack.pop();
    }

    /// Calls a script method (or class method) by name, choosing the overload by arity.
    pub(crate) fn invoke_method(
        &mut self,
        m: &Rc<MethodDef>,
        args: Vec<Value>,
        ctx: Ctx,
        span: Span,
    ) -> R<Value> {
        self.enter_call(span, std::borrow::Cow::Owned(format!("method {}", m.name)))?;
        let saved_base = self.base;
        let saved_len = self.env.len();
        self.base = saved_len;
        let saved_ctx = std::mem::replace(&mut self.ctx, ctx);
        let r = self
            .bind_params(&m.params, false, args, span)
            .and_then(|_| self.exec_seq(&m.body));
        self.env.truncate(saved_len);
        self.base = saved_base;
        self.ctx = saved_ctx;
        self.leave_call();
        let v = match r {
            Ok(v) | Err(Flow::Return(v)) => v,
            Err(Flow::Break) | Err(Flow::Continue) => Value::Null,
            Err(e) => return Err(e),
        };
        match &m.ret {
            Some(t) if &*t.name != "void" => ops::coerce_declared(self, v, t, span),
            Some(_) => Ok(Value::Null),
            None => Ok(v),
        }
    }

    /// The overload of `list` that `args` call, as Groovy picks it: by arity, then by the
    /// arguments' runtime types (a parameter declared `int` never takes a String); the closest
    /// fit wins, the first declared on a tie. `None` when no overload accepts the arguments.
    pub(crate) fn pick_overload(
        &self,
        list: &[Rc<MethodDef>],
        args: &[Value],
    ) -> Option<Rc<MethodDef>> {
        let n = args.len();
        let mut best: Option<(u32, &Rc<MethodDef>)> = None;
        for m in list {
            let required = m.params.iter().filter(|p| p.default.is_none()).count();
            if n < required || n > m.params.len() {
                continue;
            }
            let mut score = if m.params.len() == n { 1 } else { 0 };
            let mut fits = true;
            for (p, a) in m.params.iter().zip(args) {
                match param_fit(self, p.ty.as_ref(), a) {
                    Some(f) => score += f,
                    None => {
                        fits = false;
                        break;
                    }
                }
            }
            if fits && best.is_none_or(|(b, _)| score > b) {
                best = Some((score, m));
            }
        }
        best.map(|(_, m)| m.clone())
    }

    /// Why no overload of `name` in `list` takes `args`, in Groovy's words.
    pub(crate) fn no_overload(
        &self,
        name: &str,
        list: &[Rc<MethodDef>],
        args: &[Value],
        span: Span,
    ) -> R<Value> {
        let arity = |m: &Rc<MethodDef>| {
            let required = m.params.iter().filter(|p| p.default.is_none()).count();
            (required..=m.params.len()).contains(&args.len())
        };
        let shown: Vec<String> = args
            .iter()
            .map(|a| match a {
                Value::Null => "null".to_string(),
                a => a.type_name(),
            })
            .collect();
        let message = if list.iter().any(arity) {
            let sigs: Vec<String> = list
                .iter()
                .map(|m| {
                    let ps: Vec<String> = m
                        .params
                        .iter()
                        .map(|p| {
                            p.ty.as_ref()
                                .map_or("Object".to_string(), |t| t.name.to_string())
                        })
                        .collect();
                    format!("{name}({})", ps.join(", "))
                })
                .collect();
            format!(
                "no method {name} takes ({}): there is {}",
                shown.join(", "),
                sigs.join(" and ")
            )
        } else {
            let n = list
                .iter()
                .map(|m| m.params.len().to_string())
                .collect::<Vec<_>>()
                .join(" or ");
            format!("method {name} takes {n} argument(s), not {}", args.len())
        };
        self.fail("MissingMethodException", message, span)
    }

    /// A call by bare name: a local closure, a class or script method, a binding closure, or
    /// a built-in function.
    pub(crate) fn call_function(&mut self, name: &Name, args: Vec<Value>, span: Span) -> R<Value> {
        if let Some(c) = self.find_local(name) {
            let f = c.borrow().clone();
            return self.call_value(&f, args, span);
        }
        if let Some(class) = self.ctx.class.clone() {
            let ms: Vec<Rc<MethodDef>> = class
                .methods
                .iter()
                .filter(|m| m.name == *name)
                .cloned()
                .collect();
            if let Some(m) = self.pick_overload(&ms, &args) {
                let ctx = if m.is_static {
                    Ctx {
                        this: None,
                        class: Some(class),
                    }
                } else {
                    self.ctx.clone()
                };
                return self.invoke_method(&m, args, ctx, span);
            }
            if let Some(v) = self.lookup_this(name)
                && let Value::Closure(_) = v
            {
                return self.call_value(&v, args, span);
            }
        }
        if let Some(list) = self.methods.get(name) {
            if let Some(m) = self.pick_overload(list, &args) {
                return self.invoke_method(&m, args, Ctx::default(), span);
            }
            return self.no_overload(name, list, &args, span);
        }
        if let Some(v) = self.binding.get(&**name).cloned() {
            return self.call_value(&v, args, span);
        }
        crate::stdlib::call_builtin(self, name, args, span)
    }

    pub(crate) fn method_names(&self) -> Vec<String> {
        self.methods.keys().map(|k| k.to_string()).collect()
    }

    pub(crate) fn class_def(&self, name: &str) -> Option<Rc<ClassDef>> {
        self.classes.get(name).cloned()
    }

    /// Static fields of a script class, initialised on first use.
    pub(crate) fn class_statics(&mut self, c: &Rc<ClassDef>) -> R<Statics> {
        if let Some(s) = self.statics.get(&c.name) {
            return Ok(s.clone());
        }
        let s = Rc::new(RefCell::new(IndexMap::default()));
        self.statics.insert(c.name.clone(), s.clone());
        let saved = std::mem::replace(
            &mut self.ctx,
            Ctx {
                this: None,
                class: Some(c.clone()),
            },
        );
        for f in c.fields.iter().filter(|f| f.is_static) {
            let v = match &f.init {
                Some(e) => self.eval(e),
                None => Ok(f.ty.as_ref().map_or(Value::Null, ops::default_of)),
            };
            match v {
                Ok(v) => {
                    s.borrow_mut().insert(f.name.clone(), v);
                }
                Err(e) => {
                    self.ctx = saved;
                    return Err(e);
                }
            }
        }
        self.ctx = saved;
        Ok(s)
    }

    /// `new C(args)` for a script class.
    pub(crate) fn instantiate(
        &mut self,
        c: &Rc<ClassDef>,
        args: Vec<Value>,
        span: Span,
    ) -> R<Value> {
        self.class_statics(c)?;
        let obj = Rc::new(Obj {
            class: c.name.clone(),
            def: Some(c.clone()),
            fields: RefCell::new(IndexMap::default()),
        });
        let this = Value::Object(obj.clone());
        let saved = std::mem::replace(
            &mut self.ctx,
            Ctx {
                this: Some(this.clone()),
                class: Some(c.clone()),
            },
        );
        for f in c.fields.iter().filter(|f| !f.is_static) {
            let v = match &f.init {
                Some(e) => match self.eval(e) {
                    Ok(v) => v,
                    Err(e) => {
                        self.ctx = saved;
                        return Err(e);
                    }
                },
                None => f.ty.as_ref().map_or(Value::Null, ops::default_of),
            };
            obj.fields.borrow_mut().insert(f.name.clone(), v);
        }
        self.ctx = saved;
        let ctx = Ctx {
            this: Some(this.clone()),
            class: Some(c.clone()),
        };
        if let Some(m) = self.pick_overload(&c.ctors, &args) {
            self.invoke_method(&m, args, ctx, span)?;
        } else if args.len() == 1
            && let Value::Map(m) = &args[0]
        {
            for (k, v) in m.borrow().iter() {
                let key: Name = Rc::from(k.to_value().to_string().as_str());
                if !obj.fields.borrow().contains_key(&key) {
                    return self.fail(
                        "MissingPropertyException",
                        format!("class {} has no property '{key}'", c.name),
                        span,
                    );
                }
                obj.fields.borrow_mut().insert(key, v.clone());
            }
        } else if !args.is_empty() {
            return self.fail(
                "GroovyRuntimeException",
                format!(
                    "class {} has no constructor taking {} argument(s)",
                    c.name,
                    args.len()
                ),
                span,
            );
        }
        Ok(this)
    }

    /// A closure value for `{ … }` capturing the visible locals.
    pub(crate) fn make_closure(&self, def: &Rc<ClosureDef>) -> Value {
        Value::Closure(Rc::new(Func::Closure {
            def: def.clone(),
            env: self.env[self.base..].to_vec(),
            this: self.ctx.this.clone(),
            class: self.ctx.class.clone(),
        }))
    }
}

/// How well an argument fits a declared parameter type: `None` when Groovy would not pass it,
/// else higher for a closer fit (the exact class over a supertype over `Object`/untyped).
fn param_fit(it: &Interp, ty: Option<&TypeName>, v: &Value) -> Option<u32> {
    let Some(ty) = ty else { return Some(1) };
    if ty.array {
        return match v {
            Value::Null | Value::List(_) => Some(2),
            _ => None,
        };
    }
    let t = ty.name.rsplit('.').next().unwrap_or(&ty.name);
    let primitive = matches!(
        t,
        "int" | "long" | "short" | "byte" | "double" | "float" | "boolean" | "char"
    );
    if matches!(t, "def" | "Object") {
        return Some(1);
    }
    if let Value::Null = v {
        return (!primitive).then_some(2);
    }
    let numeric = matches!(
        v,
        Value::Int(_) | Value::Long(_) | Value::BigInt(_) | Value::Dec(_) | Value::Double(_)
    );
    let exact = matches!(
        (t, v),
        ("int" | "Integer", Value::Int(_))
            | ("long" | "Long", Value::Long(_))
            | ("double" | "Double", Value::Double(_))
            | ("BigDecimal", Value::Dec(_))
            | ("BigInteger", Value::BigInt(_))
            | ("boolean" | "Boolean", Value::Bool(_))
            | ("String", Value::Str(_))
    );
    if exact {
        return Some(4);
    }
    match t {
        // Widening between numbers, as Groovy's method selection allows.
        "int" | "Integer" | "short" | "Short" | "byte" | "Byte" => None,
        "long" | "Long" => matches!(v, Value::Int(_)).then_some(3),
        "double" | "Double" | "float" | "Float" | "BigDecimal" | "BigInteger" | "Number" => {
            numeric.then_some(3)
        }
        "boolean" | "Boolean" | "char" | "Character" => None,
        "String" | "CharSequence" | "GString" => matches!(v, Value::Str(_)).then_some(3),
        "List" | "ArrayList" | "Collection" | "Iterable" | "Map" | "LinkedHashMap" | "HashMap"
        | "Closure" | "Comparable" | "Range" | "Pattern" | "Matcher" | "Set" | "LinkedHashSet"
        | "HashSet" => convert::instance_of(it, v, t).then_some(2),
        // A script class: its instances only; a type the engine does not model (a host
        // object's interface, a Java class): anything, as before.
        _ => match it.class_def(t) {
            Some(_) => convert::instance_of(it, v, t).then_some(3),
            None => Some(2),
        },
    }
}
