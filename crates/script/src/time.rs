//! Date and time values as scripts see them: `java.util.Date`, `java.util.TimeZone`,
//! `java.text.SimpleDateFormat` and the `java.time` basics (`Instant`, `LocalDate`,
//! `LocalDateTime`, `ZonedDateTime`, `Duration`, `ZoneId`, `DateTimeFormatter`, `ChronoUnit`,
//! `DayOfWeek`, `Month`). Calendar and zone rules are jiff's, with its built-in zone database;
//! this module keeps only Java's shapes: how each type prints and the pattern letters
//! ([`pattern`]). The current time is never read here: it comes from the host's
//! [`crate::host::Clock`] (see `stdlib::time`).

pub(crate) mod pattern;

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write};

use jiff::civil;
use jiff::tz::{Offset, TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp, ZonedDateTime};

/// A `java.time.temporal.ChronoUnit` the scripts use.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChronoUnit {
    Nanos,
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
    Months,
    Years,
}

impl ChronoUnit {
    pub const ALL: [(&'static str, ChronoUnit); 9] = [
        ("NANOS", ChronoUnit::Nanos),
        ("MILLIS", ChronoUnit::Millis),
        ("SECONDS", ChronoUnit::Seconds),
        ("MINUTES", ChronoUnit::Minutes),
        ("HOURS", ChronoUnit::Hours),
        ("DAYS", ChronoUnit::Days),
        ("WEEKS", ChronoUnit::Weeks),
        ("MONTHS", ChronoUnit::Months),
        ("YEARS", ChronoUnit::Years),
    ];
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, u)| *u == self)
            .map_or("DAYS", |(n, _)| n)
    }
    /// The unit's length when it has a fixed one (months and years do not).
    pub fn fixed(self) -> Option<SignedDuration> {
        Some(match self {
            ChronoUnit::Nanos => SignedDuration::from_nanos(1),
            ChronoUnit::Millis => SignedDuration::from_millis(1),
            ChronoUnit::Seconds => SignedDuration::from_secs(1),
            ChronoUnit::Minutes => SignedDuration::from_mins(1),
            ChronoUnit::Hours => SignedDuration::from_hours(1),
            ChronoUnit::Days => SignedDuration::from_hours(24),
            ChronoUnit::Weeks => SignedDuration::from_hours(24 * 7),
            ChronoUnit::Months | ChronoUnit::Years => return None,
        })
    }
}

/// The state of a `SimpleDateFormat`: its pattern and zone (`setTimeZone` changes it).
pub struct SimpleFormat {
    pub(crate) pattern: String,
    pub(crate) zone: RefCell<Option<TimeZone>>,
}

/// A `DateTimeFormatter`: a pattern or one of the ISO constants, and an optional zone.
#[derive(Clone)]
pub struct Formatter {
    pub(crate) kind: FormatterKind,
    pub(crate) zone: Option<TimeZone>,
}

#[derive(Clone)]
pub enum FormatterKind {
    Pattern(String),
    IsoLocalDate,
    IsoLocalTime,
    IsoLocalDateTime,
    IsoOffsetDateTime,
    IsoZonedDateTime,
    IsoDateTime,
    IsoInstant,
    IsoDate,
}

pub(crate) const ISO_FORMATTERS: [(&str, FormatterKind); 8] = [
    ("ISO_LOCAL_DATE", FormatterKind::IsoLocalDate),
    ("ISO_LOCAL_TIME", FormatterKind::IsoLocalTime),
    ("ISO_LOCAL_DATE_TIME", FormatterKind::IsoLocalDateTime),
    ("ISO_OFFSET_DATE_TIME", FormatterKind::IsoOffsetDateTime),
    ("ISO_ZONED_DATE_TIME", FormatterKind::IsoZonedDateTime),
    ("ISO_DATE_TIME", FormatterKind::IsoDateTime),
    ("ISO_INSTANT", FormatterKind::IsoInstant),
    ("ISO_DATE", FormatterKind::IsoDate),
];

/// One date or time value.
pub enum Time {
    /// `java.util.Date`: an instant, mutable like Java's (`setTime`, `clearTime`).
    Date(Cell<Timestamp>),
    Instant(Timestamp),
    LocalDate(civil::Date),
    LocalDateTime(civil::DateTime),
    Zoned(ZonedDateTime),
    Duration(SignedDuration),
    /// `ZoneId` (`java_util` false) or `java.util.TimeZone` (true).
    Zone(TimeZone, bool),
    SimpleDateFormat(SimpleFormat),
    Formatter(Formatter),
    Unit(ChronoUnit),
    DayOfWeek(civil::Weekday),
    Month(i8),
}

pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(crate) const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

