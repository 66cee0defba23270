//! The date and time library: `new Date()`, `Date.format`/`Date.parse`, `SimpleDateFormat`,
//! `TimeZone` and the `java.time` basics, on the values of [`crate::time`]. The current time
//! is the host's clock ([`crate::Limits::clock`]); without one, asking for it is an error that
//! says so.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use jiff::civil;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, ToSpan, ZonedDateTime};

use super::{Args, int_arg};
use crate::diagnostic::Span;
use crate::eval::{Interp, R};
use crate::time::pattern::{self, Flavor};
use crate::time::{
    ChronoUnit, Formatter, FormatterKind, ISO_FORMATTERS, MONTHS, SimpleFormat, Time, WEEKDAYS,
    zone_id, zone_named,
};
use crate::value::Value;

/// The classes this module answers for.
pub(crate) const CLASSES: &[&str] = &[
    "Date",
    "TimeZone",
    "SimpleDateFormat",
    "Instant",
    "LocalDate",
    "LocalDateTime",
    "ZonedDateTime",
    "Duration",
    "ZoneId",
    "ZoneOffset",
    "DateTimeFormatter",
    "ChronoUnit",
    "DayOfWeek",
    "Month",
];

fn time(t: Time) -> Value {
    Value::Time(Rc::new(t))
}

fn long(v: i64) -> Value {
    Value::Long(v)
}

fn out_of_range<T>(it: &Interp, what: &str, span: Span) -> R<T> {
    it.fail(
        "DateTimeException",
        format!("{what} is out of the range of dates"),
        span,
    )
}

impl Interp<'_> {
    /// The host's clock, or an error saying the host supplied none.
    pub(crate) fn now(&mut self, span: Span) -> R<Timestamp> {
        let Some(clock) = self.budget.limits.clock.clone() else {
            return self.fail(
                "UnsupportedOperationException",
                "this run has no clock: the host running the script did not supply one, so the current time is unknown (dates from fixed values, such as new Date(0) or LocalDate.of(2024, 1, 31), work)",
                span,
            );
        };
        self.zone();
        Ok(clock.now())
    }

    /// The zone used where a script names none (the clock's), made the default for printing.
    pub(crate) fn zone(&mut self) -> TimeZone {
        if let Some(z) = &self.time_zone {
            return z.clone();
        }
        let z = self
            .budget
            .limits
            .clock
            .as_ref()
            .map_or(TimeZone::UTC, |c| c.time_zone());
        crate::time::set_default_zone(z.clone());
        self.time_zone = Some(z.clone());
        z
    }
}

fn zone_arg(it: &mut Interp, v: &Value, span: Span) -> R<TimeZone> {
    match v {
        Value::Time(t) => match &**t {
            Time::Zone(z, _) => Ok(z.clone()),
            _ => it.fail(
                "IllegalArgumentException",
                format!("expected a time zone but got a {}", t.type_name()),
                span,
            ),
        },
        Value::Str(s) => match zone_named(s) {
            Some(z) => Ok(z),
            None => it.fail(
                "ZoneRulesException",
                format!("Unknown time-zone ID: {s}"),
                span,
            ),
        },
        Value::Null => Ok(it.zone()),
        other => it.fail(
            "IllegalArgumentException",
            format!("expected a time zone but got {}", other.describe()),
            span,
        ),
    }
}

fn unit_arg(it: &Interp, v: &Value, span: Span) -> R<ChronoUnit> {
    match v {
        Value::Time(t) => match &**t {
            Time::Unit(u) => Ok(*u),
            _ => it.fail(
                "IllegalArgumentException",
                "expected a ChronoUnit such as ChronoUnit.DAYS",
                span,
            ),
        },
        _ => it.fail(
            "IllegalArgumentException",
            format!(
                "expected a ChronoUnit such as ChronoUnit.DAYS but got {}",
                v.describe()
            ),
            span,
        ),
    }
}

