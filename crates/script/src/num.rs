//! `Dec`, the BigDecimal of decimal literals and `/`, as an `i128` unscaled value and a scale,
//! with Java's string form and Groovy's division rule (exact when it terminates, else
//! `max(precision) + 10` significant digits, at most 10 decimal places).

use std::cmp::Ordering;
use std::fmt;

/// `java.math.RoundingMode`, in Java's order (`BigDecimal.ROUND_UP` is 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    Up,
    Down,
    Ceiling,
    Floor,
    HalfUp,
    HalfDown,
    HalfEven,
    Unnecessary,
}

impl Rounding {
    pub const ALL: [(&'static str, Rounding); 8] = [
        ("UP", Rounding::Up),
        ("DOWN", Rounding::Down),
        ("CEILING", Rounding::Ceiling),
        ("FLOOR", Rounding::Floor),
        ("HALF_UP", Rounding::HalfUp),
        ("HALF_DOWN", Rounding::HalfDown),
        ("HALF_EVEN", Rounding::HalfEven),
        ("UNNECESSARY", Rounding::Unnecessary),
    ];
    pub fn named(name: &str) -> Option<Rounding> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
    }
    pub fn name(self) -> &'static str {
        Self::ALL[self as usize].0
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Dec {
    pub m: i128,
    pub s: u32,
}

const MAX_SCALE: u32 = 36;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn digits(v: i128) -> u32 {
    let mut v = v.unsigned_abs();
    let mut d = 1;
    while v >= 10 {
        v /= 10;
        d += 1;
    }
    d
}

impl Dec {
    pub fn from_i64(v: i64) -> Dec {
        Dec { m: v as i128, s: 0 }
    }

