//! Java's date pattern letters (`yyyy-MM-dd'T'HH:mm:ss.SSSZ`), formatting and parsing, for
//! `SimpleDateFormat`/`Date.format` ([`Flavor::Simple`]) and `DateTimeFormatter.ofPattern`
//! ([`Flavor::DateTime`], where `u` is the year and `S` a fraction). English names only, as
//! a JVM in the `en` locale prints them.

use std::fmt::Write;

use jiff::civil::{self, Weekday};
use jiff::tz::{Offset, TimeZone};
use jiff::{ToSpan, ZonedDateTime};

use super::{MONTHS, WEEKDAYS, offset_id, zone_id};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    Simple,
    DateTime,
}

enum Piece<'a> {
    Field(char, usize),
    Text(std::borrow::Cow<'a, str>),
}

/// Splits a pattern into letter runs and literal text; `Err` names what is wrong.
fn pieces(pattern: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = pattern.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c == '\'' {
            if chars.get(i + 1).is_some_and(|(_, n)| *n == '\'') {
                out.push(Piece::Text("'".into()));
                i += 2;
                continue;
            }
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated quote in the pattern \"{pattern}\"")),
                    Some((_, '\'')) if chars.get(i + 1).is_some_and(|(_, n)| *n == '\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some((_, '\'')) => {
                        i += 1;
                        break;
                    }
                    Some((_, ch)) => {
                        text.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Piece::Text(text.into()));
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n).is_some_and(|(_, x)| *x == c) {
                n += 1;
            }
            out.push(Piece::Field(c, n));
            i += n;
        } else {
            let end = chars.get(i + 1).map_or(pattern.len(), |(p, _)| *p);
            out.push(Piece::Text(pattern[at..end].into()));
            i += 1;
        }
    }
    Ok(out)
}

fn pad(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        let _ = write!(out, "-{:0width$}", -v);
    } else {
        let _ = write!(out, "{v:0width$}");
    }
}

/// Week of the year as Java's US calendar counts it: weeks start on Sunday and week 1 holds
/// January 1st.
fn us_week_of_year(d: civil::Date) -> i64 {
    let sunday0 = |w: Weekday| i64::from(w.to_sunday_zero_offset());
    // the Saturday closing this week: in the next year, the week is that year's first
    let saturday = d.checked_add((6 - sunday0(d.weekday())).days());
    if let Ok(s) = saturday
        && s.year() != d.year()
    {
        return 1;
    }
    let jan1 = d.first_of_year();
    (i64::from(d.day_of_year()) - 1 + sunday0(jan1.weekday())) / 7 + 1
}

fn zone_text(z: &ZonedDateTime, long: bool) -> String {
    let info = z.time_zone().to_offset_info(z.timestamp());
    let abbr = info.abbreviation();
    if long {
        return match abbr {
            "UTC" => "Coordinated Universal Time".to_string(),
            "GMT" => "Greenwich Mean Time".to_string(),
            _ => zone_id(z.time_zone()),
        };
    }
    if abbr.starts_with(['+', '-']) {
        // zones without an abbreviation print as GMT offsets in Java
        let o = offset_id(z.offset());
        return if o == "Z" {
            "GMT".into()
        } else {
            format!("GMT{o}")
        };
    }
    abbr.to_string()
}