fn duration_arg(it: &Interp, v: &Value, span: Span) -> R<SignedDuration> {
    match v {
        Value::Time(t) => match &**t {
            Time::Duration(d) => Ok(*d),
            _ => it.fail("IllegalArgumentException", "expected a Duration", span),
        },
        _ => it.fail(
            "IllegalArgumentException",
            format!("expected a Duration but got {}", v.describe()),
            span,
        ),
    }
}

fn time_arg<'a>(it: &Interp, v: &'a Value, what: &str, span: Span) -> R<&'a Time> {
    match v {
        Value::Time(t) => Ok(t),
        _ => it.fail(
            "IllegalArgumentException",
            format!("expected {what} but got {}", v.describe()),
            span,
        ),
    }
}

fn formatter_arg(it: &Interp, v: &Value, span: Span) -> R<Formatter> {
    match v {
        Value::Time(t) => match &**t {
            Time::Formatter(f) => Ok(f.clone()),
            _ => it.fail(
                "IllegalArgumentException",
                "expected a DateTimeFormatter",
                span,
            ),
        },
        _ => it.fail(
            "IllegalArgumentException",
            format!("expected a DateTimeFormatter but got {}", v.describe()),
            span,
        ),
    }
}

/// Adds `n` of `unit` to a zoned time (calendar units follow the zone's calendar).
fn zoned_plus(z: &ZonedDateTime, n: i64, unit: ChronoUnit) -> Option<ZonedDateTime> {
    match unit {
        ChronoUnit::Days => z.checked_add(n.days()).ok(),
        ChronoUnit::Weeks => z.checked_add(n.weeks()).ok(),
        ChronoUnit::Months => z.checked_add(n.months()).ok(),
        ChronoUnit::Years => z.checked_add(n.years()).ok(),
        u => z
            .checked_add(u.fixed()?.checked_mul(i32::try_from(n).ok()?)?)
            .ok(),
    }
}

fn datetime_plus(dt: civil::DateTime, n: i64, unit: ChronoUnit) -> Option<civil::DateTime> {
    match unit {
        ChronoUnit::Days => dt.checked_add(n.days()).ok(),
        ChronoUnit::Weeks => dt.checked_add(n.weeks()).ok(),
        ChronoUnit::Months => dt.checked_add(n.months()).ok(),
        ChronoUnit::Years => dt.checked_add(n.years()).ok(),
        u => dt
            .checked_add(u.fixed()?.checked_mul(i32::try_from(n).ok()?)?)
            .ok(),
    }
}

fn timestamp_plus(ts: Timestamp, n: i64, unit: ChronoUnit) -> Option<Timestamp> {
    let d = unit.fixed()?.checked_mul(i32::try_from(n).ok()?)?;
    ts.checked_add(d).ok()
}

/// The unit a `plusDays`-style method name adds.
fn unit_of_method(name: &str) -> Option<(bool, ChronoUnit)> {
    let (plus, rest) = if let Some(r) = name.strip_prefix("plus") {
        (true, r)
    } else {
        (false, name.strip_prefix("minus")?)
    };
    let unit = match rest {
        "Nanos" => ChronoUnit::Nanos,
        "Millis" => ChronoUnit::Millis,
        "Seconds" => ChronoUnit::Seconds,
        "Minutes" => ChronoUnit::Minutes,
        "Hours" => ChronoUnit::Hours,
        "Days" => ChronoUnit::Days,
        "Weeks" => ChronoUnit::Weeks,
        "Months" => ChronoUnit::Months,
        "Years" => ChronoUnit::Years,
        _ => return None,
    };
    Some((plus, unit))
}

