//! The evaluator: walks the syntax tree. Locals live in one stack of shared cells per run
//! (closures capture the cells they can see); undeclared names read and write the binding, as in
//! Groovy scripts. Control flow travels as [`Flow`].

mod expr;
mod ops;
mod props;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use indexmap::IndexMap;

use crate::ast::*;
use crate::diagnostic::{ErrorKind, ScriptError, Span, StackEntry};
use crate::limits::{Budget, Limits};
use crate::value::{Cell, Func, Fx, MapData, Obj, Value};

pub(crate) use ops::{
    binary as binary_op, cast, find_all as ops_find_all, full_match as ops_full_match,
};

/// The binding: the script's variables in and out.
pub type Binding = IndexMap<Rc<str>, Value, Fx>;

thread_local! {
    static IT: Name = Rc::from("it");
}

/// Arguments of a closure call: one (the common case, no vector) or several.
enum Bind {
    One(Value),
    Many(Vec<Value>),
}

/// Non-local control flow: errors (exceptions), `return`, `break`, `continue`.
pub enum Flow {
    Err(Box<Thrown>),
    Return(Value),
    Break,
    Continue,
}

pub struct Thrown {
    pub error: ScriptError,
    /// The exception object, when the script threw one or caught one.
    pub value: Option<Value>,
}

pub type R<T> = Result<T, Flow>;

/// The static fields of a script class.
pub(crate) type Statics = Rc<RefCell<IndexMap<Name, Value, Fx>>>;

impl From<ScriptError> for Flow {
    fn from(e: ScriptError) -> Flow {
        Flow::Err(Box::new(Thrown {
            error: e,
            value: None,
        }))
    }
}

#[derive(Clone, Default)]
pub(crate) struct Ctx {
    pub this: Option<Value>,
    pub class: Option<Rc<ClassDef>>,
}

pub struct Interp<'p> {
    pub(crate) prog: &'p Program,
    methods: HashMap<Name, Vec<Rc<MethodDef>>>,
    classes: HashMap<Name, Rc<ClassDef>>,
    statics: HashMap<Name, Statics>,
    pub binding: Binding,
    env: Vec<(Name, Cell)>,
    base: usize,
    pub(crate) ctx: Ctx,
    pub stdout: String,
    pub(crate) budget: Budget,
    stack: Vec<StackEntry>,
    pub(crate) regex_cache: HashMap<String, Rc<fancy_regex::Regex>>,
    /// Maps made with `withDefault { … }`, and their default closures.
    map_defaults: Vec<(Rc<RefCell<MapData>>, Value)>,
    /// Address of a local at the start of the run: the stack guard measures from here.
    stack_base: usize,
    it_name: Name,
    /// A reusable buffer for building strings.
    pub(crate) scratch: String,
}

use crate::limits::stack_position;