fn offset_text(o: Offset, colon: bool, seconds_optional: bool, z_for_zero: bool) -> String {
    let s = o.seconds();
    if s == 0 && z_for_zero {
        return "Z".to_string();
    }
    let a = s.unsigned_abs();
    let sign = if s < 0 { '-' } else { '+' };
    let (h, m) = (a / 3600, a / 60 % 60);
    if seconds_optional && m == 0 {
        return format!("{sign}{h:02}");
    }
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// Formats `z` by a Java pattern.
pub(crate) fn format(pattern: &str, flavor: Flavor, z: &ZonedDateTime) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    for p in pieces(pattern)? {
        let (c, n) = match p {
            Piece::Text(t) => {
                out.push_str(&t);
                continue;
            }
            Piece::Field(c, n) => (c, n),
        };
        let year = i64::from(z.year());
        let hour = i64::from(z.hour());
        let weekday = z.weekday();
        match (c, flavor) {
            ('G', _) => out.push_str(if year > 0 { "AD" } else { "BC" }),
            ('y' | 'Y', _) | ('u', Flavor::DateTime) => {
                if n == 2 {
                    pad(&mut out, year.rem_euclid(100), 2);
                } else {
                    pad(&mut out, year, n);
                }
            }
            ('M' | 'L', _) => match n {
                1 | 2 => pad(&mut out, i64::from(z.month()), n),
                3 => out.push_str(&MONTHS[z.month() as usize - 1][..3]),
                4 => out.push_str(MONTHS[z.month() as usize - 1]),
                _ => out.push_str(&MONTHS[z.month() as usize - 1][..1]),
            },
            ('d', _) => pad(&mut out, i64::from(z.day()), n),
            ('D', _) => pad(&mut out, i64::from(z.day_of_year()), n),
            ('E', _) => {
                let name = WEEKDAYS[weekday.to_monday_zero_offset() as usize];
                match n {
                    1..=3 => out.push_str(&name[..3]),
                    4 => out.push_str(name),
                    _ => out.push_str(&name[..1]),
                }
            }
            ('u', Flavor::Simple) => pad(&mut out, i64::from(weekday.to_monday_one_offset()), n),
            ('e' | 'c', Flavor::DateTime) => {
                pad(&mut out, i64::from(weekday.to_sunday_one_offset()), n)
            }
            ('F', _) => pad(&mut out, (i64::from(z.day()) - 1) / 7 + 1, n),
            ('w', _) => pad(&mut out, us_week_of_year(z.date()), n),
            ('W', _) => {
                let first = z.date().first_of_month();
                let offset = i64::from(first.weekday().to_sunday_zero_offset());
                pad(&mut out, (i64::from(z.day()) - 1 + offset) / 7 + 1, n)
            }
            ('a', _) => out.push_str(if hour < 12 { "AM" } else { "PM" }),
            ('H', _) => pad(&mut out, hour, n),
            ('k', _) => pad(&mut out, if hour == 0 { 24 } else { hour }, n),
            ('K', _) => pad(&mut out, hour % 12, n),
            ('h', _) => pad(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }, n),
            ('m', _) => pad(&mut out, i64::from(z.minute()), n),
            ('s', _) => pad(&mut out, i64::from(z.second()), n),
            ('S', Flavor::Simple) => pad(&mut out, i64::from(z.millisecond()), n),
            ('S', Flavor::DateTime) => {
                let digits = format!("{:09}", z.subsec_nanosecond());
                out.push_str(&digits[..n.min(9)]);
            }
            ('n', Flavor::DateTime) => pad(&mut out, i64::from(z.subsec_nanosecond()), n),
            ('z', _) => out.push_str(&zone_text(z, n >= 4)),
            ('Z', Flavor::Simple) => out.push_str(&offset_text(z.offset(), false, false, false)),
            ('Z', Flavor::DateTime) => match n {
                1..=3 => out.push_str(&offset_text(z.offset(), false, false, false)),
                4 => {
                    let o = offset_text(z.offset(), true, false, false);
                    out.push_str("GMT");
                    if o != "+00:00" {
                        out.push_str(&o);
                    }
                }
                _ => out.push_str(&offset_text(z.offset(), true, false, true)),
            },
            ('X', _) | ('x', Flavor::DateTime) => {
                let z_for_zero = c == 'X';
                out.push_str(&match n {
                    1 => offset_text(z.offset(), false, true, z_for_zero),
                    2 => offset_text(z.offset(), false, false, z_for_zero),
                    _ => offset_text(z.offset(), true, false, z_for_zero),
                })
            }
            ('V', Flavor::DateTime) => out.push_str(&zone_id(z.time_zone())),
            ('O', Flavor::DateTime) => {
                let s = z.offset().seconds();
                if s == 0 {
                    out.push_str("GMT");
                } else {
                    let a = s.unsigned_abs();
                    let _ = write!(out, "GMT{}{}", if s < 0 { '-' } else { '+' }, a / 3600);
                    if !(a / 60).is_multiple_of(60) {
                        let _ = write!(out, ":{:02}", a / 60 % 60);
                    }
                }
            }
            _ => {
                return Err(format!(
                    "the date pattern \"{pattern}\" has the letter '{c}', which is not a pattern letter here"
                ));
            }
        }
    }
    Ok(out)
}

/// What a parse found; fields it did not see keep Java's defaults (1970-01-01 00:00).
#[derive(Default)]
pub(crate) struct Parsed {
    pub year: Option<i64>,
    pub month: Option<i64>,
    pub day: Option<i64>,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub nanos: i64,
    pub pm: Option<bool>,
    pub twelve_hour: bool,
    pub offset: Option<Offset>,
    pub zone: Option<TimeZone>,
}