/// `ChronoUnit.X.between(a, b)`: whole units from `a` to `b`.
fn between(it: &mut Interp, unit: ChronoUnit, a: &Value, b: &Value, span: Span) -> R<Value> {
    let (x, y) = (
        time_arg(it, a, "a date or time", span)?,
        time_arg(it, b, "a date or time", span)?,
    );
    let calendar = |d1: civil::DateTime, d2: civil::DateTime| -> Option<i64> {
        let months = |a: civil::DateTime, b: civil::DateTime| {
            let mut m = (i64::from(b.year()) - i64::from(a.year())) * 12 + i64::from(b.month())
                - i64::from(a.month());
            // a month is only complete once the day and time have come round again
            let (ad, bd) = ((a.day(), a.time()), (b.day(), b.time()));
            if m > 0 && bd < ad {
                m -= 1;
            } else if m < 0 && bd > ad {
                m += 1;
            }
            m
        };
        match unit {
            ChronoUnit::Months => Some(months(d1, d2)),
            ChronoUnit::Years => Some(months(d1, d2) / 12),
            _ => {
                let d = d1.duration_until(d2);
                Some(d.as_nanos().checked_div(unit.fixed()?.as_nanos())? as i64)
            }
        }
    };
    let n = match (x, y) {
        (Time::LocalDate(p), Time::LocalDate(q)) => calendar(
            p.to_datetime(civil::Time::midnight()),
            q.to_datetime(civil::Time::midnight()),
        ),
        (Time::LocalDateTime(p), Time::LocalDateTime(q)) => calendar(*p, *q),
        (Time::Zoned(p), Time::Zoned(q)) => {
            let q = q.with_time_zone(p.time_zone().clone());
            calendar(p.datetime(), q.datetime())
        }
        _ => match (x.timestamp(), y.timestamp(), unit.fixed()) {
            (Some(p), Some(q), Some(u)) => {
                Some((p.duration_until(q).as_nanos() / u.as_nanos()) as i64)
            }
            _ => None,
        },
    };
    match n {
        Some(n) => Ok(long(n)),
        None => it.fail(
            "UnsupportedTemporalTypeException",
            format!(
                "cannot count {} between a {} and a {}",
                unit.name(),
                x.type_name(),
                y.type_name()
            ),
            span,
        ),
    }
}

/// `Duration.between(a, b)`.
fn duration_between(it: &Interp, a: &Value, b: &Value, span: Span) -> R<Value> {
    let (x, y) = (
        time_arg(it, a, "a time", span)?,
        time_arg(it, b, "a time", span)?,
    );
    let d = match (x, y) {
        (Time::LocalDateTime(p), Time::LocalDateTime(q)) => p.duration_until(*q),
        _ => match (x.timestamp(), y.timestamp()) {
            (Some(p), Some(q)) => p.duration_until(q),
            _ => {
                return it.fail(
                    "UnsupportedTemporalTypeException",
                    format!(
                        "Duration.between needs two instants or date-times, not a {} and a {}",
                        x.type_name(),
                        y.type_name()
                    ),
                    span,
                );
            }
        },
    };
    Ok(time(Time::Duration(d)))
}

