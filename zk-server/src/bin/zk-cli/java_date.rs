//! `java.util.Date.toString()`: `EEE MMM dd HH:mm:ss zzz yyyy` in the local time zone, e.g.
//! `Sun Nov 22 23:30:00 UTC 2026`.

use crate::tz;

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats milliseconds since the epoch as Java's `Date.toString()` in the local zone.
pub fn format(ms: i64) -> String {
    format_in(ms, tz::local())
}

/// Formats milliseconds since the epoch as Java's `Date.toString()` in `zone`.
pub fn format_in(ms: i64, zone: &tz::Zone) -> String {
    let secs = ms.div_euclid(1000);
    let local_type = zone.lookup(secs);
    let local = secs + i64::from(local_type.offset);
    let days = local.div_euclid(86_400);
    let sod = local.rem_euclid(86_400);
    let (y, m, d) = tz::civil_from_days(days);
    let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
    let month = usize::try_from(m - 1).unwrap_or(0);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} {} {}",
        DAYS[weekday],
        MONTHS[month],
        d,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        zone_name(&local_type),
        y
    )
}

/// Java's short zone name: the abbreviation, or `GMT+hh:mm` for zones whose tzdata
/// abbreviation is numeric (Java has no name for them).
fn zone_name(t: &tz::LocalType) -> String {
    let numeric = t.abbr.is_empty() || t.abbr.starts_with(['+', '-']);
    if !numeric {
        return t.abbr.clone();
    }
    let sign = if t.offset < 0 { '-' } else { '+' };
    let off = t.offset.unsigned_abs();
    format!("GMT{sign}{:02}:{:02}", off / 3600, off % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_java_date() {
        let utc = tz::Zone::gmt();
        assert_eq!(format_in(0, &utc), "Thu Jan 01 00:00:00 GMT 1970");
        assert_eq!(
            format_in(1_795_390_200_123, &utc),
            "Sun Nov 22 23:30:00 GMT 2026"
        );
        assert_eq!(format_in(-1, &utc), "Wed Dec 31 23:59:59 GMT 1969");
        let cet =
            tz::parse_tzif(&std::fs::read("/usr/share/zoneinfo/Europe/Berlin").unwrap_or_default());
        if let Some(cet) = cet {
            assert_eq!(
                format_in(1_719_835_200_000, &cet),
                "Mon Jul 01 14:00:00 CEST 2024"
            );
        }
        let t = tz::LocalType {
            offset: -10_800,
            abbr: "-03".into(),
        };
        assert_eq!(zone_name(&t), "GMT-03:00");
    }
}