    pub fn parse(text: &str) -> Option<Dec> {
        let (mant, exp) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (neg, mant) = match mant.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, mant.strip_prefix('+').unwrap_or(mant)),
        };
        let (int, frac) = match mant.find('.') {
            Some(i) => (&mant[..i], &mant[i + 1..]),
            None => (mant, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let all = format!("{int}{frac}");
        if !all.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut m: i128 = all.parse().ok()?;
        let mut s = frac.len() as i32 - exp;
        if s < 0 {
            m = m.checked_mul(pow10((-s) as u32)?)?;
            s = 0;
        }
        if s as u32 > MAX_SCALE {
            return None;
        }
        Some(Dec {
            m: if neg { -m } else { m },
            s: s as u32,
        })
    }

    pub fn from_f64(v: f64) -> Option<Dec> {
        if !v.is_finite() {
            return None;
        }
        Dec::parse(&format!("{v:?}"))
    }

    fn rescale(self, s: u32) -> Option<i128> {
        if s >= self.s {
            self.m.checked_mul(pow10(s - self.s)?)
        } else {
            Some(self.m / pow10(self.s - s)?)
        }
    }

    pub fn add(self, o: Dec) -> Option<Dec> {
        let s = self.s.max(o.s);
        Some(Dec {
            m: self.rescale(s)?.checked_add(o.rescale(s)?)?,
            s,
        })
    }
    pub fn sub(self, o: Dec) -> Option<Dec> {
        self.add(Dec {
            m: o.m.checked_neg()?,
            s: o.s,
        })
    }
    pub fn mul(self, o: Dec) -> Option<Dec> {
        let s = self.s + o.s;
        if s > MAX_SCALE {
            return Dec::from_f64(self.to_f64() * o.to_f64());
        }
        Some(Dec {
            m: self.m.checked_mul(o.m)?,
            s,
        })
    }
    pub fn neg(self) -> Dec {
        Dec {
            m: self.m.saturating_neg(),
            s: self.s,
        }
    }
    pub fn is_zero(self) -> bool {
        self.m == 0
    }

    /// Groovy's `/` on BigDecimals. `None` on overflow; the caller checks for zero first.
    pub fn div(self, o: Dec) -> Option<Dec> {
        if self.m == i128::MIN || o.m == i128::MIN {
            return None;
        }
        // value = (m1 / 10^s1) / (m2 / 10^s2) = (m1 * 10^s2) / (m2 * 10^s1)
        let mut n = self.m.checked_mul(pow10(o.s)?)?;
        let mut d = o.m.checked_mul(pow10(self.s)?)?;
        if d < 0 {
            n = -n;
            d = -d;
        }
        let g = gcd(n.checked_abs()?, d);
        let (rn, rd) = (n / g.max(1), d / g.max(1));
        let (mut twos, mut fives, mut rest) = (0u32, 0u32, rd);
        while rest % 2 == 0 {
            rest /= 2;
            twos += 1;
        }
        while rest % 5 == 0 {
            rest /= 5;
            fives += 1;
        }
        let preferred = self.s as i64 - o.s as i64;
        if rest == 1 {
            let k = twos.max(fives);
            let m = rn.checked_mul(pow10(k)?)? / rd;
            let mut r = Dec { m, s: k };
            if preferred > k as i64 {
                r = Dec {
                    m: r.rescale(preferred as u32)?,
                    s: preferred as u32,
                };
            }
            return Some(r);
        }
        let precision = digits(self.m).max(digits(o.m)) + 10;
        // integer digits of the quotient, or leading zeros after the point
        let q = n.checked_abs()? / d;
        let scale: i64 = if q > 0 {
            precision as i64 - digits(q) as i64
        } else {
            let mut e = 0i64;
            let mut t = n.checked_abs()?;
            while t < d {
                t = t.checked_mul(10)?;
                e += 1;
            }
            precision as i64 + e - 1
        };
        let scale = scale.clamp(0, MAX_SCALE as i64) as u32;
        let mut r = Dec {
            m: div_half_up(n.checked_mul(pow10(scale)?)?, d),
            s: scale,
        };
        if digits(r.m) > precision && r.s > 0 {
            r = Dec {
                m: div_half_up(r.m, 10),
                s: r.s - 1,
            };
        }
        let s = r.s.max(self.s).max(o.s);
        if s > 10 {
            let cut = r.s.saturating_sub(10);
            if cut > 0 {
                r = Dec {
                    m: div_half_up(r.m, pow10(cut)?),
                    s: 10,
                };
            }
        }
        Some(r)
    }

    pub fn cmp(self, o: Dec) -> Ordering {
        let s = self.s.max(o.s);
        match (self.rescale(s), o.rescale(s)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self
                .to_f64()
                .partial_cmp(&o.to_f64())
                .unwrap_or(Ordering::Equal),
        }
    }

    pub fn to_f64(self) -> f64 {
        self.to_string().parse().unwrap_or(0.0)
    }

    /// Truncated toward zero, like Java's `intValue()`/`longValue()`.
    pub fn trunc(self) -> i128 {
        match pow10(self.s) {
            Some(p) => self.m / p,
            None => 0,
        }
    }

    pub fn set_scale_half_up(self, s: u32) -> Option<Dec> {
        if s >= self.s {
            Some(Dec {
                m: self.rescale(s)?,
                s,
            })
        } else {
            Some(Dec {
                m: div_half_up(self.m, pow10(self.s - s)?),
                s,
            })
        }
    }

    /// `self / o` to `scale` decimal places, truncated (callers round it again).
    pub fn div_exact_to(self, o: Dec, scale: u32) -> Option<Dec> {
        if o.is_zero() {
            return None;
        }
        // m1/10^s1 ÷ m2/10^s2 = (m1 · 10^(scale + s2 - s1)) / m2 at `scale`
        let shift = i64::from(scale) + i64::from(o.s) - i64::from(self.s);
        let num = if shift >= 0 {
            self.m.checked_mul(pow10(u32::try_from(shift).ok()?)?)?
        } else {
            self.m / pow10(u32::try_from(-shift).ok()?)?
        };
        Some(Dec {
            m: num / o.m,
            s: scale,
        })
    }

    /// `setScale(s, mode)`: `s` decimal places, rounded by `mode`. A negative `s` rounds to tens,
    /// hundreds, … (kept at scale 0 here). `Err` says why there is no answer.
    pub fn set_scale(self, s: i64, mode: Rounding) -> Result<Dec, &'static str> {
        const TOO_LARGE: &str = "the number is too large for that scale";
        let target = u32::try_from(s.max(0)).map_err(|_| TOO_LARGE)?;
        if s >= 0 && target >= self.s {
            if target > MAX_SCALE {
                return Err(TOO_LARGE);
            }
            return Ok(Dec {
                m: self.rescale(target).ok_or(TOO_LARGE)?,
                s: target,
            });
        }
        let drop = u32::try_from(i64::from(self.s) - s).map_err(|_| TOO_LARGE)?;
        let Some(p) = pow10(drop) else {
            // every digit is dropped: the result is 0, or ±1 unit when rounding away from zero
            return Dec { m: 0, s: self.s }.set_scale(s, mode);
        };
        let (mut q, r) = (self.m / p, self.m % p);
        if r != 0 {
            let sign = self.m.signum();
            let twice = r.unsigned_abs() * 2;
            let half = twice.cmp(&p.unsigned_abs());
            let away = match mode {
                Rounding::Up => true,
                Rounding::Down => false,
                Rounding::Ceiling => sign > 0,
                Rounding::Floor => sign < 0,
                Rounding::HalfUp => half != Ordering::Less,
                Rounding::HalfDown => half == Ordering::Greater,
                Rounding::HalfEven => {
                    half == Ordering::Greater || (half == Ordering::Equal && q % 2 != 0)
                }
                Rounding::Unnecessary => return Err("Rounding necessary"),
            };
            if away {
                q += sign;
            }
        }
        if s >= 0 {
            Ok(Dec { m: q, s: target })
        } else {
            let up = pow10(u32::try_from(-s).map_err(|_| TOO_LARGE)?).ok_or(TOO_LARGE)?;
            Ok(Dec {
                m: q.checked_mul(up).ok_or(TOO_LARGE)?,
                s: 0,
            })
        }
    }

