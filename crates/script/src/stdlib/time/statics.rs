//! Constructors, static methods and constants of the date and time classes:
//! `new Date()`, `Date.parse`, `Instant.now()`, `LocalDate.of`, `Duration.ofHours`,
//! `ZoneId.of`, `TimeZone.getTimeZone`, `DateTimeFormatter.ofPattern`, `ChronoUnit.DAYS`, …

use super::*;

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
            let p = crate::stdlib::string::text(it, a.get(0), span)?;
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
            let p = crate::stdlib::string::text(it, a.get(0), span)?;
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
            let name = crate::stdlib::string::text(it, a.get(0), span)?;
            time(Time::Zone(zone_named(&name).unwrap_or(TimeZone::UTC), true))
        }
        ("TimeZone", "getDefault", 0) => time(Time::Zone(it.zone(), true)),
        ("DateTimeFormatter", "ofPattern", 1 | 2) => {
            let p = crate::stdlib::string::text(it, a.get(0), span)?;
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
            let name = crate::stdlib::string::text(it, a.get(0), span)?;
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
