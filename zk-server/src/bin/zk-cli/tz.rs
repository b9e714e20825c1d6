//! The local time zone, as Java finds it: `TZ` (a zone name, a file or a POSIX rule), else
//! `/etc/localtime`; read from the TZif file (RFC 8536) and its POSIX footer. Falls back to
//! GMT, as Java does when it cannot tell.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One kind of local time: its offset east of UTC and its abbreviation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalType {
    /// Seconds east of UTC.
    pub offset: i32,
    /// The abbreviation, e.g. `UTC`, `CEST`, `-03`.
    pub abbr: String,
}

/// A time zone: transitions from a TZif file, then a POSIX rule for later times.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    transitions: Vec<i64>,
    type_of: Vec<usize>,
    types: Vec<LocalType>,
    rule: Option<PosixTz>,
}

/// The process's local zone (read once).
pub fn local() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(load)
}

fn load() -> Zone {
    let from_file = |p: &Path| std::fs::read(p).ok().and_then(|b| parse_tzif(&b));
    match std::env::var("TZ") {
        Ok(tz) if !tz.is_empty() => {
            let name = tz.strip_prefix(':').unwrap_or(&tz);
            let path = if name.starts_with('/') {
                PathBuf::from(name)
            } else {
                Path::new("/usr/share/zoneinfo").join(name)
            };
            from_file(&path)
                .or_else(|| PosixTz::parse(name).map(Zone::from_rule))
                .unwrap_or_else(Zone::gmt)
        }
        _ => from_file(Path::new("/etc/localtime")).unwrap_or_else(Zone::gmt),
    }
}

impl Zone {
    /// GMT (Java's fallback zone).
    pub fn gmt() -> Self {
        Self::from_rule(PosixTz {
            std: LocalType {
                offset: 0,
                abbr: "GMT".into(),
            },
            dst: None,
        })
    }

    fn from_rule(rule: PosixTz) -> Self {
        Self {
            rule: Some(rule),
            ..Self::default()
        }
    }

    /// The local time type in effect at `t` (seconds since the epoch).
    pub fn lookup(&self, t: i64) -> LocalType {
        let after = self.transitions.partition_point(|&x| x <= t);
        if after == self.transitions.len() {
            if let Some(rule) = &self.rule {
                return rule.lookup(t);
            }
        }
        let ty = match after {
            0 => 0,
            n => self.type_of[n - 1],
        };
        self.types.get(ty).cloned().unwrap_or(LocalType {
            offset: 0,
            abbr: "GMT".into(),
        })
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 4)?;
    usize::try_from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])).ok()
}