/// Formats a temporal by a `DateTimeFormatter`.
fn format_with(it: &mut Interp, f: &Formatter, t: &Time, span: Span) -> R<Value> {
    let zoned = match (t, &f.zone) {
        (Time::Zoned(z), _) => Some(z.clone()),
        (Time::Instant(ts), Some(z)) => Some(ts.to_zoned_datetime(z.clone())),
        (Time::LocalDateTime(dt), _) => dt.to_zoned_datetime(TimeZone::UTC).ok(),
        (Time::LocalDate(d), _) => d
            .to_datetime(civil::Time::midnight())
            .to_zoned_datetime(TimeZone::UTC)
            .ok(),
        _ => None,
    };
    let Some(z) = zoned else {
        return it.fail(
            "UnsupportedTemporalTypeException",
            format!(
                "a DateTimeFormatter cannot format a {} (an Instant needs withZone)",
                t.type_name()
            ),
            span,
        );
    };
    let has_time = !matches!(t, Time::LocalDate(_));
    let has_zone = matches!(t, Time::Zoned(_) | Time::Instant(_));
    let text = match &f.kind {
        FormatterKind::Pattern(p) => {
            if !has_zone
                && p.chars()
                    .any(|c| matches!(c, 'z' | 'Z' | 'X' | 'x' | 'V' | 'O'))
            {
                return it.fail(
                    "UnsupportedTemporalTypeException",
                    format!(
                        "the pattern \"{p}\" prints a zone, which a {} does not have",
                        t.type_name()
                    ),
                    span,
                );
            }
            match pattern::format(p, Flavor::DateTime, &z) {
                Ok(s) => s,
                Err(e) => return it.fail("IllegalArgumentException", e, span),
            }
        }
        FormatterKind::IsoLocalDate | FormatterKind::IsoDate => {
            crate::time::local_date_string(z.date())
        }
        FormatterKind::IsoLocalTime if has_time => {
            let s = crate::time::local_date_time_string(z.datetime());
            s.split_once('T').map_or(s.clone(), |(_, t)| t.to_string())
        }
        FormatterKind::IsoLocalDateTime if has_time => {
            crate::time::local_date_time_string(z.datetime())
        }
        FormatterKind::IsoOffsetDateTime if has_zone => {
            let mut s = crate::time::local_date_time_string(z.datetime());
            if z.second() == 0 && z.subsec_nanosecond() == 0 {
                s.push_str(":00");
            }
            s + &crate::time::offset_id(z.offset())
        }
        FormatterKind::IsoZonedDateTime | FormatterKind::IsoDateTime if has_zone => {
            let mut s = crate::time::local_date_time_string(z.datetime());
            if z.second() == 0 && z.subsec_nanosecond() == 0 {
                s.push_str(":00");
            }
            s.push_str(&crate::time::offset_id(z.offset()));
            if let Some(n) = z.time_zone().iana_name() {
                s.push_str(&format!("[{n}]"));
            }
            s
        }
        FormatterKind::IsoInstant if has_zone => crate::time::instant_string(z.timestamp()),
        _ => {
            return it.fail(
                "UnsupportedTemporalTypeException",
                format!("this ISO formatter cannot format a {}", t.type_name()),
                span,
            );
        }
    };
    it.charge(text.len(), span)?;
    Ok(Value::str(text))
}

/// `X.parse(text[, formatter])` for the `java.time` types.
fn parse_temporal(it: &mut Interp, class: &str, a: &Args, span: Span) -> R<Value> {
    let text = super::string::text(it, a.get(0), span)?;
    let fail = |it: &Interp| -> R<Value> {
        it.fail(
            "DateTimeParseException",
            format!("Text '{text}' could not be parsed as a {class}"),
            span,
        )
    };
    if a.len() > 1 {
        let f = formatter_arg(it, a.get(1), span)?;
        let FormatterKind::Pattern(p) = &f.kind else {
            return parse_temporal(it, class, &Args::new(&a.v[..1]), span);
        };
        let parsed = match pattern::parse(p, Flavor::DateTime, &text) {
            Ok(Some(x)) => x,
            Ok(None) => return fail(it),
            Err(e) => return it.fail("IllegalArgumentException", e, span),
        };
        let zone = f.zone.clone().unwrap_or(TimeZone::UTC);
        let v = match class {
            "LocalDate" => parsed.date().map(Time::LocalDate),
            "LocalDateTime" => parsed.datetime().map(Time::LocalDateTime),
            "ZonedDateTime" => parsed.zoned(&zone).map(Time::Zoned),
            _ => parsed.zoned(&zone).map(|z| Time::Instant(z.timestamp())),
        };
        return match v {
            Some(t) => Ok(time(t)),
            None => fail(it),
        };
    }
    let v = match class {
        "LocalDate" => text.parse::<civil::Date>().ok().map(Time::LocalDate),
        "LocalDateTime" => text
            .parse::<civil::DateTime>()
            .ok()
            .filter(|_| text.contains('T'))
            .map(Time::LocalDateTime),
        "Instant" => text
            .parse::<Timestamp>()
            .ok()
            .filter(|_| text.ends_with(['Z', 'z']))
            .map(Time::Instant),
        _ => match text.parse::<ZonedDateTime>() {
            Ok(z) if text.contains('[') => Some(Time::Zoned(z)),
            // an offset without a zone name: the offset is the zone
            _ => text.parse::<Timestamp>().ok().and_then(|ts| {
                let end = text.rfind(['+', '-', 'Z', 'z'])?;
                let off = &text[end..];
                let o = if off.eq_ignore_ascii_case("z") {
                    Offset::UTC
                } else {
                    crate::time::parse_offset(off)?
                };
                Some(Time::Zoned(
                    ts.to_zoned_datetime(crate::time::offset_zone(o)),
                ))
            }),
        },
    };
    match v {
        Some(t) => Ok(time(t)),
        None => fail(it),
    }
}

