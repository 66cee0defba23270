//! Conversions and type tests: `as` and casts, typed declarations, `instanceof`, and the
//! exception class hierarchy `catch` clauses match against.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

use indexmap::IndexMap;

use super::{Interp, R};
use crate::ast::TypeName;
use crate::diagnostic::Span;
use crate::num::Dec;
use crate::value::{Obj, Value, compare, to_dec, to_f64, to_i128, values_equal};

const KNOWN_CLASSES: &[&str] = &[
    "String",
    "Integer",
    "Long",
    "Double",
    "Float",
    "BigDecimal",
    "BigInteger",
    "Boolean",
    "Number",
    "Math",
    "List",
    "ArrayList",
    "Map",
    "HashMap",
    "LinkedHashMap",
    "Set",
    "HashSet",
    "LinkedHashSet",
    "Collection",
    "Object",
    "Closure",
    "Character",
    "Collections",
    "Arrays",
    "JsonOutput",
    "JsonSlurper",
    "Pattern",
    "System",
    "Iterable",
    "Exception",
    "RuntimeException",
    "Throwable",
    "StringBuilder",
    "GString",
    "Short",
    "Byte",
    "TreeMap",
    "Objects",
    "Class",
    "Runtime",
    "Thread",
    "ProcessBuilder",
    "File",
    "Files",
    "Paths",
    "URL",
    "Eval",
    "GroovyShell",
    "ClassLoader",
    "Socket",
    "RoundingMode",
    "Matcher",
    "DecimalFormat",
];

const RUNTIME: &[&str] = &[
    "NullPointerException",
    "IllegalStateException",
    "IllegalArgumentException",
    "ArithmeticException",
    "IndexOutOfBoundsException",
    "ArrayIndexOutOfBoundsException",
    "StringIndexOutOfBoundsException",
    "NumberFormatException",
    "ClassCastException",
    "GroovyCastException",
    "MissingPropertyException",
    "MissingMethodException",
    "GroovyRuntimeException",
    "UnsupportedOperationException",
    "NoSuchElementException",
    "ConcurrentModificationException",
    "PatternSyntaxException",
];

/// A class's Java name, as `String.name` and `println String` show it: `java.lang.String`.
/// Classes of the script and unknown ones keep their own name.
pub fn qualified_name(c: &str) -> String {
    let package = match c {
        "String"
        | "Integer"
        | "Long"
        | "Double"
        | "Float"
        | "Boolean"
        | "Number"
        | "Math"
        | "Character"
        | "Short"
        | "Byte"
        | "Object"
        | "StringBuilder"
        | "StringBuffer"
        | "System"
        | "Class"
        | "Comparable"
        | "CharSequence"
        | "Iterable"
        | "Exception"
        | "RuntimeException"
        | "Throwable"
        | "Error"
        | "Thread"
        | "Runtime"
        | "IllegalArgumentException"
        | "IllegalStateException"
        | "NullPointerException"
        | "NumberFormatException"
        | "ArithmeticException"
        | "IndexOutOfBoundsException"
        | "UnsupportedOperationException"
        | "ClassCastException" => "java.lang",
        "BigDecimal" | "BigInteger" | "RoundingMode" => "java.math",
        "List"
        | "ArrayList"
        | "LinkedList"
        | "Map"
        | "HashMap"
        | "LinkedHashMap"
        | "TreeMap"
        | "Set"
        | "HashSet"
        | "LinkedHashSet"
        | "TreeSet"
        | "Collection"
        | "Collections"
        | "Arrays"
        | "Objects"
        | "Date"
        | "TimeZone"
        | "NoSuchElementException" => "java.util",
        "Pattern" | "Matcher" | "PatternSyntaxException" => "java.util.regex",
        "Closure"
        | "IntRange"
        | "GString"
        | "Binding"
        | "MissingPropertyException"
        | "MissingMethodException"
        | "GroovyRuntimeException" => "groovy.lang",
        "JsonOutput" | "JsonSlurper" | "JsonBuilder" => "groovy.json",
        "Instant" | "LocalDate" | "LocalDateTime" | "ZonedDateTime" | "Duration" | "ZoneId"
        | "ZoneOffset" | "DayOfWeek" | "Month" => "java.time",
        "DateTimeFormatter" => "java.time.format",
        "ChronoUnit" => "java.time.temporal",
        "SimpleDateFormat" | "DecimalFormat" => "java.text",
        "LinkedHashMap$Entry" | "Entry" => return "java.util.Map$Entry".to_string(),
        _ => return c.to_string(),
    };
    format!("{package}.{c}")
}

