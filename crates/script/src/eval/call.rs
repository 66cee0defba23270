//! Calls: closures, method references, script methods (overloads by arity, default values),
//! script classes (fields, statics, constructors) and the call-depth guard.

use super::*;

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
                }
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

    pub(crate) fn pick_overload(list: &[Rc<MethodDef>], n: usize) -> Option<Rc<MethodDef>> {
        list.iter()
            .find(|m| m.params.len() == n)
            .or_else(|| {
                list.iter().find(|m| {
                    n <= m.params.len()
                        && n >= m.params.iter().filter(|p| p.default.is_none()).count()
                })
            })
            .cloned()
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
            if let Some(m) = Self::pick_overload(&ms, args.len()) {
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
            if let Some(m) = Self::pick_overload(list, args.len()) {
                return self.invoke_method(&m, args, Ctx::default(), span);
            }
            let n = list
                .iter()
                .map(|m| m.params.len().to_string())
                .collect::<Vec<_>>()
                .join(" or ");
            return self.fail(
                "MissingMethodException",
                format!("method {name} takes {n} argument(s), not {}", args.len()),
                span,
            );
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
        if let Some(m) = Self::pick_overload(&c.ctors, args.len()) {
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