fn be_i64(b: &[u8], at: usize, size: usize) -> Option<i64> {
    let s = b.get(at..at + size)?;
    Some(if size == 8 {
        i64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
    } else {
        i64::from(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    })
}

/// The counts of a TZif header: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.
fn header(b: &[u8], at: usize) -> Option<(u8, [usize; 6])> {
    if b.get(at..at + 4)? != b"TZif" {
        return None;
    }
    let version = *b.get(at + 4)?;
    let mut c = [0; 6];
    for (i, v) in c.iter_mut().enumerate() {
        *v = be_u32(b, at + 20 + 4 * i)?;
    }
    Some((version, c))
}

fn block_len(c: &[usize; 6], time_size: usize) -> usize {
    let [isut, isstd, leap, time, ty, chars] = *c;
    time * time_size + time + ty * 6 + chars + leap * (time_size + 4) + isstd + isut
}

/// Parses a TZif file (version 1, or the 64-bit data and footer of versions 2+).
pub fn parse_tzif(b: &[u8]) -> Option<Zone> {
    let (version, c1) = header(b, 0)?;
    if version == 0 {
        return parse_block(b, 44, &c1, 4).map(|(z, _)| z);
    }
    let at = 44 + block_len(&c1, 4);
    let (_, c2) = header(b, at)?;
    let (mut zone, end) = parse_block(b, at + 44, &c2, 8)?;
    let footer = b.get(end..).unwrap_or_default();
    if let Some(rest) = footer.strip_prefix(b"\n") {
        let line = rest.split(|&x| x == b'\n').next().unwrap_or_default();
        zone.rule = std::str::from_utf8(line).ok().and_then(PosixTz::parse);
    }
    Some(zone)
}

fn parse_block(b: &[u8], at: usize, c: &[usize; 6], size: usize) -> Option<(Zone, usize)> {
    let [isut, isstd, leap, time, ty, chars] = *c;
    let mut p = at;
    let mut transitions = Vec::with_capacity(time);
    for i in 0..time {
        transitions.push(be_i64(b, p + i * size, size)?);
    }
    p += time * size;
    let type_of: Vec<usize> = b
        .get(p..p + time)?
        .iter()
        .map(|&x| usize::from(x))
        .collect();
    p += time;
    let raw_types = b.get(p..p + ty * 6)?.to_vec();
    p += ty * 6;
    let abbrs = b.get(p..p + chars)?;
    p += chars + leap * (size + 4) + isstd + isut;
    let types = raw_types
        .chunks(6)
        .map(|t| {
            let offset = i32::from_be_bytes([t[0], t[1], t[2], t[3]]);
            let start = usize::from(t[5]).min(abbrs.len());
            let end = abbrs[start..]
                .iter()
                .position(|&x| x == 0)
                .map_or(abbrs.len(), |e| start + e);
            LocalType {
                offset,
                abbr: String::from_utf8_lossy(&abbrs[start..end]).into_owned(),
            }
        })
        .collect();
    let zone = Zone {
        transitions,
        type_of,
        types,
        rule: None,
    };
    Some((zone, p))
}

/// A POSIX `TZ` rule such as `CET-1CEST,M3.5.0,M10.5.0/3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixTz {
    std: LocalType,
    dst: Option<(LocalType, RuleDate, i64, RuleDate, i64)>,
}

/// When daylight time starts or ends within a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleDate {
    /// `Jn`: day 1..=365, February 29 never counted.
    JulianNoLeap(i64),
    /// `n`: day 0..=365, counting February 29.
    Julian(i64),
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    Month(i64, i64, i64),
}

struct Cursor<'a>(&'a str);

impl Cursor<'_> {
    fn eat(&mut self, c: char) -> bool {
        match self.0.strip_prefix(c) {
            Some(r) => {
                self.0 = r;
                true
            }
            None => false,
        }
    }

    fn number(&mut self) -> Option<i64> {
        let end = self
            .0
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.0.len());
        let (n, r) = self.0.split_at(end);
        self.0 = r;
        n.parse().ok()
    }

    fn name(&mut self) -> Option<String> {
        if self.eat('<') {
            let end = self.0.find('>')?;
            let (n, r) = self.0.split_at(end);
            self.0 = &r[1..];
            return Some(n.to_string());
        }
        let end = self
            .0
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(self.0.len());
        let (n, r) = self.0.split_at(end);
        self.0 = r;
        (n.len() >= 3).then(|| n.to_string())
    }

    /// `[+-]hh[:mm[:ss]]` in seconds.
    fn time(&mut self) -> Option<i64> {
        let sign = if self.eat('-') {
            -1
        } else {
            self.eat('+');
            1
        };
        let mut secs = self.number()? * 3600;
        if self.eat(':') {
            secs += self.number()? * 60;
            if self.eat(':') {
                secs += self.number()?;
            }
        }
        Some(sign * secs)
    }

    fn date(&mut self) -> Option<(RuleDate, i64)> {
        let date = if self.eat('M') {
            let m = self.number()?;
            self.eat('.').then_some(())?;
            let w = self.number()?;
            self.eat('.').then_some(())?;
            RuleDate::Month(m, w, self.number()?)
        } else if self.eat('J') {
            RuleDate::JulianNoLeap(self.number()?)
        } else {
            RuleDate::Julian(self.number()?)
        };
        let time = if self.eat('/') { self.time()? } else { 7200 };
        Some((date, time))
    }
}

