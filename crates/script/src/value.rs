//! Runtime values. `Rc`/`RefCell` give Java's reference semantics (`def b = a` aliases a list);
//! a run stays on one thread. Maps are insertion-ordered, keyed by [`Key`].

use std::cell::RefCell;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::rc::Rc;

use indexmap::{Equivalent, IndexMap};

use crate::ast::{ClassDef, ClosureDef, Name};
use crate::host::HostObject;
use crate::num::{Dec, fmt_double};

/// The FxHash function (rustc's): fast for the short string keys of sync data.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(buf));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type Fx = BuildHasherDefault<FxHasher>;
pub type MapData = IndexMap<Key, Value, Fx>;
pub type Cell = Rc<RefCell<Value>>;

/// A map key. Integers of any width are one key space; strings hash like `str` so lookups by
/// name need no allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    Null,
    Bool(bool),
    Int(i64),
    Str(Rc<str>),
    Dec(i128, u32),
    Double(u64),
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            Key::Str(s) => (**s).hash(h),
            Key::Null => 0u8.hash(h),
            Key::Bool(b) => b.hash(h),
            Key::Int(i) => i.hash(h),
            Key::Dec(m, s) => (m, s).hash(h),
            Key::Double(b) => b.hash(h),
        }
    }
}

/// Looks a map up by `&str` without building a [`Key`].
#[derive(Hash)]
pub struct StrKey<'a>(pub &'a str);

impl Equivalent<Key> for StrKey<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        matches!(key, Key::Str(s) if &**s == self.0)
    }
}

impl Key {
    pub fn to_value(&self) -> Value {
        match self {
            Key::Null => Value::Null,
            Key::Bool(b) => Value::Bool(*b),
            Key::Int(i) => Value::from_i64(*i),
            Key::Str(s) => Value::Str(s.clone()),
            Key::Dec(m, s) => Value::Dec(Dec { m: *m, s: *s }),
            Key::Double(b) => Value::Double(f64::from_bits(*b)),
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        if let Key::Str(s) = self {
            Some(s)
        } else {
            None
        }
    }
}

pub struct RangeVal {
    pub from: i64,
    pub to: i64,
    pub chars: bool,
}

impl RangeVal {
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn len(&self) -> usize {
        let span = ((self.from as i128) - (self.to as i128)).unsigned_abs();
        usize::try_from(span)
            .unwrap_or(usize::MAX - 1)
            .saturating_add(1)
    }
    pub fn get(&self, i: usize) -> Value {
        let v = if self.from <= self.to {
            self.from + i as i64
        } else {
            self.from - i as i64
        };
        if self.chars {
            Value::str(char::from_u32(v as u32).unwrap_or('?').to_string())
        } else {
            Value::from_i64(v)
        }
    }
    pub fn contains(&self, v: i64) -> bool {
        v >= self.from.min(self.to) && v <= self.from.max(self.to)
    }
}

/// What a closure value calls.
pub enum Func {
    Closure {
        def: Rc<ClosureDef>,
        env: Vec<(Name, Cell)>,
        this: Option<Value>,
        class: Option<Rc<ClassDef>>,
    },
    /// `String::toUpperCase`: calls the method on the first argument; `obj::m`: on `obj`.
    MethodRef { recv: Option<Value>, name: Name },
    /// A script-level method used as a value (`this.&name`).
    ScriptMethod(Name),
    /// `f.curry(…)`, `f.rcurry(…)`, `f.ncurry(n, …)`: `f` with some arguments bound.
    Curried {
        f: Value,
        bound: Vec<Value>,
        at: Curry,
    },
    /// `f >> g` (and `g << f`): `g(f(…))`.
    Composed { first: Value, then: Value },
    /// `f.memoize()`: `f`, answering again from the results it already computed.
    Memoized {
        f: Value,
        cache: RefCell<Vec<(Vec<Value>, Value)>>,
    },
}

/// Where a curried closure's bound arguments go.
#[derive(Clone, Copy)]
pub enum Curry {
    Left,
    Right,
    At(usize),
}

/// Most results a memoized closure keeps; older ones are forgotten first.
pub const MEMO_ENTRIES: usize = 256;

/// An instance of a script class, an exception or a library object (`JsonSlurper`).
pub struct Obj {
    pub class: Rc<str>,
    pub def: Option<Rc<ClassDef>>,
    pub fields: RefCell<IndexMap<Name, Value, Fx>>,
}

pub struct MatcherVal {
    pub groups: Vec<Vec<Value>>,
    /// Where each match starts and ends, in characters.
    pub spans: Vec<(usize, usize)>,
    pub input: Rc<str>,
    pub regex: Rc<fancy_regex::Regex>,
    /// The match `find()` last moved to (`None` before the first), as Java's matcher keeps it.
    pub current: std::cell::Cell<Option<usize>>,
}

#[derive(Clone, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    BigInt(i128),
    Dec(Dec),
    Double(f64),
    Str(Rc<str>),
    List(Rc<RefCell<Vec<Value>>>),
    Map(Rc<RefCell<MapData>>),
    Range(Rc<RangeVal>),
    Closure(Rc<Func>),
    Regex(Rc<fancy_regex::Regex>),
    Matcher(Rc<MatcherVal>),
    Entry(Rc<(Value, Value)>),
    /// A class name used as a value: `String`, `Math`, `groovy.json.JsonOutput`.
    Class(Rc<str>),
    Object(Rc<Obj>),
    Host(Rc<dyn HostObject>),
    /// A date, time, duration, zone or date format (`crate::time`).
    Time(Rc<crate::time::Time>),
}

