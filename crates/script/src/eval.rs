//! The evaluator: walks the syntax tree. Locals live in one stack of shared cells per run
//! (closures capture the cells they can see); undeclared names read and write the binding, as in
//! Groovy scripts. Control flow travels as [`Flow`].

mod call;
mod convert;
mod expr;
mod ops;
mod props;
mod stmt;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use indexmap::IndexMap;

use crate::ast::*;
use crate::diagnostic::{ErrorKind, ScriptError, Span, StackEntry};
use crate::limits::{Budget, Limits, STR_BYTES, VALUE_BYTES, list_bytes};
use crate::value::{Cell, Func, Fx, MapData, Obj, Value};

pub(crate) use convert::{instance_of, qualified_name};
pub(crate) use ops::{
    append_display, binary as binary_op, cast, find_all as ops_find_all,
    full_match as ops_full_match,
};

/// The binding: the script's variables in and out.
pub type Binding = IndexMap<Rc<str>, Value, Fx>;

/// A map read as an object of fixed properties: the map, its class, the properties it may lack.
type StrictMap = (Rc<RefCell<MapData>>, Rc<str>, Rc<[String]>);
/// A map whose methods a host object answers.
type MapMethods = (Rc<RefCell<MapData>>, Rc<dyn crate::HostObject>);

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
    /// Compiled patterns, least recently used first; at most `ops::REGEX_CACHE_ENTRIES`.
    pub(crate) regex_cache: IndexMap<Rc<str>, Rc<fancy_regex::Regex>, Fx>,
    /// Maps made with `withDefault { … }`, and their default closures.
    map_defaults: Vec<(Rc<RefCell<MapData>>, Value)>,
    /// Maps that are objects of fixed properties ([`crate::Strict`]): their class and the
    /// properties they may lack.
    strict_maps: Vec<StrictMap>,
    /// Maps with methods a host object answers ([`crate::Setup::methods`]).
    map_methods: Vec<MapMethods>,
    /// Classes the host offers ([`crate::Setup::classes`]).
    pub(crate) host_classes: Option<Rc<dyn crate::HostClasses>>,
    /// Lists that are sets (`as Set`, `new HashSet()`, `toSet()`): a `LinkedHashSet` in
    /// Groovy, whose operations keep it one and never hold an element twice.
    sets: Vec<Rc<RefCell<Vec<Value>>>>,
    /// Address of a local at the start of the run: the stack guard measures from here.
    stack_base: usize,
    it_name: Name,
    /// A reusable buffer for building strings.
    pub(crate) scratch: String,
    /// The zone where a script names none (the host clock's), once a date asked for it.
    pub(crate) time_zone: Option<jiff::tz::TimeZone>,
    /// `binding.variables`, once the script asked for it: a map of the binding that writes
    /// through (`binding.variables.x = 1` makes a variable `x`).
    binding_view: Option<Rc<RefCell<MapData>>>,
}

use crate::limits::stack_position;

/// The script's `binding` (Groovy's `groovy.lang.Binding`).
pub(crate) fn binding_object() -> Value {
    Value::Object(Rc::new(Obj {
        class: Rc::from("Binding"),
        def: None,
        fields: RefCell::new(IndexMap::default()),
    }))
}