fn date_value(ts: Timestamp) -> Value {
    time(Time::Date(Cell::new(ts)))
}

fn millis_date(it: &Interp, ms: i64, span: Span) -> R<Value> {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => Ok(date_value(ts)),
        Err(_) => out_of_range(it, "the date", span),
    }
}

/// `new Date(…)`, `new SimpleDateFormat(…)`; `None` when `class` is not a time class.
pub(crate) fn construct(
    it: &mut Interp,
    class: &str,
    args: &[Value],
    span: Span,
) -> R<Option<Value>> {
    let a = Args::new(args);
    Ok(Some(match (class, a.len()) {
        ("Date", 0) => date_value(it.now(span)?),
        ("Date", 1) if a.get(0).is_number() => {
            let ms = int_arg(it, a.get(0), span)?;
            millis_date(it, ms, span)?
        }
        ("Date", _) => {
            return it.fail(
                "IllegalArgumentException",
                "new Date(…) takes nothing (now) or milliseconds since 1970; to read a date from text use Date.parse(pattern, text) or new SimpleDateFormat(pattern).parse(text)",
                span,
            );
        }
        ("SimpleDateFormat", 0) => simple_format("M/d/yy, h:mm a".to_string()),
        ("SimpleDateFormat", _) => {
            let p = super::string::text(it, a.get(0), span)?;
            simple_format(p.to_string())
        }
        _ => return Ok(None),
    }))
}

fn simple_format(pattern: String) -> Value {
    time(Time::SimpleDateFormat(SimpleFormat {
        pattern,
        zone: RefCell::new(None),
    }))
}

/// Static properties: `Duration.ZERO`, `ChronoUnit.DAYS`, `DayOfWeek.MONDAY`,
/// `DateTimeFormatter.ISO_LOCAL_DATE`, `ZoneOffset.UTC`, `TimeZone.default`.
pub(crate) fn class_property(it: &mut Interp, class: &str, name: &str) -> Option<Value> {
    Some(match (class, name) {
        ("Duration", "ZERO") => time(Time::Duration(SignedDuration::ZERO)),
        ("Instant", "EPOCH") => time(Time::Instant(Timestamp::UNIX_EPOCH)),
        ("ZoneOffset", "UTC") => time(Time::Zone(crate::time::offset_zone(Offset::UTC), false)),
        ("TimeZone", "default") => time(Time::Zone(it.zone(), true)),
        ("ChronoUnit", n) => {
            let (_, u) = ChronoUnit::ALL.iter().find(|(x, _)| *x == n)?;
            time(Time::Unit(*u))
        }
        ("DayOfWeek", n) => {
            let i = WEEKDAYS.iter().position(|w| {
                w.eq_ignore_ascii_case(n) && n.chars().all(|c| c.is_ascii_uppercase())
            })?;
            time(Time::DayOfWeek(
                civil::Weekday::from_monday_zero_offset(i as i8).ok()?,
            ))
        }
        ("Month", n) => {
            let i = MONTHS.iter().position(|m| {
                m.eq_ignore_ascii_case(n) && n.chars().all(|c| c.is_ascii_uppercase())
            })?;
            time(Time::Month(i as i8 + 1))
        }
        ("DateTimeFormatter", n) => {
            let (_, k) = ISO_FORMATTERS.iter().find(|(x, _)| *x == n)?;
            time(Time::Formatter(Formatter {
                kind: k.clone(),
                zone: None,
            }))
        }
        _ => return None,
    })
}