impl Value {
    pub fn str(s: impl Into<Rc<str>>) -> Value {
        Value::Str(s.into())
    }
    pub fn list(v: Vec<Value>) -> Value {
        Value::List(Rc::new(RefCell::new(v)))
    }
    pub fn map(m: MapData) -> Value {
        Value::Map(Rc::new(RefCell::new(m)))
    }
    pub fn from_i64(v: i64) -> Value {
        match i32::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Long(v),
        }
    }
    pub fn from_i128(v: i128) -> Value {
        match i64::try_from(v) {
            Ok(i) => Value::Long(i),
            Err(_) => Value::BigInt(v),
        }
    }

    /// A copy whose lists and maps are new (strings, immutable, are shared): what a host
    /// passes when each run must start from the same data.
    pub fn deep_copy(&self) -> Value {
        self.deep_copy_depth(0)
    }

    fn deep_copy_depth(&self, depth: usize) -> Value {
        if depth > MAX_NESTING || !visit(Walk::Copy, depth) {
            return self.clone();
        }
        match self {
            Value::List(l) => Value::list(
                l.borrow()
                    .iter()
                    .map(|v| v.deep_copy_depth(depth + 1))
                    .collect(),
            ),
            Value::Map(m) => {
                // cloning keeps the hash table as it is: no key is hashed again
                let mut out = m.borrow().clone();
                for v in out.values_mut() {
                    if matches!(v, Value::List(_) | Value::Map(_)) {
                        *v = v.deep_copy_depth(depth + 1);
                    }
                }
                Value::map(out)
            }
            other => other.clone(),
        }
    }

    /// Groovy truth.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Long(i) => *i != 0,
            Value::BigInt(i) => *i != 0,
            Value::Dec(d) => !d.is_zero(),
            Value::Double(d) => *d != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.borrow().is_empty(),
            Value::Map(m) => !m.borrow().is_empty(),
            Value::Range(_) => true,
            Value::Matcher(m) => !m.groups.is_empty(),
            Value::Host(h) => h.truthy(),
            _ => true,
        }
    }

    pub fn is_number(&self) -> bool {
        matches!(
            self,
            Value::Int(_) | Value::Long(_) | Value::BigInt(_) | Value::Dec(_) | Value::Double(_)
        )
    }

    /// The Java class name, as error messages and `getClass()` show it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Bool(_) => "Boolean".into(),
            Value::Int(_) => "Integer".into(),
            Value::Long(_) => "Long".into(),
            Value::BigInt(_) => "BigInteger".into(),
            Value::Dec(_) => "BigDecimal".into(),
            Value::Double(_) => "Double".into(),
            Value::Str(_) => "String".into(),
            Value::List(_) => "ArrayList".into(),
            Value::Map(_) => "LinkedHashMap".into(),
            Value::Range(_) => "IntRange".into(),
            Value::Closure(_) => "Closure".into(),
            Value::Regex(_) => "Pattern".into(),
            Value::Matcher(_) => "Matcher".into(),
            Value::Entry(_) => "Map.Entry".into(),
            Value::Class(_) => "Class".into(),
            Value::Object(o) => o.class.to_string(),
            Value::Host(h) => h.type_name().to_string(),
            Value::Time(t) => t.type_name().to_string(),
        }
    }

    /// A short description for messages: "the map", "a String", "null".
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Map(_) => "the map".into(),
            Value::List(_) => "the list".into(),
            other => format!("a value of type {}", other.type_name()),
        }
    }

    pub fn to_key(&self) -> Key {
        match self {
            Value::Null => Key::Null,
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i as i64),
            Value::Long(i) => Key::Int(*i),
            Value::BigInt(i) => match i64::try_from(*i) {
                Ok(v) => Key::Int(v),
                Err(_) => Key::Str(i.to_string().into()),
            },
            Value::Str(s) => Key::Str(s.clone()),
            Value::Dec(d) => Key::Dec(d.m, d.s),
            Value::Double(d) => Key::Double(d.to_bits()),
            other => Key::Str(other.to_string().into()),
        }
    }

    /// Items of an iterable value (list, range, map entries, string characters).
    pub fn iter_items(&self) -> Option<Vec<Value>> {
        Some(match self {
            Value::List(l) => l.borrow().clone(),
            // a range is materialised only when that is affordable; callers charge memory first
            Value::Range(r) if r.len() > MAX_MATERIALISED => return None,
            Value::Range(r) => (0..r.len()).map(|i| r.get(i)).collect(),
            Value::Map(m) => m
                .borrow()
                .iter()
                .map(|(k, v)| Value::Entry(Rc::new((k.to_value(), v.clone()))))
                .collect(),
            Value::Str(s) => s.chars().map(|c| Value::str(c.to_string())).collect(),
            Value::Matcher(m) => m.groups.iter().map(|g| group_value(g)).collect(),
            Value::Null => Vec::new(),
            _ => return None,
        })
    }
}