    /// Without trailing zeros in the fraction (`stripTrailingZeros`, clamped at scale 0).
    pub fn stripped(self) -> Dec {
        let mut r = self;
        while r.s > 0 && r.m % 10 == 0 {
            r = Dec {
                m: r.m / 10,
                s: r.s - 1,
            };
        }
        r
    }
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

fn div_half_up(n: i128, d: i128) -> i128 {
    if d == 0 || (n == i128::MIN && d == -1) {
        return n;
    }
    let q = n / d;
    let r = n % d;
    if r.unsigned_abs() * 2 >= d.unsigned_abs() {
        if (n < 0) != (d < 0) { q - 1 } else { q + 1 }
    } else {
        q
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.m < 0;
        let digits = self.m.unsigned_abs().to_string();
        let s = self.s as i64;
        let adjusted = digits.len() as i64 - 1 - s;
        if neg {
            f.write_str("-")?;
        }
        if s == 0 {
            return f.write_str(&digits);
        }
        if adjusted >= -6 {
            if digits.len() as i64 > s {
                let (a, b) = digits.split_at(digits.len() - s as usize);
                write!(f, "{a}.{b}")
            } else {
                write!(f, "0.{}{}", "0".repeat((s as usize) - digits.len()), digits)
            }
        } else {
            let (a, b) = digits.split_at(1);
            if b.is_empty() {
                write!(f, "{a}E{adjusted}")
            } else {
                write!(f, "{a}.{b}E{adjusted}")
            }
        }
    }
}

/// Java's `Double.toString`.
pub fn fmt_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let a = v.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{v:?}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{v:e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let m = if m.contains('.') {
                    m.to_string()
                } else {
                    format!("{m}.0")
                };
                format!("{m}E{e}")
            }
            None => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap_or(Dec { m: 0, s: 0 })
    }

    #[test]
    fn division_follows_groovy() {
        assert_eq!(
            d("5").div(d("2")).map(|r| r.to_string()),
            Some("2.5".into())
        );
        assert_eq!(d("6").div(d("3")).map(|r| r.to_string()), Some("2".into()));
        assert_eq!(
            d("1").div(d("3")).map(|r| r.to_string()),
            Some("0.3333333333".into())
        );
        assert_eq!(
            d("2").div(d("3")).map(|r| r.to_string()),
            Some("0.6666666667".into())
        );
    }

    #[test]
    fn adds_exactly_and_prints_like_java() {
        assert_eq!(
            d("0.1").add(d("0.2")).map(|r| r.to_string()),
            Some("0.3".into())
        );
        assert_eq!(d("2.50").to_string(), "2.50");
        assert_eq!(fmt_double(1.5), "1.5");
        assert_eq!(fmt_double(1e10), "1.0E10");
    }
}