/// Static methods of the time classes and `System.currentTimeMillis()`; `None` when `class`
/// has no such method here.
pub(crate) fn call_static(
    it: &mut Interp,
    class: &str,
    name: &str,
    a: &Args,
    span: Span,
) -> R<Option<Value>> {
    let n = a.len();
    let int = |it: &Interp, i: usize| int_arg(it, a.get(i), span);
    Ok(Some(match (class, name, n) {
        ("System", "currentTimeMillis", 0) => long(it.now(span)?.as_millisecond()),
        ("Date", "parse", 2 | 3) => {
            let p = super::string::text(it, a.get(0), span)?;
            let zone = if n == 3 {
                zone_arg(it, a.get(2), span)?
            } else {
                it.zone()
            };
            return parse_simple(it, &p, &zone, a.get(1), span).map(Some);
        }
        ("Date", "from", 1) => match time_arg(it, a.get(0), "an Instant", span)?.timestamp() {
            Some(ts) => date_value(ts),
            None => {
                return it.fail(
                    "IllegalArgumentException",
                    "Date.from needs an Instant",
                    span,
                );
            }
        },
        ("Instant", "now", 0) => time(Time::Instant(it.now(span)?)),
        ("Instant", "ofEpochMilli", 1) => match Timestamp::from_millisecond(int(it, 0)?) {
            Ok(ts) => time(Time::Instant(ts)),
            Err(_) => return out_of_range(it, "the instant", span),
        },
        ("Instant", "ofEpochSecond", 1 | 2) => {
            let nanos = if n == 2 { int(it, 1)? } else { 0 };
            let d = SignedDuration::from_secs(int(it, 0)?)
                .checked_add(SignedDuration::from_nanos(nanos));
            match d.and_then(|d| Timestamp::from_duration(d).ok()) {
                Some(ts) => time(Time::Instant(ts)),
                None => return out_of_range(it, "the instant", span),
            }
        }
        ("Instant" | "LocalDate" | "LocalDateTime" | "ZonedDateTime", "parse", 1 | 2) => {
            return parse_temporal(it, class, a, span).map(Some);
        }
        ("LocalDate" | "LocalDateTime" | "ZonedDateTime", "now", 0 | 1) => {
            let zone = if n == 1 {
                zone_arg(it, a.get(0), span)?
            } else {
                it.zone()
            };
            let z = it.now(span)?.to_zoned_datetime(zone);
            time(match class {
                "LocalDate" => Time::LocalDate(z.date()),
                "LocalDateTime" => Time::LocalDateTime(z.datetime()),
                _ => Time::Zoned(z),
            })
        }
        ("LocalDate", "of", 3) => {
            let v = (int(it, 0)?, int(it, 1)?, int(it, 2)?);
            match civil_date(v.0, v.1, v.2) {
                Some(d) => time(Time::LocalDate(d)),
                None => {
                    return it.fail(
                        "DateTimeException",
                        format!("Invalid date: {}-{}-{}", v.0, v.1, v.2),
                        span,
                    );
                }
            }
        }
        ("LocalDate", "ofEpochDay", 1) => {
            let days = int(it, 0)?;
            match civil::date(1970, 1, 1).checked_add(days.days()) {
                Ok(d) => time(Time::LocalDate(d)),
                Err(_) => return out_of_range(it, "the day", span),
            }
        }
        ("LocalDateTime", "of", 5..=7) => {
            let mut f = [0i64; 7];
            for (i, slot) in f.iter_mut().enumerate().take(n) {
                *slot = int(it, i)?;
            }
            match civil_datetime(&f) {
                Some(dt) => time(Time::LocalDateTime(dt)),
                None => return it.fail("DateTimeException", "Invalid date or time", span),
            }
        }
        ("LocalDateTime" | "ZonedDateTime", "ofInstant", 2) => {
            let Some(ts) = time_arg(it, a.get(0), "an Instant", span)?.timestamp() else {
                return it.fail("IllegalArgumentException", "expected an Instant", span);
            };
            let z = ts.to_zoned_datetime(zone_arg(it, a.get(1), span)?);
            time(if class == "LocalDateTime" {
                Time::LocalDateTime(z.datetime())
            } else {
                Time::Zoned(z)
            })
        }
        ("ZonedDateTime", "of", 8) => {
            let mut f = [0i64; 7];
            for (i, slot) in f.iter_mut().enumerate() {
                *slot = int(it, i)?;
            }
            let zone = zone_arg(it, a.get(7), span)?;
            match civil_datetime(&f).and_then(|dt| dt.to_zoned_datetime(zone).ok()) {
                Some(z) => time(Time::Zoned(z)),
                None => return it.fail("DateTimeException", "Invalid date or time", span),
            }
        }
        ("ZonedDateTime", "of", 2) => {
            let zone = zone_arg(it, a.get(1), span)?;
            let dt = match time_arg(it, a.get(0), "a LocalDateTime", span)? {
                Time::LocalDateTime(dt) => *dt,
                Time::LocalDate(d) => d.to_datetime(civil::Time::midnight()),
                _ => return it.fail("IllegalArgumentException", "expected a LocalDateTime", span),
            };
            match dt.to_zoned_datetime(zone) {
                Ok(z) => time(Time::Zoned(z)),
                Err(_) => return out_of_range(it, "the date", span),
            }
        }
        ("Duration", "between", 2) => {
            return duration_between(it, a.get(0), a.get(1), span).map(Some);
        }
        ("Duration", "of", 2) => {
            let u = unit_arg(it, a.get(1), span)?;
            let d = u
                .fixed()
                .and_then(|d| d.checked_mul(i32::try_from(int(it, 0).ok()?).ok()?));
            match d {
                Some(d) => time(Time::Duration(d)),
                None => {
                    return it.fail(
                        "UnsupportedTemporalTypeException",
                        format!("a Duration cannot be made of {}", u.name()),
                        span,
                    );
                }
            }
        }
        ("Duration", m, 1) if m.starts_with("of") => {
            let v = int(it, 0)?;
            let d = match m {
                "ofDays" => v.checked_mul(86400).map(SignedDuration::from_secs),
                "ofHours" => v.checked_mul(3600).map(SignedDuration::from_secs),
                "ofMinutes" => v.checked_mul(60).map(SignedDuration::from_secs),
                "ofSeconds" => Some(SignedDuration::from_secs(v)),
                "ofMillis" => Some(SignedDuration::from_millis(v)),
                "ofNanos" => Some(SignedDuration::from_nanos(v)),
                _ => return Ok(None),
            };
            match d {
                Some(d) => time(Time::Duration(d)),
                None => return out_of_range(it, "the duration", span),
            }
        }
        ("ZoneId", "of", 1) | ("ZoneOffset", "of", 1) => {
            time(Time::Zone(zone_arg(it, a.get(0), span)?, false))
        }
        ("ZoneId", "systemDefault", 0) => time(Time::Zone(it.zone(), false)),
        ("ZoneOffset", "ofHours", 1) => {
            let h = int(it, 0)?;
            match i8::try_from(h).ok().and_then(|h| Offset::from_hours(h).ok()) {
                Some(o) => time(Time::Zone(crate::time::offset_zone(o), false)),
                None => return it.fail("DateTimeException", format!("Zone offset hours not in valid range: value {h} is not in the range -18 to 18"), span),
            }
        }
        ("TimeZone", "getTimeZone", 1) => {
            // Java answers GMT for a name it does not know
            let name = super::string::text(it, a.get(0), span)?;
            time(Time::Zone(zone_named(&name).unwrap_or(TimeZone::UTC), true))
        }
        ("TimeZone", "getDefault", 0) => time(Time::Zone(it.zone(), true)),
        ("DateTimeFormatter", "ofPattern", 1 | 2) => {
            let p = super::string::text(it, a.get(0), span)?;
            time(Time::Formatter(Formatter {
                kind: FormatterKind::Pattern(p.to_string()),
                zone: None,
            }))
        }
        ("DayOfWeek", "of", 1) => {
            let v = int(it, 0)?;
            match i8::try_from(v)
                .ok()
                .and_then(|v| civil::Weekday::from_monday_one_offset(v).ok())
            {
                Some(w) => time(Time::DayOfWeek(w)),
                None => {
                    return it.fail(
                        "DateTimeException",
                        format!("Invalid value for DayOfWeek: {v}"),
                        span,
                    );
                }
            }
        }
        ("Month", "of", 1) => {
            let v = int(it, 0)?;
            if !(1..=12).contains(&v) {
                return it.fail(
                    "DateTimeException",
                    format!("Invalid value for MonthOfYear: {v}"),
                    span,
                );
            }
            time(Time::Month(v as i8))
        }
        (c, "valueOf", 1) if matches!(c, "ChronoUnit" | "DayOfWeek" | "Month") => {
            let name = super::string::text(it, a.get(0), span)?;
            match class_property(it, c, &name) {
                Some(v) => v,
                None => {
                    return it.fail(
                        "IllegalArgumentException",
                        format!("No enum constant {c}.{name}"),
                        span,
                    );
                }
            }
        }
        (c, "values", 0) if matches!(c, "ChronoUnit" | "DayOfWeek" | "Month") => {
            let names: Vec<String> = match c {
                "ChronoUnit" => ChronoUnit::ALL.iter().map(|(n, _)| n.to_string()).collect(),
                "DayOfWeek" => WEEKDAYS.iter().map(|w| w.to_uppercase()).collect(),
                _ => MONTHS.iter().map(|m| m.to_uppercase()).collect(),
            };
            Value::list(
                names
                    .iter()
                    .filter_map(|n| class_property(it, c, n))
                    .collect(),
            )
        }
        _ => return Ok(None),
    }))
}