/// A regex match as Groovy yields it: the whole match when there are no groups, else a list.
pub fn group_value(g: &[Value]) -> Value {
    if g.len() == 1 {
        g[0].clone()
    } else {
        Value::list(g.to_vec())
    }
}

thread_local! {
    static DISPLAY_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Collections nested deeper than this print as `[…]` (and compare unequal) instead of
/// recursing without bound.
const MAX_NESTING: usize = 256;

/// Which structural walk a [`visit`] counts for.
#[derive(Clone, Copy)]
pub(crate) enum Walk {
    Display,
    Equal,
    Json,
    Copy,
    Flatten,
}

thread_local! {
    static VISITS: std::cell::Cell<[usize; 5]> = const { std::cell::Cell::new([0; 5]) };
}

/// Most nodes one structural walk (printing, comparing, converting, copying, flattening) visits:
/// shared or self-containing collections cannot make it run for ever.
const MAX_VISITS: usize = 1 << 20;

/// Counts a node of a walk (depth 0 starts a new walk); false once the walk is over budget.
pub(crate) fn visit(walk: Walk, depth: usize) -> bool {
    VISITS.with(|v| {
        let mut counts = v.get();
        let c = &mut counts[walk as usize];
        *c = if depth == 0 { 1 } else { c.saturating_add(1) };
        let ok = *c <= MAX_VISITS;
        v.set(counts);
        ok
    })
}

/// The largest range turned into a list (16 M elements, 512 MiB of values).
pub const MAX_MATERIALISED: usize = 16 << 20;

thread_local! {
    /// Bytes that printing or converting collections may still produce in this run: the
    /// run's remaining memory budget, kept up to date by `Interp::charge`.
    static WALK_ROOM: std::cell::Cell<u64> = const { std::cell::Cell::new(u64::MAX) };
    /// Bytes produced by such walks since the run last charged them.
    static WALK_USED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Sets how many bytes walks may produce before they stop; returns the previous setting.
pub(crate) fn set_walk_room(room: u64) -> u64 {
    WALK_ROOM.with(|r| r.replace(room))
}

/// The bytes walks produced since the last call: the run charges them to its budget.
pub(crate) fn take_walk_bytes() -> u64 {
    WALK_USED.with(|u| u.replace(0))
}

/// Counts `n` bytes a walk is about to produce; false once they are over the room left, and
/// the walk stops (the run then fails with its memory limit when it charges them).
pub(crate) fn spend_walk(n: usize) -> bool {
    let used = WALK_USED.with(|u| {
        let v = u.get().saturating_add(n as u64);
        u.set(v);
        v
    });
    used <= WALK_ROOM.with(|r| r.get())
}

/// The formatter's output, counted against the walk room: a list holding the same long string
/// many times cannot print into more memory than the run may use.
struct Counted<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl fmt::Write for Counted<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !spend_walk(s.len()) {
            return Err(fmt::Error);
        }
        self.0.write_str(s)
    }
}

