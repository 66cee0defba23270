//! Methods of date and time values (`d.format(…)`, `ld.plusDays(1)`, `dur.toMinutes()`), the
//! writable properties, and `Date ± days`.

use super::*;

/// Methods of a time value; `None` when it has no such method.
pub(crate) fn call(
    it: &mut Interp,
    t: &Rc<Time>,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    let n = a.len();
    let int = |it: &Interp, i: usize| int_arg(it, a.get(i), span);
    // comparisons every temporal has
    match (name, n) {
        ("compareTo", 1) => {
            let o = time_arg(it, a.get(0), t.type_name(), span)?;
            return match t.compare(o) {
                Some(c) => Ok(Some(Value::Int(c as i32))),
                None => it.fail(
                    "ClassCastException",
                    format!(
                        "a {} cannot be compared with a {}",
                        t.type_name(),
                        o.type_name()
                    ),
                    span,
                ),
            };
        }
        ("isBefore" | "before" | "isAfter" | "after" | "isEqual", 1) => {
            let o = time_arg(it, a.get(0), t.type_name(), span)?;
            let Some(c) = t.compare(o) else {
                return it.fail(
                    "ClassCastException",
                    format!(
                        "a {} cannot be compared with a {}",
                        t.type_name(),
                        o.type_name()
                    ),
                    span,
                );
            };
            return Ok(Some(Value::Bool(match name {
                "isBefore" | "before" => c.is_lt(),
                "isAfter" | "after" => c.is_gt(),
                _ => c.is_eq(),
            })));
        }
        ("equals", 1) => {
            return Ok(Some(Value::Bool(
                matches!(a.get(0), Value::Time(o) if t.equals(o)),
            )));
        }
        ("toString", 0) => return Ok(Some(Value::str(t.to_string()))),
        _ => {}
    }
    Ok(Some(match &**t {
        Time::Date(c) => match (name, n) {
            ("getTime", 0) => long(c.get().as_millisecond()),
            ("setTime", 1) => {
                let ms = int(it, 0)?;
                match Timestamp::from_millisecond(ms) {
                    Ok(ts) => c.set(ts),
                    Err(_) => return out_of_range(it, "the date", span),
                }
                Value::Null
            }
            ("format", 1 | 2) => {
                let p = crate::stdlib::string::text(it, a.get(0), span)?;
                let zone = if n == 2 {
                    zone_arg(it, a.get(1), span)?
                } else {
                    it.zone()
                };
                format_simple(it, &p, zone, c.get(), span)?
            }
            ("hashCode", 0) => {
                let ms = c.get().as_millisecond();
                Value::Int((ms ^ ((ms as u64) >> 32) as i64) as i32)
            }
            ("toInstant", 0) => time(Time::Instant(c.get())),
            ("clone", 0) => date_value(c.get()),
            ("plus" | "minus" | "next" | "previous", _) => {
                let days = match (name, a.get(0)) {
                    ("next", _) => 1,
                    ("previous", _) => -1,
                    ("minus", Value::Time(o)) => {
                        let Time::Date(o) = &**o else {
                            return it.fail(
                                "IllegalArgumentException",
                                "a Date minus something else than a Date or a number of days",
                                span,
                            );
                        };
                        let zone = it.zone();
                        let (x, y) = (
                            c.get().to_zoned_datetime(zone.clone()).date(),
                            o.get().to_zoned_datetime(zone).date(),
                        );
                        return Ok(Some(Value::from_i64(y.duration_until(x).as_hours() / 24)));
                    }
                    (_, v) => {
                        let d = int_arg(it, v, span)?;
                        if name == "minus" { -d } else { d }
                    }
                };
                let zone = it.zone();
                match zoned_plus(&c.get().to_zoned_datetime(zone), days, ChronoUnit::Days) {
                    Some(z) => date_value(z.timestamp()),
                    None => return out_of_range(it, "the date", span),
                }
            }
            ("clearTime", 0) => {
                let zone = it.zone();
                match c.get().to_zoned_datetime(zone).start_of_day() {
                    Ok(z) => c.set(z.timestamp()),
                    Err(_) => return out_of_range(it, "the date", span),
                }
                Value::Time(t.clone())
            }
            _ => return Ok(None),
        },
        Time::Instant(ts) => match (name, n) {
            ("toEpochMilli", 0) => long(ts.as_millisecond()),
            ("getEpochSecond", 0) => long(ts.as_second()),
            ("getNano", 0) => Value::Int(ts.subsec_nanosecond()),
            ("atZone", 1) => time(Time::Zoned(ts.to_zoned_datetime(zone_arg(
                it,
                a.get(0),
                span,
            )?))),
            ("truncatedTo", 1) => {
                let u = unit_arg(it, a.get(0), span)?;
                let Some(d) = u.fixed().filter(|d| d.as_hours() <= 24) else {
                    return it.fail(
                        "UnsupportedTemporalTypeException",
                        "Unit is too large to be used for truncation",
                        span,
                    );
                };
                let ns = ts.as_nanosecond();
                match Timestamp::from_nanosecond(ns - ns.rem_euclid(d.as_nanos())) {
                    Ok(x) => time(Time::Instant(x)),
                    Err(_) => return out_of_range(it, "the instant", span),
                }
            }
            _ => match plus_minus(it, name, a, span)? {
                Some(Step::Fixed(d)) => match ts.checked_add(d) {
                    Ok(x) => time(Time::Instant(x)),
                    Err(_) => return out_of_range(it, "the instant", span),
                },
                Some(Step::Units(k, u)) => match timestamp_plus(*ts, k, u) {
                    Some(x) => time(Time::Instant(x)),
                    None => {
                        return it.fail(
                            "UnsupportedTemporalTypeException",
                            format!("Unsupported unit: {}", u.name()),
                            span,
                        );
                    }
                },
                None => return Ok(None),
            },
        },
        Time::LocalDate(d) => match (name, n) {
            ("atStartOfDay", 0) => {
                time(Time::LocalDateTime(d.to_datetime(civil::Time::midnight())))
            }
            ("atStartOfDay", 1) => match d.to_zoned_datetime(zone_arg(it, a.get(0), span)?) {
                Ok(z) => time(Time::Zoned(z)),
                Err(_) => return out_of_range(it, "the date", span),
            },
            ("atTime", 2 | 3) => {
                let f = [
                    i64::from(d.year()),
                    i64::from(d.month()),
                    i64::from(d.day()),
                    int(it, 0)?,
                    int(it, 1)?,
                    if n == 3 { int(it, 2)? } else { 0 },
                    0,
                ];
                match civil_datetime(&f) {
                    Some(dt) => time(Time::LocalDateTime(dt)),
                    None => return it.fail("DateTimeException", "Invalid time", span),
                }
            }
            ("toEpochDay", 0) => long(civil::date(1970, 1, 1).duration_until(*d).as_hours() / 24),
            ("lengthOfMonth", 0) => Value::Int(i32::from(d.days_in_month())),
            ("lengthOfYear", 0) => Value::Int(i32::from(d.days_in_year())),
            ("isLeapYear", 0) => Value::Bool(d.in_leap_year()),
            ("format", 1) => {
                let f = formatter_arg(it, a.get(0), span)?;
                format_with(it, &f, t, span)?
            }
            _ => {
                let dt = d.to_datetime(civil::Time::midnight());
                match fields_and_steps(it, &dt, name, a, span)? {
                    Some(FieldOr::Value(v)) => v,
                    Some(FieldOr::DateTime(x)) => time(Time::LocalDate(x.date())),
                    None => return Ok(None),
                }
            }
        },
        Time::LocalDateTime(dt) => match (name, n) {
            ("toLocalDate", 0) => time(Time::LocalDate(dt.date())),
            ("atZone", 1) => match dt.to_zoned_datetime(zone_arg(it, a.get(0), span)?) {
                Ok(z) => time(Time::Zoned(z)),
                Err(_) => return out_of_range(it, "the date", span),
            },
            ("format", 1) => {
                let f = formatter_arg(it, a.get(0), span)?;
                format_with(it, &f, t, span)?
            }
            _ => match fields_and_steps(it, dt, name, a, span)? {
                Some(FieldOr::Value(v)) => v,
                Some(FieldOr::DateTime(x)) => time(Time::LocalDateTime(x)),
                None => return Ok(None),
            },
        },
        Time::Zoned(z) => match (name, n) {
            ("toInstant", 0) => time(Time::Instant(z.timestamp())),
            ("toLocalDate", 0) => time(Time::LocalDate(z.date())),
            ("toLocalDateTime", 0) => time(Time::LocalDateTime(z.datetime())),
            ("toEpochSecond", 0) => long(z.timestamp().as_second()),
            ("getZone", 0) => time(Time::Zone(z.time_zone().clone(), false)),
            ("getOffset", 0) => time(Time::Zone(crate::time::offset_zone(z.offset()), false)),
            ("withZoneSameInstant", 1) => {
                time(Time::Zoned(z.with_time_zone(zone_arg(it, a.get(0), span)?)))
            }
            ("withZoneSameLocal", 1) => {
                match z
                    .datetime()
                    .to_zoned_datetime(zone_arg(it, a.get(0), span)?)
                {
                    Ok(x) => time(Time::Zoned(x)),
                    Err(_) => return out_of_range(it, "the date", span),
                }
            }
            ("format", 1) => {
                let f = formatter_arg(it, a.get(0), span)?;
                format_with(it, &f, t, span)?
            }
            _ => {
                if let Some(step) = plus_minus(it, name, a, span)? {
                    let r = match step {
                        Step::Fixed(d) => z.checked_add(d).ok(),
                        Step::Units(k, u) => zoned_plus(z, k, u),
                    };
                    return match r {
                        Some(x) => Ok(Some(time(Time::Zoned(x)))),
                        None => out_of_range(it, "the date", span),
                    };
                }
                match fields_and_steps(it, &z.datetime(), name, a, span)? {
                    Some(FieldOr::Value(v)) => v,
                    Some(FieldOr::DateTime(x)) => {
                        match x.to_zoned_datetime(z.time_zone().clone()) {
                            Ok(x) => time(Time::Zoned(x)),
                            Err(_) => return out_of_range(it, "the date", span),
                        }
                    }
                    None => return Ok(None),
                }
            }
        },
        Time::Duration(d) => {
            let secs = d.as_secs();
            match (name, n) {
                ("toDays", 0) => long(secs / 86400),
                ("toHours", 0) => long(secs / 3600),
                ("toMinutes", 0) => long(secs / 60),
                ("getSeconds" | "toSeconds", 0) => {
                    long(d.as_secs() - i64::from(d.subsec_nanos() < 0))
                }
                ("toMillis", 0) => long(d.as_millis() as i64),
                ("toNanos", 0) => long(d.as_nanos() as i64),
                ("getNano", 0) => Value::Int(d.subsec_nanos().rem_euclid(1_000_000_000)),
                ("toDaysPart", 0) => long(secs / 86400),
                ("toHoursPart", 0) => Value::Int((secs / 3600 % 24) as i32),
                ("toMinutesPart", 0) => Value::Int((secs / 60 % 60) as i32),
                ("toSecondsPart", 0) => Value::Int((secs % 60) as i32),
                ("isNegative", 0) => Value::Bool(d.is_negative()),
                ("isZero", 0) => Value::Bool(d.is_zero()),
                ("negated", 0) => time(Time::Duration(-*d)),
                ("abs", 0) => time(Time::Duration(d.abs())),
                ("multipliedBy", 1) => match i32::try_from(int(it, 0)?)
                    .ok()
                    .and_then(|k| d.checked_mul(k))
                {
                    Some(x) => time(Time::Duration(x)),
                    None => return out_of_range(it, "the duration", span),
                },
                ("dividedBy", 1) => {
                    let k = int(it, 0)?;
                    match i32::try_from(k)
                        .ok()
                        .filter(|k| *k != 0)
                        .and_then(|k| d.checked_div(k))
                    {
                        Some(x) => time(Time::Duration(x)),
                        None => {
                            return it.fail("ArithmeticException", "Cannot divide by zero", span);
                        }
                    }
                }
                _ => match plus_minus(it, name, a, span)? {
                    Some(Step::Fixed(x)) => match d.checked_add(x) {
                        Some(x) => time(Time::Duration(x)),
                        None => return out_of_range(it, "the duration", span),
                    },
                    Some(Step::Units(k, u)) => {
                        match u
                            .fixed()
                            .filter(|_| !matches!(u, ChronoUnit::Weeks))
                            .and_then(|x| x.checked_mul(i32::try_from(k).ok()?))
                            .and_then(|x| d.checked_add(x))
                        {
                            Some(x) => time(Time::Duration(x)),
                            None => {
                                return it.fail(
                                    "UnsupportedTemporalTypeException",
                                    format!(
                                        "Unit must not have an estimated duration: {}",
                                        u.name()
                                    ),
                                    span,
                                );
                            }
                        }
                    }
                    None => return Ok(None),
                },
            }
        }
        Time::Zone(z, java_util) => match (name, n) {
            ("getId" | "getID", 0) => Value::str(zone_id(z)),
            ("toZoneId", 0) => time(Time::Zone(z.clone(), false)),
            ("getRawOffset", 0) if *java_util => {
                let o = z.to_offset(Timestamp::UNIX_EPOCH);
                Value::Int(o.seconds() * 1000)
            }
            _ => return Ok(None),
        },
        Time::SimpleDateFormat(f) => match (name, n) {
            ("format", 1) => {
                let ts = match a.get(0) {
                    Value::Time(x) => x.timestamp(),
                    v if v.is_number() => Timestamp::from_millisecond(int(it, 0)?).ok(),
                    _ => None,
                };
                let Some(ts) = ts else {
                    return it.fail(
                        "IllegalArgumentException",
                        format!(
                            "Cannot format given Object as a Date: {}",
                            a.get(0).describe()
                        ),
                        span,
                    );
                };
                let zone = match f.zone.borrow().clone() {
                    Some(z) => z,
                    None => it.zone(),
                };
                format_simple(it, &f.pattern, zone, ts, span)?
            }
            ("parse", 1) => {
                let zone = match f.zone.borrow().clone() {
                    Some(z) => z,
                    None => it.zone(),
                };
                parse_simple(it, &f.pattern, &zone, a.get(0), span)?
            }
            ("setTimeZone", 1) => {
                let z = zone_arg(it, a.get(0), span)?;
                *f.zone.borrow_mut() = Some(z);
                Value::Null
            }
            ("getTimeZone", 0) => {
                let z = match f.zone.borrow().clone() {
                    Some(z) => z,
                    None => it.zone(),
                };
                time(Time::Zone(z, true))
            }
            ("toPattern", 0) => Value::str(f.pattern.as_str()),
            ("setLenient", 1) => Value::Null,
            _ => return Ok(None),
        },
        Time::Formatter(f) => match (name, n) {
            ("format", 1) => {
                let x = time_arg(it, a.get(0), "a date or time", span)?;
                format_with(it, f, x, span)?
            }
            ("withZone", 1) => time(Time::Formatter(Formatter {
                kind: f.kind.clone(),
                zone: Some(zone_arg(it, a.get(0), span)?),
            })),
            _ => return Ok(None),
        },
        Time::Unit(u) => match (name, n) {
            ("between", 2) => between(it, *u, a.get(0), a.get(1), span)?,
            ("name", 0) => Value::str(u.name()),
            ("getDuration", 0) => match u.fixed() {
                Some(d) => time(Time::Duration(d)),
                None => time(Time::Duration(SignedDuration::from_secs(
                    if *u == ChronoUnit::Months {
                        2_629_746
                    } else {
                        31_556_952
                    },
                ))),
            },
            _ => return Ok(None),
        },
        Time::DayOfWeek(w) => match (name, n) {
            ("getValue" | "ordinal", 0) => {
                Value::Int(i32::from(w.to_monday_one_offset()) - i32::from(name == "ordinal"))
            }
            ("name", 0) => Value::str(t.to_string()),
            ("plus" | "minus", 1) => {
                let k = int(it, 0)?.rem_euclid(7) as i8;
                let k = if name == "plus" { k } else { -k };
                time(Time::DayOfWeek(w.wrapping_add(k)))
            }
            ("getDisplayName", 2) => {
                let full = WEEKDAYS[w.to_monday_zero_offset() as usize];
                Value::str(if a.get(0).to_string().starts_with("FULL") {
                    full
                } else {
                    &full[..3]
                })
            }
            _ => return Ok(None),
        },
        Time::Month(m) => match (name, n) {
            ("getValue" | "ordinal", 0) => Value::Int(i32::from(*m) - i32::from(name == "ordinal")),
            ("name", 0) => Value::str(t.to_string()),
            ("plus" | "minus", 1) => {
                let k = int(it, 0)?.rem_euclid(12);
                let k = if name == "plus" { k } else { 12 - k };
                time(Time::Month(((i64::from(*m) - 1 + k) % 12 + 1) as i8))
            }
            ("length", 1) => Value::Int(match m {
                2 => {
                    if a.get(0).truthy() {
                        29
                    } else {
                        28
                    }
                }
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            }),
            ("getDisplayName", 2) => {
                let full = MONTHS[*m as usize - 1];
                Value::str(if a.get(0).to_string().starts_with("FULL") {
                    full
                } else {
                    &full[..3]
                })
            }
            _ => return Ok(None),
        },
    }))
}