pub fn is_known_class(name: &str) -> bool {
    KNOWN_CLASSES.contains(&name)
        || crate::stdlib::time::CLASSES.contains(&name)
        || is_exception_name(name)
}

pub fn is_exception_name(name: &str) -> bool {
    name.ends_with("Exception") || name.ends_with("Error") || name == "Throwable"
}

/// Whether an exception of class `thrown` is caught by `catch (Type e)`.
pub fn exception_matches(thrown: &str, catch_type: &str) -> bool {
    if thrown == catch_type || catch_type == "Throwable" {
        return true;
    }
    let is_error = thrown.ends_with("Error");
    match catch_type {
        "Exception" => !is_error,
        "Error" => is_error,
        "RuntimeException" => RUNTIME.contains(&thrown),
        "IllegalArgumentException" => {
            matches!(thrown, "NumberFormatException" | "PatternSyntaxException")
        }
        "IndexOutOfBoundsException" => thrown.ends_with("IndexOutOfBoundsException"),
        "GroovyRuntimeException" => matches!(
            thrown,
            "MissingPropertyException" | "MissingMethodException" | "GroovyCastException"
        ),
        "ClassCastException" => thrown == "GroovyCastException",
        _ => false,
    }
}

pub fn exception_object(class: &str, message: Value) -> Value {
    let mut fields = IndexMap::default();
    fields.insert(Rc::from("message"), message);
    fields.insert(Rc::from("cause"), Value::Null);
    Value::Object(Rc::new(Obj {
        class: Rc::from(class),
        def: None,
        fields: RefCell::new(fields),
    }))
}

/// The value a typed declaration without initialiser starts with.
pub fn default_of(t: &TypeName) -> Value {
    if t.array {
        return Value::Null;
    }
    match &*t.name {
        "int" | "short" | "byte" => Value::Int(0),
        "long" => Value::Long(0),
        "double" | "float" => Value::Double(0.0),
        "boolean" => Value::Bool(false),
        _ => Value::Null,
    }
}

/// Assignment to a typed variable or parameter converts like Groovy does.
pub fn coerce_declared(it: &mut Interp, v: Value, t: &TypeName, span: Span) -> R<Value> {
    let primitive = matches!(
        &*t.name,
        "int" | "long" | "double" | "float" | "short" | "byte" | "char" | "boolean"
    );
    if matches!(v, Value::Null) {
        if primitive && !t.array && &*t.name != "boolean" {
            return it.fail(
                "GroovyCastException",
                format!(
                    "Cannot cast object 'null' with class 'null' to class '{}'",
                    t.name
                ),
                span,
            );
        }
        return Ok(default_of(t));
    }
    let cannot = |it: &Interp, v: &Value| {
        it.fail(
            "GroovyCastException",
            format!(
                "Cannot cast object '{v}' with class '{}' to class '{}'",
                qualified_name(&v.type_name()),
                t.name
            ),
            span,
        )
    };
    match (&*t.name, &v) {
        // Groovy turns a one-character string into its character code: `Integer n = '5'` is 53
        ("int" | "Integer", Value::Str(s)) if !t.array => {
            let mut chars = s.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(Value::Int(c as i32)),
                _ => cannot(it, &v),
            };
        }
        (
            "long" | "Long" | "double" | "Double" | "float" | "Float" | "short" | "Short" | "byte"
            | "Byte" | "BigDecimal" | "BigInteger" | "List" | "ArrayList" | "Map" | "LinkedHashMap"
            | "HashMap" | "Set" | "HashSet" | "LinkedHashSet",
            Value::Str(_),
        ) if !t.array => {
            return cannot(it, &v);
        }
        ("Set" | "HashSet" | "LinkedHashSet" | "SortedSet" | "TreeSet", Value::List(_))
            if !t.array && !it.is_set(&v) =>
        {
            return cast(it, v, t, span);
        }
        _ => {}
    }
    match &*t.name {
        "String" if !t.array => match v {
            Value::Str(_) => Ok(v),
            other => Ok(Value::str(other.to_string())),
        },
        "int" | "Integer" | "long" | "Long" | "double" | "Double" | "float" | "Float" | "short"
        | "byte" | "BigDecimal"
            if !t.array && v.is_number() =>
        {
            cast(it, v, t, span)
        }
        "boolean" | "Boolean" if !t.array => Ok(Value::Bool(v.truthy())),
        _ if t.array => cast(it, v, t, span),
        _ => Ok(v),
    }
}