struct Inner<'a>(&'a Value);

impl fmt::Display for Inner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_inner(f)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(self, Value::List(_) | Value::Map(_)) {
            let d = DISPLAY_DEPTH.with(|d| d.get());
            if d > MAX_NESTING || !visit(Walk::Display, d) {
                return f.write_str("[…]");
            }
            DISPLAY_DEPTH.with(|x| x.set(d + 1));
            let r = if d == 0 {
                use fmt::Write;
                let r = write!(Counted(f), "{}", Inner(self));
                // over the room: stop quietly (to_string must not panic); the run's next
                // charge finds the bytes over its budget and stops the script
                if r.is_err() && WALK_USED.with(|u| u.get()) > WALK_ROOM.with(|r| r.get()) {
                    Ok(())
                } else {
                    r
                }
            } else {
                self.fmt_inner(f)
            };
            DISPLAY_DEPTH.with(|x| x.set(d));
            return r;
        }
        self.fmt_inner(f)
    }
}

impl Value {
    fn fmt_inner(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Long(i) => write!(f, "{i}"),
            Value::BigInt(i) => write!(f, "{i}"),
            Value::Dec(d) => write!(f, "{d}"),
            Value::Double(d) => f.write_str(&fmt_double(*d)),
            Value::Str(s) => f.write_str(s),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.borrow().iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                let m = m.borrow();
                if m.is_empty() {
                    return f.write_str("[:]");
                }
                f.write_str("[")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}:{v}", k.to_value())?;
                }
                f.write_str("]")
            }
            Value::Range(r) => {
                if r.chars {
                    write!(f, "{}..{}", r.get(0), r.get(r.len() - 1))
                } else {
                    write!(f, "{}..{}", r.from, r.to)
                }
            }
            Value::Closure(_) => f.write_str("Script1$_run_closure1"),
            Value::Regex(r) => f.write_str(r.as_str()),
            Value::Matcher(_) => f.write_str("java.util.regex.Matcher"),
            Value::Entry(e) => write!(f, "{}={}", e.0, e.1),
            Value::Class(c) => write!(f, "class {}", crate::eval::qualified_name(c)),
            Value::Object(o) => {
                let fields = o.fields.borrow();
                if o.def.is_none()
                    && &*o.class == "JsonBuilder"
                    && let Some(c) = fields.get("content")
                {
                    return f.write_str(&crate::json::to_json_text(c));
                }
                if o.def.is_none()
                    && matches!(&*o.class, "RoundingMode" | "StringBuilder")
                    && let Some(n) = fields.get("name").or_else(|| fields.get("value"))
                {
                    return write!(f, "{n}");
                }
                if o.def.is_none() && fields.contains_key("message") {
                    match fields.get("message") {
                        Some(Value::Null) | None => f.write_str(&o.class),
                        Some(m) => write!(f, "{}: {m}", o.class),
                    }
                } else {
                    write!(f, "{}@1", o.class)
                }
            }
            Value::Host(h) => f.write_str(&h.display()),
            Value::Time(t) => write!(f, "{t}"),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Groovy's `==`: numbers by value across types, collections element-wise.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    equal_depth(a, b, 0)
}