impl Parsed {
    pub fn date(&self) -> Option<civil::Date> {
        civil::Date::new(
            i16::try_from(self.year.unwrap_or(1970)).ok()?,
            i8::try_from(self.month.unwrap_or(1)).ok()?,
            i8::try_from(self.day.unwrap_or(1)).ok()?,
        )
        .ok()
    }
    pub fn datetime(&self) -> Option<civil::DateTime> {
        let mut hour = self.hour;
        if self.twelve_hour {
            hour %= 12;
        }
        if self.pm == Some(true) {
            hour += 12;
        }
        let t = civil::Time::new(
            i8::try_from(hour).ok()?,
            i8::try_from(self.minute).ok()?,
            i8::try_from(self.second).ok()?,
            i32::try_from(self.nanos).ok()?,
        )
        .ok()?;
        Some(self.date()?.to_datetime(t))
    }
    /// The instant, in the parsed offset or zone, else in `zone`.
    pub fn zoned(&self, zone: &TimeZone) -> Option<ZonedDateTime> {
        let dt = self.datetime()?;
        let tz = match (&self.offset, &self.zone) {
            (Some(o), _) => crate::time::offset_zone(*o),
            (None, Some(z)) => z.clone(),
            (None, None) => zone.clone(),
        };
        dt.to_zoned_datetime(tz).ok()
    }
}

fn is_numeric(c: char, n: usize, flavor: Flavor) -> bool {
    match c {
        'M' | 'L' => n <= 2,
        'y' | 'Y' | 'd' | 'D' | 'H' | 'k' | 'K' | 'h' | 'm' | 's' | 'S' | 'F' | 'w' | 'W' | 'n' => {
            true
        }
        'u' => true,
        'e' | 'c' => flavor == Flavor::DateTime && n <= 2,
        _ => false,
    }
}

/// Parses `text` by a Java pattern. `Simple` ignores text after the pattern, as
/// `SimpleDateFormat.parse` does; `DateTime` requires all of it. `None`: it does not fit.
pub(crate) fn parse(pattern: &str, flavor: Flavor, text: &str) -> Result<Option<Parsed>, String> {
    let ps = pieces(pattern)?;
    let mut out = Parsed::default();
    let b = text.as_bytes();
    let mut pos = 0usize;
    for (i, p) in ps.iter().enumerate() {
        match p {
            Piece::Text(t) => {
                if !text[pos..].starts_with(&**t) {
                    return Ok(None);
                }
                pos += t.len();
            }
            Piece::Field(c, n) => {
                let (c, n) = (*c, *n);
                if is_numeric(c, n, flavor) {
                    // adjacent numeric fields (yyyyMMdd) take exactly their width
                    let adjacent = matches!(ps.get(i + 1), Some(Piece::Field(d, m)) if is_numeric(*d, *m, flavor));
                    let start = pos;
                    if matches!(b.get(pos), Some(b'-' | b'+')) && matches!(c, 'y' | 'u') {
                        pos += 1;
                    }
                    let max = if adjacent { n } else { usize::MAX };
                    while pos < b.len() && b[pos].is_ascii_digit() && pos - start < max {
                        pos += 1;
                    }
                    let digits = &text[start..pos];
                    let Ok(mut v) = digits.parse::<i64>() else {
                        return Ok(None);
                    };
                    match (c, flavor) {
                        ('y' | 'Y', _) | ('u', Flavor::DateTime) => {
                            if n == 2 && digits.len() == 2 {
                                // Java's two-digit years fall within 80 years before and 20 after now;
                                // without reading the clock, 1950–2049 is the same for years to come
                                v += if v < 50 { 2000 } else { 1900 };
                            }
                            out.year = Some(v)
                        }
                        ('M' | 'L', _) => out.month = Some(v),
                        ('d', _) => out.day = Some(v),
                        ('H', _) => out.hour = v,
                        ('k', _) => out.hour = v % 24,
                        ('K' | 'h', _) => {
                            out.hour = v;
                            out.twelve_hour = true;
                        }
                        ('m', _) => out.minute = v,
                        ('s', _) => out.second = v,
                        ('S', Flavor::Simple) => out.nanos = v * 1_000_000,
                        ('S', Flavor::DateTime) => {
                            let scale = 9usize.saturating_sub(digits.len()) as u32;
                            out.nanos = v * 10i64.pow(scale);
                        }
                        ('n', _) => out.nanos = v,
                        _ => {}
                    }
                } else {
                    let rest = &text[pos..];
                    let lower = rest.to_ascii_lowercase();
                    match c {
                        'M' | 'L' => {
                            let found = MONTHS.iter().enumerate().find_map(|(k, m)| {
                                let m = m.to_ascii_lowercase();
                                if lower.starts_with(&m) {
                                    Some((k, m.len()))
                                } else if lower.starts_with(&m[..3]) {
                                    Some((k, 3))
                                } else {
                                    None
                                }
                            });
                            let Some((k, len)) = found else {
                                return Ok(None);
                            };
                            out.month = Some(k as i64 + 1);
                            pos += len;
                        }
                        'E' => {
                            let found = WEEKDAYS.iter().find_map(|w| {
                                let w = w.to_ascii_lowercase();
                                if lower.starts_with(&w) {
                                    Some(w.len())
                                } else if lower.starts_with(&w[..3]) {
                                    Some(3)
                                } else {
                                    None
                                }
                            });
                            let Some(len) = found else { return Ok(None) };
                            pos += len;
                        }
                        'a' => {
                            if lower.starts_with("am") {
                                out.pm = Some(false);
                            } else if lower.starts_with("pm") {
                                out.pm = Some(true);
                            } else {
                                return Ok(None);
                            }
                            pos += 2;
                        }
                        'G' => {
                            if !(lower.starts_with("ad") || lower.starts_with("bc")) {
                                return Ok(None);
                            }
                            pos += 2;
                        }
                        'Z' | 'X' | 'x' | 'z' | 'V' | 'O' => {
                            if rest.starts_with('Z') && c != 'z' {
                                out.offset = Some(Offset::UTC);
                                pos += 1;
                                continue;
                            }
                            let rest = rest
                                .strip_prefix("GMT")
                                .or_else(|| rest.strip_prefix("UTC"))
                                .inspect(|_| pos += 3)
                                .unwrap_or(rest);
                            let len = rest
                                .char_indices()
                                .take_while(|(k, ch)| {
                                    if matches!(c, 'z' | 'V') {
                                        ch.is_ascii_alphanumeric()
                                            || matches!(ch, '/' | '_' | '+' | '-' | ':')
                                    } else {
                                        (*k == 0 && matches!(ch, '+' | '-'))
                                            || ch.is_ascii_digit()
                                            || *ch == ':'
                                    }
                                })
                                .map(|(k, ch)| k + ch.len_utf8())
                                .last()
                                .unwrap_or(0);
                            let token = &rest[..len];
                            pos += len;
                            if token.is_empty() {
                                // "GMT" or "UTC" alone
                                out.offset = Some(Offset::UTC);
                            } else if let Some(o) = super::parse_offset(token) {
                                out.offset = Some(o);
                            } else if let Some(z) = super::zone_named(token) {
                                out.zone = Some(z);
                            } else if let Some(o) = abbreviation_offset(token) {
                                out.offset = Some(o);
                            } else {
                                return Ok(None);
                            }
                        }
                        _ => {
                            return Err(format!(
                                "the date pattern \"{pattern}\" has the letter '{c}', which is not a pattern letter here"
                            ));
                        }
                    }
                }
            }
        }
    }
    if flavor == Flavor::DateTime && pos != text.len() {
        return Ok(None);
    }
    Ok(Some(out))
}