fn parse_int(it: &Interp, s: &str, span: Span) -> R<i128> {
    s.trim().parse::<i128>().map_err(|_| {
        it.throw(
            "NumberFormatException",
            format!("For input string: \"{s}\""),
            span,
        )
    })
}

/// `v as T` and `(T) v`.
pub fn cast(it: &mut Interp, v: Value, t: &TypeName, span: Span) -> R<Value> {
    if t.array {
        let items = match &v {
            Value::Null => return Ok(Value::Null),
            other => other.iter_items().unwrap_or_else(|| vec![other.clone()]),
        };
        let elem = TypeName {
            name: t.name.clone(),
            array: false,
        };
        let mut out = Vec::with_capacity(items.len());
        for x in items {
            out.push(cast(it, x, &elem, span)?);
        }
        return Ok(Value::list(out));
    }
    if matches!(v, Value::Null) {
        return match &*t.name {
            "boolean" => Ok(Value::Bool(false)),
            // a primitive cannot be null: `null as int` fails in Groovy
            "int" | "long" | "double" | "float" | "short" | "byte" | "char" => it.fail(
                "GroovyCastException",
                format!(
                    "Cannot cast object 'null' with class 'null' to class '{}'",
                    t.name
                ),
                span,
            ),
            _ => Ok(Value::Null),
        };
    }
    let fail = |it: &Interp, v: &Value| {
        it.fail(
            "GroovyCastException",
            format!("cannot cast {} to {}", v.describe(), t.name),
            span,
        )
    };
    match &*t.name {
        "String" | "CharSequence" | "GString" => Ok(Value::str(v.to_string())),
        "int" | "Integer" | "short" | "Short" | "byte" | "Byte" => match &v {
            Value::Str(s) => Ok(Value::Int(parse_int(it, s, span)? as i32)),
            n if n.is_number() => Ok(Value::Int(to_i128(n).unwrap_or(0) as i32)),
            Value::Bool(b) if &*t.name == "int" => Ok(Value::Int(*b as i32)),
            other => fail(it, other),
        },
        "long" | "Long" => match &v {
            Value::Str(s) => Ok(Value::Long(parse_int(it, s, span)? as i64)),
            n if n.is_number() => Ok(Value::Long(to_i128(n).unwrap_or(0) as i64)),
            other => fail(it, other),
        },
        "BigInteger" => match &v {
            Value::Str(s) => Ok(Value::BigInt(parse_int(it, s, span)?)),
            n if n.is_number() => Ok(Value::BigInt(to_i128(n).unwrap_or(0))),
            other => fail(it, other),
        },
        "double" | "Double" | "float" | "Float" => match &v {
            Value::Str(s) => s.trim().parse::<f64>().map(Value::Double).map_err(|_| {
                it.throw(
                    "NumberFormatException",
                    format!("For input string: \"{s}\""),
                    span,
                )
            }),
            n if n.is_number() => Ok(Value::Double(to_f64(n).unwrap_or(0.0))),
            other => fail(it, other),
        },
        "BigDecimal" | "Number" => match &v {
            Value::Str(s) => Dec::parse(s.trim()).map(Value::Dec).ok_or_else(|| {
                it.throw(
                    "NumberFormatException",
                    format!("Character array is missing \"exponent\" mark 'e' or 'E'. ({s})"),
                    span,
                )
            }),
            n if n.is_number() && &*t.name == "Number" => Ok(v.clone()),
            n if n.is_number() => to_dec(n).map(Value::Dec).map_or_else(|| fail(it, n), Ok),
            other => fail(it, other),
        },
        "boolean" | "Boolean" => Ok(Value::Bool(v.truthy())),
        "char" | "Character" => match &v {
            Value::Str(s) if s.chars().count() == 1 => Ok(v.clone()),
            n if n.is_number() => Ok(Value::str(
                char::from_u32(to_i128(n).unwrap_or(0) as u32)
                    .unwrap_or('?')
                    .to_string(),
            )),
            other => fail(it, other),
        },
        "List" | "ArrayList" | "Collection" | "Iterable" | "LinkedList" => match &v {
            // A set as a list is a new list (`s as List`).
            Value::List(l)
                if it.is_set(&v)
                    && t.name.as_ref() != "Collection"
                    && t.name.as_ref() != "Iterable" =>
            {
                let items = l.borrow().clone();
                it.charge(crate::limits::list_bytes(items.len()), span)?;
                Ok(Value::list(items))
            }
            Value::List(_) => Ok(v),
            other => match other.iter_items() {
                Some(items) if !matches!(other, Value::Str(_)) => Ok(Value::list(items)),
                _ => Ok(Value::list(vec![other.clone()])),
            },
        },
        "Set" | "HashSet" | "LinkedHashSet" | "TreeSet" | "SortedSet" => {
            let items = it.items(&v, span)?.unwrap_or_else(|| vec![v.clone()]);
            it.charge(crate::limits::list_bytes(items.len()), span)?;
            let mut out: Vec<Value> = Vec::new();
            for x in items {
                it.work(out.len(), span)?;
                if !out.iter().any(|y| values_equal(y, &x)) {
                    out.push(x);
                }
            }
            if t.name.starts_with("Tree") || t.name.starts_with("Sorted") {
                out.sort_by(|a, b| compare(a, b).unwrap_or(Ordering::Equal));
            }
            let set = Value::list(out);
            it.mark_set(&set);
            Ok(set)
        }
        "Map" | "HashMap" | "LinkedHashMap" => match &v {
            Value::Map(_) => Ok(v),
            other => fail(it, other),
        },
        "Object" | "def" | "var" => Ok(v),
        other => {
            if instance_of(it, &v, other) {
                Ok(v)
            } else if it.class_def(other).is_some() {
                fail(it, &v)
            } else {
                Ok(v)
            }
        }
    }
}