fn equal_depth(a: &Value, b: &Value, depth: usize) -> bool {
    use Value::*;
    if depth > MAX_NESTING || !visit(Walk::Equal, depth) {
        return false;
    }
    match (a, b) {
        (Null, Null) => true,
        (Null, _) | (_, Null) => false,
        (Int(x), Int(y)) => x == y,
        (Str(x), Str(y)) => x == y,
        (Bool(x), Bool(y)) => x == y,
        _ if a.is_number() && b.is_number() => compare_numbers(a, b) == Some(Ordering::Equal),
        (List(x), List(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| equal_depth(p, q, depth + 1))
        }
        (List(_), Range(_)) | (Range(_), List(_)) | (Range(_), Range(_)) => {
            match (a.iter_items(), b.iter_items()) {
                (Some(x), Some(y)) => {
                    x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| values_equal(p, q))
                }
                _ => false,
            }
        }
        (Map(x), Map(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        (Entry(x), Entry(y)) => values_equal(&x.0, &y.0) && values_equal(&x.1, &y.1),
        (Class(x), Class(y)) => x == y,
        (Object(x), Object(y)) => Rc::ptr_eq(x, y),
        (Closure(x), Closure(y)) => Rc::ptr_eq(x, y),
        (Host(x), Host(y)) => {
            Rc::ptr_eq(x, y) || x.as_text().is_some_and(|t| y.as_text() == Some(t))
        }
        (Host(h), Str(s)) | (Str(s), Host(h)) => h.as_text() == Some(&**s),
        (Time(x), Time(y)) => x.equals(y),
        _ => false,
    }
}

/// Java's `equals`, which `contains`, `indexOf` and `in` on a list use: unlike `==`, numbers of
/// different classes differ (`[1].contains(1L)` is false) and so do `1.0` and `1.00`.
pub fn java_equals(a: &Value, b: &Value) -> bool {
    java_equals_depth(a, b, 0)
}

fn java_equals_depth(a: &Value, b: &Value, depth: usize) -> bool {
    use Value::*;
    if depth > MAX_NESTING || !visit(Walk::Equal, depth) {
        return false;
    }
    match (a, b) {
        (Int(x), Int(y)) => x == y,
        (Long(x), Long(y)) => x == y,
        (BigInt(x), BigInt(y)) => x == y,
        (Dec(x), Dec(y)) => x.m == y.m && x.s == y.s,
        (Double(x), Double(y)) => x == y,
        _ if a.is_number() || b.is_number() => false,
        (List(x), List(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| java_equals_depth(p, q, depth + 1))
        }
        (Map(x), Map(y)) => {
            if Rc::ptr_eq(x, y) {
                return true;
            }
            let (x, y) = (x.borrow(), y.borrow());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| java_equals_depth(v, w, depth + 1)))
        }
        _ => values_equal(a, b),
    }
}

/// `a === b`: the same object (value types compare by value, as Java's boxed caches do for
/// small numbers).
pub fn identical(a: &Value, b: &Value) -> bool {
    use Value::*;
    match (a, b) {
        (List(x), List(y)) => Rc::ptr_eq(x, y),
        (Map(x), Map(y)) => Rc::ptr_eq(x, y),
        (Range(x), Range(y)) => Rc::ptr_eq(x, y),
        _ => values_equal(a, b),
    }
}