impl<'p> Interp<'p> {
    pub fn new(prog: &'p Program, binding: Binding, limits: Limits) -> Interp<'p> {
        let mut methods: HashMap<Name, Vec<Rc<MethodDef>>> = HashMap::new();
        for m in &prog.methods {
            methods.entry(m.name.clone()).or_default().push(m.clone());
        }
        let classes = prog
            .classes
            .iter()
            .map(|c| (c.name.clone(), c.clone()))
            .collect();
        Interp {
            prog,
            methods,
            classes,
            statics: HashMap::new(),
            binding,
            env: Vec::with_capacity(32),
            base: 0,
            ctx: Ctx::default(),
            stdout: String::new(),
            budget: Budget::new(limits),
            stack: Vec::new(),
            regex_cache: HashMap::new(),
            map_defaults: Vec::new(),
            stack_base: 0,
            it_name: IT.with(Rc::clone),
            scratch: String::new(),
        }
    }

    /// Runs the script body; the value of its last statement (or of `return`) is the result.
    pub fn run(&mut self) -> Result<Value, ScriptError> {
        self.stack_base = stack_position();
        let body = &self.prog.body;
        match self.exec_body_value(body) {
            Ok(v) | Err(Flow::Return(v)) => Ok(v),
            Err(Flow::Err(t)) => Err(t.error),
            Err(Flow::Break) | Err(Flow::Continue) => Ok(Value::Null),
        }
    }

    pub(crate) fn set_map_default(&mut self, m: &Rc<RefCell<MapData>>, f: Value) {
        self.map_defaults.retain(|(x, _)| !Rc::ptr_eq(x, m));
        self.map_defaults.push((m.clone(), f));
    }

    /// The value of a missing key of a `withDefault` map (stored, as Groovy does), if any.
    pub(crate) fn map_default(
        &mut self,
        m: &Rc<RefCell<MapData>>,
        key: &Value,
        span: Span,
    ) -> R<Option<Value>> {
        if self.map_defaults.is_empty() {
            return Ok(None);
        }
        let Some(f) = self
            .map_defaults
            .iter()
            .find(|(x, _)| Rc::ptr_eq(x, m))
            .map(|(_, f)| f.clone())
        else {
            return Ok(None);
        };
        let v = self.call_value(&f, vec![key.clone()], span)?;
        m.borrow_mut().insert(key.to_key(), v.clone());
        Ok(Some(v))
    }

    // ---- errors -------------------------------------------------------------------------

    /// A Groovy exception of class `class` raised by the runtime.
    pub fn throw(&self, class: &str, message: impl Into<String>, span: Span) -> Flow {
        Flow::Err(Box::new(Thrown {
            error: ScriptError {
                kind: ErrorKind::Exception(class.to_string()),
                message: message.into(),
                span,
                stack: self.stack.clone(),
            },
            value: None,
        }))
    }

    pub fn fail<T>(&self, class: &str, message: impl Into<String>, span: Span) -> R<T> {
        Err(self.throw(class, message, span))
    }

    pub(crate) fn limit_err(&self, e: ScriptError) -> Flow {
        let mut e = e;
        e.stack = self.stack.clone();
        Flow::from(e)
    }

    /// Stops evaluation that would use more native stack than the limit allows.
    #[inline]
    pub(crate) fn check_stack(&self, span: Span) -> R<()> {
        if self.stack_base.abs_diff(stack_position()) > self.budget.limits.max_stack_bytes {
            let e = ScriptError::limit(
                format!(
                    "the script is nested too deeply (more than {} KiB of stack)",
                    self.budget.limits.max_stack_bytes >> 10
                ),
                span,
            );
            return Err(self.limit_err(e));
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn step(&mut self, span: Span) -> R<()> {
        match self.budget.step_exact(span) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.limit_err(e)),
        }
    }

    pub(crate) fn charge(&mut self, bytes: usize, span: Span) -> R<()> {
        match self.budget.charge(bytes, span) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.limit_err(e)),
        }
    }

    // ---- variables ----------------------------------------------------------------------

    fn find_local(&self, name: &Name) -> Option<&Cell> {
        self.env[self.base..]
            .iter()
            .rev()
            .find(|(n, _)| Rc::ptr_eq(n, name) || **n == **name)
            .map(|(_, c)| c)
    }

    pub(crate) fn declare(&mut self, name: Name, v: Value) {
        self.env.push((name, Rc::new(RefCell::new(v))));
    }

    pub(crate) fn local_names(&self) -> Vec<String> {
        self.env[self.base..]
            .iter()
            .map(|(n, _)| n.to_string())
            .chain(self.binding.keys().map(|k| k.to_string()))
            .collect()
    }

    pub(crate) fn lookup(&mut self, name: &Name, span: Span) -> R<Value> {
        if let Some(c) = self.find_local(name) {
            return Ok(c.borrow().clone());
        }
        if let Some(v) = self.lookup_this(name) {
            return Ok(v);
        }
        if let Some(v) = self.binding.get(&**name) {
            return Ok(v.clone());
        }
        if self.classes.contains_key(name) || ops::is_known_class(name) {
            return Ok(Value::Class(name.clone()));
        }
        if self.methods.contains_key(name) {
            return Ok(Value::Closure(Rc::new(Func::ScriptMethod(name.clone()))));
        }
        let hint =
            crate::diagnostic::did_you_mean(name, self.local_names().iter().map(|s| s.as_str()))
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
        self.fail(
            "MissingPropertyException",
            format!("no variable or property '{name}' is defined here{hint}"),
            span,
        )
    }

    fn lookup_this(&self, name: &Name) -> Option<Value> {
        if let Some(Value::Object(o)) = &self.ctx.this
            && let Some(v) = o.fields.borrow().get(name)
        {
            return Some(v.clone());
        }
        if let Some(c) = &self.ctx.class
            && let Some(s) = self.statics.get(&c.name)
            && let Some(v) = s.borrow().get(name)
        {
            return Some(v.clone());
        }
        None
    }

    pub(crate) fn assign_var(&mut self, name: &Name, v: Value) {
        if let Some(c) = self.find_local(name) {
            *c.borrow_mut() = v;
            return;
        }
        if let Some(Value::Object(o)) = &self.ctx.this
            && let Some(slot) = o.fields.borrow_mut().get_mut(name)
        {
            *slot = v;
            return;
        }
        if let Some(c) = &self.ctx.class
            && let Some(s) = self.statics.get(&c.name)
            && let Some(slot) = s.borrow_mut().get_mut(name)
        {
            *slot = v;
            return;
        }
        self.binding.insert(name.clone(), v);
    }

    // ---- statements ---------------------------------------------------------------------

    /// Runs statements in a new block scope and yields the last expression statement's value.
    pub(crate) fn exec_body_value(&mut self, body: &[Stmt]) -> R<Value> {
        let mark = self.env.len();
        let r = self.exec_seq(body);
        self.env.truncate(mark);
        r
    }

    fn exec_seq(&mut self, body: &[Stmt]) -> R<Value> {
        let mut last = Value::Null;
        for s in body {
            last = self.exec(s)?;
        }
        Ok(last)
    }

    fn exec_scoped(&mut self, s: &Stmt) -> R<Value> {
        let mark = self.env.len();
        let r = self.exec(s);
        self.env.truncate(mark);
        r
    }

    pub(crate) fn exec(&mut self, s: &Stmt) -> R<Value> {
        self.step(s.span)?;
        match &s.kind {
            StmtKind::Expr(e) => self.eval(e),
            StmtKind::Decl { name, ty, init } => {
                let mut v = match init {
                    Some(e) => self.eval(e)?,
                    None => ty.as_ref().map_or(Value::Null, ops::default_of),
                };
                if let Some(t) = ty {
                    v = ops::coerce_declared(self, v, t, s.span)?;
                }
                self.declare(name.clone(), v);
                Ok(Value::Null)
            }
            StmtKind::MultiDecl { names, init } => {
                let v = self.eval(init)?;
                let items = v.iter_items().unwrap_or_default();
                for (i, n) in names.iter().enumerate() {
                    self.declare(n.clone(), items.get(i).cloned().unwrap_or(Value::Null));
                }
                Ok(Value::Null)
            }
            StmtKind::Seq(list) => {
                for s in list {
                    self.exec(s)?;
                }
                Ok(Value::Null)
            }
            StmtKind::Block(b) => self.exec_body_value(b),
            StmtKind::If { cond, then, els } => {
                if self.eval(cond)?.truthy() {
                    self.exec_scoped(then)
                } else if let Some(e) = els {
                    self.exec_scoped(e)
                } else {
                    Ok(Value::Null)
                }
            }
            StmtKind::While { cond, body } => {
                while self.eval(cond)?.truthy() {
                    self.step(s.span)?;
                    match self.exec_scoped(body) {
                        Ok(_) | Err(Flow::Continue) => {}
                        Err(Flow::Break) => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(Value::Null)
            }
            StmtKind::DoWhile { body, cond } => {
                loop {
                    self.step(s.span)?;
                    match self.exec_scoped(body) {
                        Ok(_) | Err(Flow::Continue) => {}
                        Err(Flow::Break) => break,
                        Err(e) => return Err(e),
                    }
                    if !self.eval(cond)?.truthy() {
                        break;
                    }
                }
                Ok(Value::Null)
            }
            StmtKind::For {
                init,
                cond,
                update,
                body,
            } => {
                let mark = self.env.len();
                let r = self.exec_for(init, cond.as_ref(), update, body, s.span);
                self.env.truncate(mark);
                r.map(|_| Value::Null)
            }
            StmtKind::ForIn { name, iter, body } => {
                let it = self.eval(iter)?;
                let Some(items) = it.iter_items() else {
                    return self.fail(
                        "MissingMethodException",
                        format!("cannot iterate over {}", it.describe()),
                        iter.span,
                    );
                };
                for item in items {
                    self.step(s.span)?;
                    let mark = self.env.len();
                    self.declare(name.clone(), item);
                    let r = self.exec(body);
                    self.env.truncate(mark);
                    match r {
                        Ok(_) | Err(Flow::Continue) => {}
                        Err(Flow::Break) => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(Value::Null)
            }
            StmtKind::Switch(sw) => match self.eval_switch(sw) {
                Err(Flow::Break) => Ok(Value::Null),
                other => other,
            },
            StmtKind::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(e)?,
                    None => Value::Null,
                };
                Err(Flow::Return(v))
            }
            StmtKind::Break => Err(Flow::Break),
            StmtKind::Continue => Err(Flow::Continue),
            StmtKind::Throw(e) => {
                let v = self.eval(e)?;
                Err(self.throw_value(v, e.span))
            }
            StmtKind::Try {
                body,
                catches,
                finally,
            } => self.exec_try(body, catches, finally.as_deref()),
            StmtKind::Assert(cond, msg) => {
                if self.eval(cond)?.truthy() {
                    return Ok(Value::Null);
                }
                let m = match msg {
                    Some(m) => self.eval(m)?.to_string(),
                    None => format!("assert failed: {}", self.source_text(cond.span)),
                };
                self.fail("AssertionError", m, cond.span)
            }
            StmtKind::Empty => Ok(Value::Null),
        }
    }

    fn source_text(&self, _span: Span) -> String {
        "expression is false".to_string()
    }

    fn exec_for(
        &mut self,
        init: &[Stmt],
        cond: Option<&Expr>,
        update: &[Expr],
        body: &Stmt,
        span: Span,
    ) -> R<()> {
        for s in init {
            self.exec(s)?;
        }
        loop {
            if let Some(c) = cond
                && !self.eval(c)?.truthy()
            {
                break;
            }
            self.step(span)?;
            match self.exec_scoped(body) {
                Ok(_) | Err(Flow::Continue) => {}
                Err(Flow::Break) => break,
                Err(e) => return Err(e),
            }
            for u in update {
                self.eval(u)?;
            }
        }
        Ok(())
    }

    pub(crate) fn eval_switch(&mut self, sw: &SwitchDef) -> R<Value> {
        let subject = self.eval(&sw.subject)?;
        let mut matched = None;
        'outer: for (i, case) in sw.cases.iter().enumerate() {
            for v in &case.values {
                let cv = self.eval(v)?;
                if self.is_case(&cv, &subject, v.span)? {
                    matched = Some(i);
                    break 'outer;
                }
            }
        }
        let start = match matched.or_else(|| sw.cases.iter().position(|c| c.values.is_empty())) {
            Some(i) => i,
            None => return Ok(Value::Null),
        };
        if sw.arrow {
            let case = &sw.cases[start];
            return match case.body.first() {
                Some(Stmt {
                    kind: StmtKind::Expr(e),
                    ..
                }) => self.eval(e),
                Some(Stmt {
                    kind: StmtKind::Block(b),
                    ..
                }) => self.exec_body_value(b),
                Some(s) => self.exec(s),
                None => Ok(Value::Null),
            };
        }
        let mark = self.env.len();
        let mut r = Ok(Value::Null);
        for case in &sw.cases[start..] {
            r = self.exec_seq(&case.body);
            if r.is_err() {
                break;
            }
        }
        self.env.truncate(mark);
        r
    }

    fn exec_try(&mut self, body: &[Stmt], catches: &[Catch], finally: Option<&[Stmt]>) -> R<Value> {
        let depth = self.stack.len();
        let env_len = self.env.len();
        let base = self.base;
        let mut r = self.exec_body_value(body);
        if let Err(Flow::Err(t)) = &r
            && let ErrorKind::Exception(class) = &t.error.kind
        {
            // unwind what the failed calls left behind
            self.stack.truncate(depth);
            self.env.truncate(env_len);
            self.base = base;
            let class = class.clone();
            if let Some(c) = catches.iter().find(|c| {
                c.types.is_empty() || c.types.iter().any(|t| ops::exception_matches(&class, t))
            }) {
                let Err(Flow::Err(t)) = std::mem::replace(&mut r, Ok(Value::Null)) else {
                    unreachable!("matched above")
                };
                let exc = t.value.unwrap_or_else(|| {
                    ops::exception_object(&class, Value::str(t.error.message.as_str()))
                });
                let mark = self.env.len();
                self.declare(c.name.clone(), exc);
                r = self.exec_body_value(&c.body);
                self.env.truncate(mark);
            }
        }
        if let Some(f) = finally {
            self.exec_body_value(f)?;
        }
        r
    }

    fn throw_value(&self, v: Value, span: Span) -> Flow {
        match &v {
            Value::Object(o) if o.def.is_none() || ops::is_exception_name(&o.class) => {
                let message = o
                    .fields
                    .borrow()
                    .get("message")
                    .cloned()
                    .unwrap_or(Value::Null);
                let message = if let Value::Null = message {
                    o.class.to_string()
                } else {
                    message.to_string()
                };
                let mut f = self.throw(&o.class, message, span);
                if let Flow::Err(t) = &mut f {
                    t.value = Some(v.clone());
                }
                f
            }
            other => self.throw(
                "GroovyCastException",
                format!(
                    "only exceptions can be thrown, not {}: use throw new Exception(\"…\")",
                    other.describe()
                ),
                span,
            ),
        }
    }

    // ---- calls --------------------------------------------------------------------------

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

    fn enter_call(&mut self, span: Span, name: std::borrow::Cow<'static, str>) -> R<()> {
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

    fn leave_call(&mut self) {
        self.budget.depth -= 1;
        self.stack.pop();
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

    fn call_closure(
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
    fn bind_one(&mut self, params: &[Param], implicit_it: bool, x: Value, span: Span) -> R<()> {
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

    fn bind_params(
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