impl PosixTz {
    /// Parses a POSIX `TZ` string; `None` if it is not one.
    pub fn parse(s: &str) -> Option<Self> {
        let mut c = Cursor(s);
        let std_abbr = c.name()?;
        let std_off = -c.time()?;
        let std = LocalType {
            offset: i32::try_from(std_off).ok()?,
            abbr: std_abbr,
        };
        if c.0.is_empty() {
            return Some(Self { std, dst: None });
        }
        let dst_abbr = c.name()?;
        let dst_off = if c.0.is_empty() || c.0.starts_with(',') {
            std_off + 3600
        } else {
            -c.time()?
        };
        let (start, start_t, end, end_t) = if c.eat(',') {
            let (s, st) = c.date()?;
            c.eat(',').then_some(())?;
            let (e, et) = c.date()?;
            (s, st, e, et)
        } else {
            (
                RuleDate::Month(3, 2, 0),
                7200,
                RuleDate::Month(11, 1, 0),
                7200,
            )
        };
        let dst = LocalType {
            offset: i32::try_from(dst_off).ok()?,
            abbr: dst_abbr,
        };
        Some(Self {
            std,
            dst: Some((dst, start, start_t, end, end_t)),
        })
    }

    fn lookup(&self, t: i64) -> LocalType {
        let Some((dst, start, start_t, end, end_t)) = &self.dst else {
            return self.std.clone();
        };
        let (year, _, _) = civil_from_days((t + i64::from(self.std.offset)).div_euclid(86_400));
        let std_off = i64::from(self.std.offset);
        let dst_off = i64::from(dst.offset);
        let begins = rule_day(*start, year) * 86_400 + start_t - std_off;
        let ends = rule_day(*end, year) * 86_400 + end_t - dst_off;
        let in_dst = if begins < ends {
            begins <= t && t < ends
        } else {
            !(ends <= t && t < begins)
        };
        if in_dst {
            dst.clone()
        } else {
            self.std.clone()
        }
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of the rule's date in `year`.
fn rule_day(d: RuleDate, year: i64) -> i64 {
    let jan1 = days_from_civil(year, 1, 1);
    match d {
        RuleDate::JulianNoLeap(n) => jan1 + n - 1 + i64::from(is_leap(year) && n >= 60),
        RuleDate::Julian(n) => jan1 + n,
        RuleDate::Month(m, w, wd) => {
            let first = days_from_civil(year, m, 1);
            let first_wd = (first + 4).rem_euclid(7);
            let mut day = 1 + (wd - first_wd).rem_euclid(7) + (w - 1) * 7;
            while day > days_in_month(year, m) {
                day -= 7;
            }
            first + day - 1
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01: (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for d in [-800_000, -1, 0, 59, 10_000, 20_000, 2_000_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn posix_rules_pick_daylight_time() {
        let cet = PosixTz::parse("CET-1CEST,M3.5.0,M10.5.0/3").expect("parses");
        // 2024-07-01 12:00 UTC is summer; 2024-01-15 12:00 UTC is winter.
        let summer = days_from_civil(2024, 7, 1) * 86_400 + 43_200;
        let winter = days_from_civil(2024, 1, 15) * 86_400 + 43_200;
        assert_eq!(cet.lookup(summer).abbr, "CEST");
        assert_eq!(cet.lookup(summer).offset, 7200);
        assert_eq!(cet.lookup(winter).abbr, "CET");
        // 2024-03-31 01:00 UTC is the switch to CEST.
        let switch = days_from_civil(2024, 3, 31) * 86_400 + 3600;
        assert_eq!(cet.lookup(switch - 1).abbr, "CET");
        assert_eq!(cet.lookup(switch).abbr, "CEST");
        let south = PosixTz::parse("<-03>3").expect("parses");
        assert_eq!(south.lookup(0).abbr, "-03");
        assert_eq!(south.lookup(0).offset, -10_800);
        let utc = PosixTz::parse("UTC0").expect("parses");
        assert_eq!(utc.lookup(summer).offset, 0);
    }

    #[test]
    fn reads_system_zone_files_when_present() {
        if let Ok(b) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") {
            let z = parse_tzif(&b).expect("parses");
            let summer = days_from_civil(2024, 7, 1) * 86_400;
            assert_eq!(z.lookup(summer).abbr, "CEST");
            let far = days_from_civil(2100, 1, 1) * 86_400;
            assert_eq!(z.lookup(far).abbr, "CET");
        }
    }
}