thread_local! {
    /// The zone of the run in progress (the host clock's), which `Date.toString()` uses.
    static DEFAULT_ZONE: RefCell<TimeZone> = const { RefCell::new(TimeZone::UTC) };
    static DATABASE: TimeZoneDatabase = TimeZoneDatabase::bundled();
}

/// Sets the zone `Date.toString()` uses on this thread; returns the previous one.
pub(crate) fn set_default_zone(tz: TimeZone) -> TimeZone {
    DEFAULT_ZONE.with(|z| z.replace(tz))
}

pub(crate) fn default_zone() -> TimeZone {
    DEFAULT_ZONE.with(|z| z.borrow().clone())
}

/// The zone of a fixed offset, as `ZoneOffset` is: printed as the offset (`Z`, `+02:00`), never
/// as a region (jiff's zero offset is the `UTC` region, which Java prints `[UTC]`).
pub(crate) fn offset_zone(o: Offset) -> TimeZone {
    if o.seconds() == 0 {
        TimeZone::posix("UTC0").unwrap_or(TimeZone::UTC)
    } else {
        TimeZone::fixed(o)
    }
}

/// A zone by Java's name: an IANA name, `UTC`/`GMT`/`Z`, or an offset (`+02:00`, `GMT+2`).
pub(crate) fn zone_named(name: &str) -> Option<TimeZone> {
    if matches!(name, "Z" | "UTC" | "GMT" | "UT") {
        return Some(if name == "Z" {
            offset_zone(Offset::UTC)
        } else {
            TimeZone::UTC
        });
    }
    let offset_text = name
        .strip_prefix("GMT")
        .or_else(|| name.strip_prefix("UTC"))
        .unwrap_or(name);
    if offset_text.starts_with(['+', '-']) {
        return parse_offset(offset_text).map(TimeZone::fixed);
    }
    if !name.contains('/') && name != "Etc" {
        return None;
    }
    DATABASE.with(|db| db.get(name).ok())
}

/// `+02:00`, `+0200`, `+02`, `-5`: an offset.
pub(crate) fn parse_offset(s: &str) -> Option<Offset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| digits.get(r).and_then(|d| d.parse::<i32>().ok());
    let (h, m, sec) = match digits.len() {
        1 | 2 => (n(0..digits.len())?, 0, 0),
        4 => (n(0..2)?, n(2..4)?, 0),
        6 => (n(0..2)?, n(2..4)?, n(4..6)?),
        _ => return None,
    };
    if h > 18 || m > 59 || sec > 59 {
        return None;
    }
    Offset::from_seconds(sign * (h * 3600 + m * 60 + sec)).ok()
}

/// A zone's Java name: its IANA name, or its offset (`Z`, `+02:00`).
pub(crate) fn zone_id(tz: &TimeZone) -> String {
    match tz.iana_name() {
        Some(n) => n.to_string(),
        None => offset_id(tz.to_offset(Timestamp::UNIX_EPOCH)),
    }
}

/// An offset as `ZoneOffset` prints it: `Z`, `+02:00`, `-05:30`.
pub(crate) fn offset_id(o: Offset) -> String {
    let s = o.seconds();
    if s == 0 {
        return "Z".to_string();
    }
    let a = s.unsigned_abs();
    let mut out = format!(
        "{}{:02}:{:02}",
        if s < 0 { '-' } else { '+' },
        a / 3600,
        a / 60 % 60
    );
    if !a.is_multiple_of(60) {
        let _ = write!(out, ":{:02}", a % 60);
    }
    out
}

/// A fraction of a second as `java.time` prints it: nothing, or 3, 6 or 9 digits.
fn push_fraction(out: &mut String, nanos: i32) {
    if nanos == 0 {
        return;
    }
    let n = nanos.unsigned_abs();
    if n.is_multiple_of(1_000_000) {
        let _ = write!(out, ".{:03}", n / 1_000_000);
    } else if n.is_multiple_of(1000) {
        let _ = write!(out, ".{:06}", n / 1000);
    } else {
        let _ = write!(out, ".{n:09}");
    }
}

fn push_date(out: &mut String, d: civil::Date) {
    let y = d.year();
    if y > 9999 {
        out.push('+');
    }
    if y < 0 {
        let _ = write!(out, "-{:04}", -(y as i32));
    } else {
        let _ = write!(out, "{y:04}");
    }
    let _ = write!(out, "-{:02}-{:02}", d.month(), d.day());
}

/// `LocalTime.toString()`: seconds only when not zero, the fraction only when not zero.
fn push_time(out: &mut String, t: civil::Time) {
    let _ = write!(out, "{:02}:{:02}", t.hour(), t.minute());
    if t.second() != 0 || t.subsec_nanosecond() != 0 {
        let _ = write!(out, ":{:02}", t.second());
        push_fraction(out, t.subsec_nanosecond());
    }
}