/// Whether `v` is the script's `binding`.
pub(crate) fn is_binding(v: &Value) -> bool {
    matches!(v, Value::Object(o) if o.def.is_none() && &*o.class == "Binding")
}

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
            regex_cache: IndexMap::default(),
            map_defaults: Vec::new(),
            strict_maps: Vec::new(),
            map_methods: Vec::new(),
            host_classes: None,
            sets: Vec::new(),
            stack_base: 0,
            it_name: IT.with(Rc::clone),
            scratch: String::new(),
            time_zone: None,
            binding_view: None,
        }
    }

    /// Runs the script body; the value of its last statement (or of `return`) is the result.
    pub fn run(&mut self) -> Result<Value, ScriptError> {
        self.stack_base = stack_position();
        self.budget.start();
        // printing and converting collections count against this run's memory budget
        let outer_room = crate::value::set_walk_room(self.budget.room());
        let outer_used = crate::value::take_walk_bytes();
        let body = &self.prog.body;
        let r = match self.exec_body_value(body) {
            Ok(v) | Err(Flow::Return(v)) => Ok(v),
            Err(Flow::Err(t)) => Err(t.error),
            Err(Flow::Break) | Err(Flow::Continue) => Ok(Value::Null),
        };
        // a walk cut short by the budget never passes for a result
        let r = match (r, self.charge(0, Span::default())) {
            (Ok(_), Err(Flow::Err(t))) => Err(t.error),
            (r, _) => r,
        };
        // variables the script made through `binding.variables` are variables of the run
        if let Some(view) = self.binding_view.take() {
            for (k, v) in view.borrow().iter() {
                if let Some(k) = k.as_str()
                    && !self.binding.contains_key(k)
                {
                    self.binding.insert(Rc::from(k), v.clone());
                }
            }
        }
        crate::value::set_walk_room(outer_room);
        crate::value::take_walk_bytes();
        if outer_used > 0 {
            crate::value::spend_walk(outer_used as usize);
        }
        r
    }

    pub(crate) fn set_map_default(&mut self, m: &Rc<RefCell<MapData>>, f: Value) {
        self.map_defaults.retain(|(x, _)| !Rc::ptr_eq(x, m));
        self.map_defaults.push((m.clone(), f));
    }

    /// Whether `v` is a list made a set ([`Interp::mark_set`]).
    pub(crate) fn is_set(&self, v: &Value) -> bool {
        if self.sets.is_empty() {
            return false;
        }
        matches!(v, Value::List(l) if self.sets.iter().any(|s| Rc::ptr_eq(s, l)))
    }

    /// Makes the list `v` a set (its elements must be distinct already).
    pub(crate) fn mark_set(&mut self, v: &Value) {
        if let Value::List(l) = v
            && !self.is_set(v)
        {
            self.sets.push(l.clone());
        }
    }

    /// `v`'s Java class name: a set's is `LinkedHashSet`.
    pub(crate) fn class_name(&self, v: &Value) -> String {
        if self.is_set(v) {
            "LinkedHashSet".into()
        } else {
            v.type_name()
        }
    }

    pub(crate) fn make_strict(&mut self, s: crate::Strict) {
        if let Value::Map(m) = s.map {
            self.strict_maps
                .push((m, Rc::from(s.class.as_str()), s.known.into()));
        }
    }

    pub(crate) fn add_map_methods(&mut self, map: Value, methods: Rc<dyn crate::HostObject>) {
        if let Value::Map(m) = map {
            self.map_methods.push((m, methods));
        }
    }

    /// The host object answering methods of the map `m`, if any.
    pub(crate) fn map_methods(
        &self,
        m: &Rc<RefCell<MapData>>,
    ) -> Option<Rc<dyn crate::HostObject>> {
        if self.map_methods.is_empty() {
            return None;
        }
        self.map_methods
            .iter()
            .find(|(x, _)| Rc::ptr_eq(x, m))
            .map(|(_, h)| h.clone())
    }

    /// Whether the map `m` is a host's object (of fixed properties, or answering methods).
    pub(crate) fn is_host_map(&self, m: &Rc<RefCell<MapData>>) -> bool {
        self.strict_maps.iter().any(|(x, _, _)| Rc::ptr_eq(x, m)) || self.map_methods(m).is_some()
    }

    /// How messages name the map `m`: the class of a host's object of fixed properties
    /// (`Issue`), the host object answering its methods, or "a map" — never Java's internal
    /// `LinkedHashMap`.
    pub(crate) fn map_label(&self, m: &Rc<RefCell<MapData>>) -> String {
        if let Some((_, class, _)) = self.strict_maps.iter().find(|(x, _, _)| Rc::ptr_eq(x, m)) {
            return class.to_string();
        }
        match self.map_methods(m) {
            Some(h) => h.type_name().to_owned(),
            None => "a map".into(),
        }
    }

    /// A property read on a map that has no such key: an error when the map is an object of
    /// fixed properties that does not list it either.
    pub(crate) fn strict_miss(&self, m: &Rc<RefCell<MapData>>, name: &str, span: Span) -> R<()> {
        if self.strict_maps.is_empty() {
            return Ok(());
        }
        let Some((_, class, known)) = self.strict_maps.iter().find(|(x, _, _)| Rc::ptr_eq(x, m))
        else {
            return Ok(());
        };
        if known.iter().any(|k| k == name) {
            return Ok(());
        }
        let present: Vec<String> = m
            .borrow()
            .keys()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .chain(known.iter().cloned())
            .collect();
        let hint = crate::diagnostic::did_you_mean(name, present.iter().map(|s| s.as_str()))
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        self.fail(
            "MissingPropertyException",
            format!("No such property: {name} for class: {class}{hint}"),
            span,
        )
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

    /// Charges `bytes` to the memory budget, with what printing and converting collections
    /// produced since the last charge. Call it before allocating, with the size computed up
    /// front; a size that overflowed (saturated) is over any budget.
    pub(crate) fn charge(&mut self, bytes: usize, span: Span) -> R<()> {
        let walked = crate::value::take_walk_bytes();
        let bytes = bytes.saturating_add(usize::try_from(walked).unwrap_or(usize::MAX));
        let r = self.budget.charge(bytes, span);
        crate::value::set_walk_room(self.budget.room());
        match r {
            Ok(()) => Ok(()),
            Err(e) => Err(self.limit_err(e)),
        }
    }

    /// Counts work done inside a built-in; stops the run when its time is up.
    #[inline]
    pub(crate) fn work(&mut self, units: usize, span: Span) -> R<()> {
        match self.budget.work(units, span) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.limit_err(e)),
        }
    }

    /// The items of an iterable value. Building them from a range or a string makes new
    /// values: above a small size they are charged before they are built.
    pub(crate) fn items(&mut self, v: &Value, span: Span) -> R<Option<Vec<Value>>> {
        const FREE: usize = 4096;
        match v {
            Value::Range(r) if r.len() > FREE => self.charge(list_bytes(r.len()), span)?,
            Value::Str(s) if s.len() > FREE => {
                let n = s.chars().count();
                self.charge(n.saturating_mul(STR_BYTES + 8), span)?
            }
            Value::List(l) => {
                let n = l.borrow().len();
                self.work(n, span)?
            }
            Value::Map(m) => {
                let n = m.borrow().len();
                self.charge(if n > FREE { n * (VALUE_BYTES + 64) } else { 0 }, span)?;
                self.work(n, span)?
            }
            _ => {}
        }
        Ok(v.iter_items())
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
        if let Some(view) = &self.binding_view
            && let Some(v) = view.borrow().get(&crate::value::StrKey(name))
        {
            return Ok(v.clone());
        }
        if &**name == "binding" {
            return Ok(binding_object());
        }
        if self.classes.contains_key(name)
            || ops::is_known_class(name)
            || self
                .host_classes
                .as_ref()
                .is_some_and(|h| h.has_class(name))
        {
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
        self.set_variable(name.clone(), v);
    }

    /// Sets a variable of the binding (and of its `binding.variables` view).
    pub(crate) fn set_variable(&mut self, name: Name, v: Value) {
        if let Some(view) = &self.binding_view {
            view.borrow_mut()
                .insert(crate::value::Key::Str(name.clone()), v.clone());
        }
        self.binding.insert(name, v);
    }

    /// A variable of the binding, including those set through `binding.variables`.
    pub(crate) fn variable(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.binding.get(name) {
            return Some(v.clone());
        }
        self.binding_view
            .as_ref()
            .and_then(|view| view.borrow().get(&crate::value::StrKey(name)).cloned())
    }

    /// `binding.variables`: the binding as a map that writes through.
    pub(crate) fn binding_variables(&mut self, span: Span) -> R<Value> {
        if let Some(view) = &self.binding_view {
            return Ok(Value::Map(view.clone()));
        }
        self.charge(
            self.binding
                .len()
                .saturating_mul(crate::limits::ENTRY_BYTES),
            span,
        )?;
        let map: MapData = self
            .binding
            .iter()
            .map(|(k, v)| (crate::value::Key::Str(k.clone()), v.clone()))
            .collect();
        let view = Rc::new(RefCell::new(map));
        self.binding_view = Some(view.clone());
        Ok(Value::Map(view))
    }

    // ---- statements ---------------------------------------------------------------------

    // ---- calls --------------------------------------------------------------------------
}

