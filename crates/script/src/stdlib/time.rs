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

mod methods;
mod statics;

pub(crate) use methods::{call, date_arithmetic, has_getter, set_property};
pub(crate) use statics::{call_static, class_property, construct};

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