/// `v instanceof T` (and `case T:`), with Java's class hierarchy for the types scripts see.
pub fn instance_of(it: &Interp, v: &Value, t: &str) -> bool {
    let t = t.rsplit('.').next().unwrap_or(t);
    match v {
        Value::Null => false,
        Value::Bool(_) => matches!(t, "Boolean" | "Object"),
        Value::Int(_) => matches!(t, "Integer" | "Number" | "Object" | "Comparable" | "int"),
        Value::Long(_) => matches!(t, "Long" | "Number" | "Object" | "Comparable" | "long"),
        Value::BigInt(_) => matches!(t, "BigInteger" | "Number" | "Object" | "Comparable"),
        Value::Dec(_) => matches!(t, "BigDecimal" | "Number" | "Object" | "Comparable"),
        Value::Double(_) => matches!(t, "Double" | "Number" | "Object" | "Comparable" | "double"),
        Value::Str(_) => matches!(t, "String" | "CharSequence" | "Object" | "Comparable"),
        Value::List(_) if it.is_set(v) => matches!(
            t,
            "Set" | "HashSet" | "LinkedHashSet" | "Collection" | "Iterable" | "Object"
        ),
        Value::List(_) => matches!(
            t,
            "List" | "ArrayList" | "Collection" | "Iterable" | "Object"
        ),
        Value::Range(_) => matches!(
            t,
            "Range" | "IntRange" | "List" | "Collection" | "Iterable" | "Object"
        ),
        Value::Map(_) => matches!(t, "Map" | "LinkedHashMap" | "HashMap" | "Object"),
        Value::Closure(_) => matches!(t, "Closure" | "Object"),
        Value::Regex(_) => matches!(t, "Pattern" | "Object"),
        Value::Matcher(_) => matches!(t, "Matcher" | "Object"),
        Value::Entry(_) => matches!(t, "Entry" | "Object"),
        Value::Class(_) => matches!(t, "Class" | "Object"),
        Value::Object(o) => {
            t == "Object"
                || *o.class == *t
                || (o.def.is_none()
                    && is_exception_name(&o.class)
                    && exception_matches(&o.class, t))
                || it.class_def(&o.class).is_some_and(|_| false)
        }
        Value::Host(h) => t == "Object" || h.type_name() == t,
        Value::Time(x) => x.is_a(t),
    }
}