pub fn compare_numbers(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Double(x), _) => x.partial_cmp(&to_f64(b)?),
        (_, Double(y)) => to_f64(a)?.partial_cmp(y),
        (Dec(_), _) | (_, Dec(_)) => Some(to_dec(a)?.cmp(to_dec(b)?)),
        _ => Some(to_i128(a)?.cmp(&to_i128(b)?)),
    }
}

pub fn to_f64(v: &Value) -> Option<f64> {
    Some(match v {
        Value::Int(i) => *i as f64,
        Value::Long(i) => *i as f64,
        Value::BigInt(i) => *i as f64,
        Value::Dec(d) => d.to_f64(),
        Value::Double(d) => *d,
        _ => return None,
    })
}

pub fn to_dec(v: &Value) -> Option<Dec> {
    Some(match v {
        Value::Int(i) => Dec::from_i64(*i as i64),
        Value::Long(i) => Dec::from_i64(*i),
        Value::BigInt(i) => Dec { m: *i, s: 0 },
        Value::Dec(d) => *d,
        Value::Double(d) => Dec::from_f64(*d)?,
        _ => return None,
    })
}

pub fn to_i128(v: &Value) -> Option<i128> {
    Some(match v {
        Value::Int(i) => *i as i128,
        Value::Long(i) => *i as i128,
        Value::BigInt(i) => *i,
        Value::Dec(d) => d.trunc(),
        Value::Double(d) if d.is_finite() => *d as i128,
        _ => return None,
    })
}

/// Ordering for `<`, `<=>` and sorting: numbers by value, strings by character, `null` first.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Null, Null) => Some(Ordering::Equal),
        (Null, _) => Some(Ordering::Less),
        (_, Null) => Some(Ordering::Greater),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Host(x), _) if x.as_text().is_some() => {
            compare(&Value::str(x.as_text().unwrap_or_default()), b)
        }
        (_, Host(y)) if y.as_text().is_some() => {
            compare(a, &Value::str(y.as_text().unwrap_or_default()))
        }
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        _ if a.is_number() && b.is_number() => compare_numbers(a, b),
        (Time(x), Time(y)) => x.compare(y),
        (Str(x), _) if b.is_number() && x.chars().count() == 1 => {
            let c = x.chars().next().map_or(0, |c| c as i128);
            Some(c.cmp(&to_i128(b)?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groovy_truth_follows_groovy() {
        let falsy = [
            Value::Null,
            Value::Int(0),
            Value::str(""),
            Value::list(vec![]),
            Value::map(MapData::default()),
            Value::Bool(false),
        ];
        assert!(falsy.iter().all(|v| !v.truthy()));
        assert!(
            Value::Dec(Dec::from_i64(1)).truthy()
                && Value::str("x").truthy()
                && Value::list(vec![Value::Null]).truthy()
        );
    }

    #[test]
    fn numbers_are_equal_across_types_and_keys_share_one_integer_space() {
        assert!(values_equal(
            &Value::Int(1),
            &Value::Dec(Dec { m: 10, s: 1 })
        ));
        assert!(values_equal(&Value::Long(3), &Value::Double(3.0)));
        assert_eq!(Value::Int(3).to_key(), Value::Long(3).to_key());
        assert!(!values_equal(&Value::str("1"), &Value::Int(1)));
    }

    #[test]
    fn display_matches_groovy_to_string() {
        let mut m = MapData::default();
        m.insert(
            Key::Str("a".into()),
            Value::list(vec![Value::Int(1), Value::str("x")]),
        );
        assert_eq!(Value::map(m).to_string(), "[a:[1, x]]");
        assert_eq!(Value::map(MapData::default()).to_string(), "[:]");
        assert_eq!(Value::Double(2.0).to_string(), "2.0");
    }

    #[test]
    fn deep_copy_copies_collections_but_not_strings() {
        let inner = Value::list(vec![Value::str("s")]);
        let outer = Value::list(vec![inner.clone()]);
        let copy = outer.deep_copy();
        if let (Value::List(a), Value::List(b)) = (&outer, &copy) {
            assert!(!Rc::ptr_eq(a, b));
        }
        assert!(values_equal(&outer, &copy));
    }
}