/// The fixed offsets of the zone abbreviations Java parses most often.
fn abbreviation_offset(abbr: &str) -> Option<Offset> {
    let hours = match abbr {
        "UTC" | "GMT" | "UT" | "Z" => 0,
        "EST" => -5,
        "EDT" | "CST" => {
            if abbr == "EDT" {
                -4
            } else {
                -6
            }
        }
        "CDT" | "MST" => {
            if abbr == "CDT" {
                -5
            } else {
                -7
            }
        }
        "MDT" | "PST" => {
            if abbr == "MDT" {
                -6
            } else {
                -8
            }
        }
        "PDT" => -7,
        "CET" => 1,
        "CEST" | "EET" => 2,
        "EEST" => 3,
        "BST" => 1,
        "IST" => return Offset::from_seconds(19800).ok(),
        "JST" => 9,
        _ => return None,
    };
    Offset::from_hours(hours).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64, zone: &str) -> ZonedDateTime {
        jiff::Timestamp::from_millisecond(ms)
            .expect("in range")
            .to_zoned_datetime(super::super::zone_named(zone).expect("known zone"))
    }

    #[test]
    fn patterns_format_as_java_does() {
        let z = at(31_539_723_004, "UTC");
        let f = |p: &str| format(p, Flavor::Simple, &z).expect("valid pattern");
        assert_eq!(
            f("yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
            "1971-01-01T01:02:03.004+0000"
        );
        assert_eq!(f("EEE, d MMM yyyy hh:mm a"), "Fri, 1 Jan 1971 01:02 AM");
        assert_eq!(f("D w u k K S"), "1 1 5 1 1 4");
        assert_eq!(f("'quoted ''text''' yyyy"), "quoted 'text' 1971");
        assert!(format("yyyy-qq", Flavor::Simple, &z).is_err());
    }

    #[test]
    fn patterns_parse_as_java_does() {
        let p = parse(
            "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
            Flavor::Simple,
            "2024-06-01T12:00:00.000+0200",
        )
        .expect("valid pattern")
        .expect("fits");
        let z = p.zoned(&TimeZone::UTC).expect("a time");
        assert_eq!(z.timestamp().as_millisecond(), 1_717_236_000_000);
        assert!(
            parse("yyyy-MM-dd", Flavor::Simple, "not a date")
                .expect("valid")
                .is_none()
        );
        let compact = parse("yyyyMMdd", Flavor::Simple, "20240229")
            .expect("valid")
            .expect("fits");
        assert_eq!(compact.date(), civil::Date::new(2024, 2, 29).ok());
    }
}