pub(crate) fn local_date_time_string(dt: civil::DateTime) -> String {
    let mut out = String::with_capacity(24);
    push_date(&mut out, dt.date());
    out.push('T');
    push_time(&mut out, dt.time());
    out
}

pub(crate) fn local_date_string(d: civil::Date) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, d);
    out
}

pub(crate) fn instant_string(ts: Timestamp) -> String {
    let dt = TimeZone::UTC.to_datetime(ts);
    let mut out = String::with_capacity(24);
    push_date(&mut out, dt.date());
    let _ = write!(
        out,
        "T{:02}:{:02}:{:02}",
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    push_fraction(&mut out, dt.subsec_nanosecond());
    out.push('Z');
    out
}

pub(crate) fn zoned_string(z: &ZonedDateTime) -> String {
    let mut out = local_date_time_string(z.datetime());
    out.push_str(&offset_id(z.offset()));
    if let Some(name) = z.time_zone().iana_name() {
        let _ = write!(out, "[{name}]");
    }
    out
}

/// `Duration.toString()`: `PT1H5M`, `PT-1H-30M`, `PT0S`, `PT1.5S`.
pub(crate) fn duration_string(d: SignedDuration) -> String {
    if d.is_zero() {
        return "PT0S".to_string();
    }
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    let (hours, mins, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::from("PT");
    if hours != 0 {
        let _ = write!(out, "{hours}H");
    }
    if mins != 0 {
        let _ = write!(out, "{mins}M");
    }
    if s == 0 && nanos == 0 {
        return out;
    }
    if s == 0 && nanos < 0 {
        out.push('-');
    }
    let _ = write!(out, "{s}");
    if nanos != 0 {
        let mut frac = format!("{:09}", nanos.unsigned_abs());
        while frac.ends_with('0') {
            frac.pop();
        }
        let _ = write!(out, ".{frac}");
    }
    out.push('S');
    out
}

/// `Date.toString()`: `Fri Jan 01 01:02:03 UTC 1971` in the default zone.
pub(crate) fn date_string(ts: Timestamp) -> String {
    let z = ts.to_zoned_datetime(default_zone());
    pattern::format("EEE MMM dd HH:mm:ss zzz yyyy", pattern::Flavor::Simple, &z).unwrap_or_default()
}

/// `JsonOutput.toJson(date)`: `2024-06-01T12:00:00+0000`, always in GMT.
pub(crate) fn date_json(ts: Timestamp) -> String {
    let z = ts.to_zoned_datetime(TimeZone::UTC);
    pattern::format("yyyy-MM-dd'T'HH:mm:ssZ", pattern::Flavor::Simple, &z).unwrap_or_default()
}

impl Time {
    /// The Java class name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Time::Date(_) => "Date",
            Time::Instant(_) => "Instant",
            Time::LocalDate(_) => "LocalDate",
            Time::LocalDateTime(_) => "LocalDateTime",
            Time::Zoned(_) => "ZonedDateTime",
            Time::Duration(_) => "Duration",
            Time::Zone(_, true) => "TimeZone",
            Time::Zone(tz, false) => {
                if tz.iana_name().is_some() {
                    "ZoneRegion"
                } else {
                    "ZoneOffset"
                }
            }
            Time::SimpleDateFormat(_) => "SimpleDateFormat",
            Time::Formatter(_) => "DateTimeFormatter",
            Time::Unit(_) => "ChronoUnit",
            Time::DayOfWeek(_) => "DayOfWeek",
            Time::Month(_) => "Month",
        }
    }

    /// The classes and interfaces a value is an instance of, beside its own.
    pub fn is_a(&self, t: &str) -> bool {
        t == self.type_name()
            || matches!(
                (self, t),
                (_, "Object")
                    | (Time::Zone(_, false), "ZoneId")
                    | (
                        Time::Date(_)
                            | Time::Instant(_)
                            | Time::LocalDate(_)
                            | Time::LocalDateTime(_)
                            | Time::Zoned(_)
                            | Time::Duration(_),
                        "Comparable"
                    )
                    | (
                        Time::Instant(_)
                            | Time::LocalDate(_)
                            | Time::LocalDateTime(_)
                            | Time::Zoned(_),
                        "Temporal"
                    )
                    | (Time::SimpleDateFormat(_), "DateFormat")
            )
    }

    /// The instant a value stands for, if it is one.
    pub fn timestamp(&self) -> Option<Timestamp> {
        match self {
            Time::Date(c) => Some(c.get()),
            Time::Instant(t) => Some(*t),
            Time::Zoned(z) => Some(z.timestamp()),
            _ => None,
        }
    }

    /// Java's `equals`: same type, same value.
    pub fn equals(&self, other: &Time) -> bool {
        match (self, other) {
            (Time::Date(a), Time::Date(b)) => a.get() == b.get(),
            (Time::Instant(a), Time::Instant(b)) => a == b,
            (Time::LocalDate(a), Time::LocalDate(b)) => a == b,
            (Time::LocalDateTime(a), Time::LocalDateTime(b)) => a == b,
            (Time::Zoned(a), Time::Zoned(b)) => {
                a.timestamp() == b.timestamp() && zone_id(a.time_zone()) == zone_id(b.time_zone())
            }
            (Time::Duration(a), Time::Duration(b)) => a == b,
            (Time::Zone(a, x), Time::Zone(b, y)) => x == y && zone_id(a) == zone_id(b),
            (Time::Unit(a), Time::Unit(b)) => a == b,
            (Time::DayOfWeek(a), Time::DayOfWeek(b)) => a == b,
            (Time::Month(a), Time::Month(b)) => a == b,
            _ => false,
        }
    }

    /// `compareTo` between values of one type.
    pub fn compare(&self, other: &Time) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Time::Date(a), Time::Date(b)) => Some(a.get().cmp(&b.get())),
            (Time::Instant(a), Time::Instant(b)) => Some(a.cmp(b)),
            (Time::LocalDate(a), Time::LocalDate(b)) => Some(a.cmp(b)),
            (Time::LocalDateTime(a), Time::LocalDateTime(b)) => Some(a.cmp(b)),
            (Time::Zoned(a), Time::Zoned(b)) => Some(a.timestamp().cmp(&b.timestamp())),
            (Time::Duration(a), Time::Duration(b)) => Some(a.cmp(b)),
            (Time::DayOfWeek(a), Time::DayOfWeek(b)) => {
                Some(a.to_monday_one_offset().cmp(&b.to_monday_one_offset()))
            }
            (Time::Month(a), Time::Month(b)) => Some(a.cmp(b)),
            (Time::Unit(a), Time::Unit(b)) => Some((*a as u8).cmp(&(*b as u8))),
            _ => None,
        }
    }

    /// The JSON form: a `Date` as `JsonOutput` writes it, anything else as its text.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Time::Date(c) => serde_json::Value::String(date_json(c.get())),
            other => serde_json::Value::String(other.to_string()),
        }
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Time::Date(c) => f.write_str(&date_string(c.get())),
            Time::Instant(t) => f.write_str(&instant_string(*t)),
            Time::LocalDate(d) => f.write_str(&local_date_string(*d)),
            Time::LocalDateTime(dt) => f.write_str(&local_date_time_string(*dt)),
            Time::Zoned(z) => f.write_str(&zoned_string(z)),
            Time::Duration(d) => f.write_str(&duration_string(*d)),
            Time::Zone(tz, true) => write!(f, "sun.util.calendar.ZoneInfo[id=\"{}\"]", zone_id(tz)),
            Time::Zone(tz, false) => f.write_str(&zone_id(tz)),
            Time::SimpleDateFormat(_) => f.write_str("java.text.SimpleDateFormat"),
            Time::Formatter(fm) => match &fm.kind {
                FormatterKind::Pattern(p) => f.write_str(p),
                _ => f.write_str("ParseCaseSensitive(false)"),
            },
            Time::Unit(u) => {
                let name = u.name();
                let mut chars = name.chars();
                if let Some(c) = chars.next() {
                    f.write_char(c)?;
                }
                f.write_str(&chars.as_str().to_lowercase())
            }
            Time::DayOfWeek(w) => {
                f.write_str(&WEEKDAYS[(w.to_monday_one_offset() - 1) as usize].to_uppercase())
            }
            Time::Month(m) => f.write_str(&MONTHS[(*m - 1) as usize].to_uppercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_java_prints_them() {
        let ts = Timestamp::from_millisecond(1500).expect("in range");
        assert_eq!(instant_string(ts), "1970-01-01T00:00:01.500Z");
        assert_eq!(duration_string(SignedDuration::from_mins(-90)), "PT-1H-30M");
        assert_eq!(duration_string(SignedDuration::from_secs(90)), "PT1M30S");
        assert_eq!(duration_string(SignedDuration::from_hours(25)), "PT25H");
        let dt = civil::date(2024, 2, 29).at(0, 15, 0, 0);
        assert_eq!(local_date_time_string(dt), "2024-02-29T00:15");
        assert_eq!(
            offset_id(Offset::from_seconds(-19800).expect("valid")),
            "-05:30"
        );
    }

    #[test]
    fn zones_are_found_by_java_names() {
        assert!(zone_named("Europe/Paris").is_some());
        assert_eq!(
            zone_named("GMT+2").and_then(|z| z.to_fixed_offset().ok()),
            Some(Offset::from_seconds(7200).expect("valid"))
        );
        assert!(zone_named("Nowhere/Atlantis").is_none());
    }
}