/// A `plus`/`minus` call: by a fixed duration, or by a count of units.
enum Step {
    Fixed(SignedDuration),
    Units(i64, ChronoUnit),
}

fn plus_minus(it: &mut Interp, name: &str, a: &Args, span: Span) -> R<Option<Step>> {
    let sign = |plus: bool, v: i64| if plus { Some(v) } else { v.checked_neg() };
    if let Some((plus, unit)) = unit_of_method(name) {
        if a.len() != 1 {
            return Ok(None);
        }
        let k = int_arg(it, a.get(0), span)?;
        return Ok(sign(plus, k).map(|k| Step::Units(k, unit)));
    }
    let plus = match name {
        "plus" => true,
        "minus" => false,
        _ => return Ok(None),
    };
    Ok(match a.len() {
        1 => {
            let d = duration_arg(it, a.get(0), span)?;
            Some(Step::Fixed(if plus { d } else { -d }))
        }
        2 => {
            let k = int_arg(it, a.get(0), span)?;
            let u = unit_arg(it, a.get(1), span)?;
            sign(plus, k).map(|k| Step::Units(k, u))
        }
        _ => None,
    })
}

enum FieldOr {
    Value(Value),
    DateTime(civil::DateTime),
}

/// The getters, `withX`, `plusX`/`minusX` and `truncatedTo` of local dates and date-times.
fn fields_and_steps(
    it: &mut Interp,
    dt: &civil::DateTime,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<FieldOr>> {
    let n = a.len();
    let v = |x: i64| Some(FieldOr::Value(Value::from_i64(x)));
    Ok(match (name, n) {
        ("getYear", 0) => v(i64::from(dt.year())),
        ("getMonthValue", 0) => v(i64::from(dt.month())),
        ("getMonth", 0) => Some(FieldOr::Value(time(Time::Month(dt.month())))),
        ("getDayOfMonth", 0) => v(i64::from(dt.day())),
        ("getDayOfYear", 0) => v(i64::from(dt.day_of_year())),
        ("getDayOfWeek", 0) => Some(FieldOr::Value(time(Time::DayOfWeek(dt.weekday())))),
        ("getHour", 0) => v(i64::from(dt.hour())),
        ("getMinute", 0) => v(i64::from(dt.minute())),
        ("getSecond", 0) => v(i64::from(dt.second())),
        ("getNano", 0) => v(i64::from(dt.subsec_nanosecond())),
        ("lengthOfMonth", 0) => v(i64::from(dt.days_in_month())),
        ("isLeapYear", 0) => Some(FieldOr::Value(Value::Bool(dt.in_leap_year()))),
        (
            "withYear" | "withMonth" | "withDayOfMonth" | "withDayOfYear" | "withHour"
            | "withMinute" | "withSecond" | "withNano",
            1,
        ) => {
            let x = int_arg(it, a.get(0), span)?;
            let r = (|| {
                let w = dt.with();
                let w = match name {
                    "withYear" => w.year(i16::try_from(x).ok()?),
                    "withMonth" => w.month(i8::try_from(x).ok()?),
                    "withDayOfMonth" => w.day(i8::try_from(x).ok()?),
                    "withDayOfYear" => w.day_of_year(i16::try_from(x).ok()?),
                    "withHour" => w.hour(i8::try_from(x).ok()?),
                    "withMinute" => w.minute(i8::try_from(x).ok()?),
                    "withSecond" => w.second(i8::try_from(x).ok()?),
                    _ => w.subsec_nanosecond(i32::try_from(x).ok()?),
                };
                // Java keeps the day in range when the month or year changes (Jan 31 → Feb 29)
                match name {
                    "withYear" | "withMonth" => {
                        let first = w.day(1).build().ok()?;
                        let day = dt.day().min(first.days_in_month());
                        first.with().day(day).build().ok()
                    }
                    _ => w.build().ok(),
                }
            })();
            match r {
                Some(x) => Some(FieldOr::DateTime(x)),
                None => {
                    return it.fail(
                        "DateTimeException",
                        format!("Invalid value for {}: {x}", &name[4..]),
                        span,
                    );
                }
            }
        }
        ("truncatedTo", 1) => {
            let u = unit_arg(it, a.get(0), span)?;
            let Some(d) = u.fixed().filter(|d| d.as_hours() <= 24) else {
                return it.fail(
                    "UnsupportedTemporalTypeException",
                    "Unit is too large to be used for truncation",
                    span,
                );
            };
            let t = dt.time();
            let ns = i64::from(t.hour()) * 3_600_000_000_000
                + i64::from(t.minute()) * 60_000_000_000
                + i64::from(t.second()) * 1_000_000_000
                + i64::from(t.subsec_nanosecond());
            let keep = ns - ns.rem_euclid(d.as_nanos() as i64);
            let midnight = dt.date().to_datetime(civil::Time::midnight());
            midnight
                .checked_add(SignedDuration::from_nanos(keep))
                .ok()
                .map(FieldOr::DateTime)
        }
        _ => match plus_minus(it, name, a, span)? {
            Some(Step::Fixed(d)) => match dt.checked_add(d) {
                Ok(x) => Some(FieldOr::DateTime(x)),
                Err(_) => return out_of_range(it, "the date", span),
            },
            Some(Step::Units(k, u)) => match datetime_plus(*dt, k, u) {
                Some(x) => Some(FieldOr::DateTime(x)),
                None => return out_of_range(it, "the date", span),
            },
            None => None,
        },
    })
}

/// `Date ± days` and `Date - Date` (whole days), as Groovy's date extensions define them.
pub(crate) fn date_arithmetic(
    it: &mut Interp,
    t: &Rc<Time>,
    plus: bool,
    b: &Value,
    span: Span,
) -> R<Option<Value>> {
    if !matches!(&**t, Time::Date(_)) {
        return Ok(None);
    }
    if !(b.is_number() || matches!(b, Value::Time(_))) {
        return Ok(None);
    }
    let v = [b.clone()];
    call(
        it,
        t,
        if plus { "plus" } else { "minus" },
        &Args::new(&v),
        span,
    )
}

/// Whether a time value answers `get<Name>`/`is<Name>` (for property reads such as `d.time`).
pub(crate) fn has_getter(t: &Time, getter: &str) -> bool {
    let common = matches!(getter, "getClass");
    common
        || match t {
            Time::Date(_) => matches!(getter, "getTime"),
            Time::Instant(_) => matches!(getter, "getEpochSecond" | "getNano"),
            Time::LocalDate(_) | Time::LocalDateTime(_) | Time::Zoned(_) => {
                matches!(
                    getter,
                    "getYear"
                        | "getMonthValue"
                        | "getMonth"
                        | "getDayOfMonth"
                        | "getDayOfYear"
                        | "getDayOfWeek"
                        | "isLeapYear"
                ) || (!matches!(t, Time::LocalDate(_))
                    && matches!(getter, "getHour" | "getMinute" | "getSecond" | "getNano"))
                    || (matches!(t, Time::Zoned(_)) && matches!(getter, "getZone" | "getOffset"))
            }
            Time::Duration(_) => {
                matches!(getter, "getSeconds" | "getNano" | "isNegative" | "isZero")
            }
            Time::Zone(..) => matches!(getter, "getId" | "getID" | "getRawOffset"),
            Time::SimpleDateFormat(_) => matches!(getter, "getTimeZone"),
            Time::Unit(_) => matches!(getter, "getDuration"),
            Time::DayOfWeek(_) | Time::Month(_) => matches!(getter, "getValue"),
            Time::Formatter(_) => false,
        }
}

/// `sdf.timeZone = …`: the one writable property.
pub(crate) fn set_property(it: &mut Interp, t: &Time, name: &str, v: Value, span: Span) -> R<bool> {
    match (t, name) {
        (Time::SimpleDateFormat(f), "timeZone") => {
            let z = zone_arg(it, &v, span)?;
            *f.zone.borrow_mut() = Some(z);
            Ok(true)
        }
        (Time::Date(c), "time") => {
            let ms = int_arg(it, &v, span)?;
            match Timestamp::from_millisecond(ms) {
                Ok(ts) => c.set(ts),
                Err(_) => return out_of_range(it, "the date", span),
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}