fn civil_date(y: i64, m: i64, d: i64) -> Option<civil::Date> {
    civil::Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()
}

fn civil_datetime(f: &[i64; 7]) -> Option<civil::DateTime> {
    let t = civil::Time::new(
        i8::try_from(f[3]).ok()?,
        i8::try_from(f[4]).ok()?,
        i8::try_from(f[5]).ok()?,
        i32::try_from(f[6]).ok()?,
    )
    .ok()?;
    Some(civil_date(f[0], f[1], f[2])?.to_datetime(t))
}

/// `SimpleDateFormat.parse` / `Date.parse`: a `Date`, or a `ParseException`.
fn parse_simple(it: &mut Interp, p: &str, zone: &TimeZone, text: &Value, span: Span) -> R<Value> {
    let text = super::string::text(it, text, span)?;
    match pattern::parse(p, Flavor::Simple, &text) {
        Ok(Some(parsed)) => match parsed.zoned(zone) {
            Some(z) => Ok(date_value(z.timestamp())),
            None => it.fail(
                "ParseException",
                format!("Unparseable date: \"{text}\""),
                span,
            ),
        },
        Ok(None) => it.fail(
            "ParseException",
            format!("Unparseable date: \"{text}\""),
            span,
        ),
        Err(e) => it.fail("IllegalArgumentException", e, span),
    }
}

fn format_simple(it: &mut Interp, p: &str, zone: TimeZone, ts: Timestamp, span: Span) -> R<Value> {
    match pattern::format(p, Flavor::Simple, &ts.to_zoned_datetime(zone)) {
        Ok(s) => {
            it.charge(s.len(), span)?;
            Ok(Value::str(s))
        }
        Err(e) => it.fail("IllegalArgumentException", e, span),
    }
}

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
                let p = super::string::text(it, a.get(0), span)?;
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