#[cfg(test)]
mod tests {
    use crate::{Limits, Script, Value, to_json};

    fn run(src: &str) -> serde_json::Value {
        let s = Script::compile(src).map_err(|e| e.message).expect("parses");
        let out = s.run(Default::default(), &Limits::default());
        out.result
            .map(|v| to_json(&v))
            .unwrap_or_else(|e| serde_json::json!({"error": e.message}))
    }

    #[test]
    fn closures_capture_variables_by_reference() {
        assert_eq!(
            run("def n = 1\ndef inc = { n += 1 }\ninc(); inc()\nn"),
            serde_json::json!(3)
        );
    }

    #[test]
    fn methods_see_the_binding_but_not_script_locals() {
        assert_eq!(run("g = 5\ndef f() { g * 2 }\nf()"), serde_json::json!(10));
        let e = run("def local = 5\ndef f() { local }\nf()");
        assert!(
            e["error"].as_str().is_some_and(|m| m.contains("'local'")),
            "{e}"
        );
    }

    #[test]
    fn exceptions_carry_their_class_into_catch() {
        let src = "try { throw new com.acme.SyncException('x') } catch (Exception e) { e.class.name + ':' + e.message }";
        assert_eq!(run(src), serde_json::json!("SyncException:x"));
        let _ = Value::Null;
    }
}
