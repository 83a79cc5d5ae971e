//! Listing output as the docker CLI writes it: `--format` (`table …`,
//! `json`, or a Go-like template, see [`super::template`]), tables aligned
//! as Go's `text/tabwriter` with the docker CLI's settings, and sizes and
//! ages as `github.com/docker/go-units` prints them.

use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde_json::Value;

use super::template::{go_json, Template};

/// How a listing is printed.
pub enum Format {
    /// A table: a header row then one row per item, columns aligned.
    Table(Template),
    /// One JSON object per line (`--format json`).
    Json,
    /// A template per item, no header.
    Raw(Template),
}

impl Format {
    /// Parses `--format`: `None` gives `default_table` (a template of the
    /// `{{.Field}}\t…` form); `table`/`table TEMPLATE`, `json`, or a
    /// template. `\t` and `\n` typed literally are tab and newline, as in
    /// the docker CLI.
    pub fn parse(format: Option<&str>, default_table: &str) -> Result<Format> {
        let f = format.unwrap_or("table");
        let unescape = |s: &str| s.trim().replace("\\t", "\t").replace("\\n", "\n");
        if f.trim() == "json" {
            return Ok(Format::Json);
        }
        if let Some(rest) = f.strip_prefix("table") {
            let t = if rest.trim().is_empty() {
                default_table
            } else {
                rest
            };
            return Ok(Format::Table(Template::parse(&unescape(t))?));
        }
        Ok(Format::Raw(Template::parse(&unescape(f))?))
    }

    /// Renders `items`; `headers` maps each field name to its column title
    /// (`{"ID": "IMAGE ID"}`), as the docker CLI names columns.
    pub fn render(&self, items: &[Value], headers: &Value) -> Result<String> {
        let mut out = String::new();
        match self {
            Format::Json => {
                for i in items {
                    out.push_str(&go_json(i));
                    out.push('\n');
                }
            }
            Format::Raw(t) => {
                for i in items {
                    out.push_str(&t.render(i)?);
                    out.push('\n');
                }
            }
            Format::Table(t) => {
                let mut lines = vec![t.render(headers)?];
                for i in items {
                    lines.push(t.render(i)?);
                }
                out = tabwrite(&lines.join("\n"));
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// Aligns tab-separated cells as Go's `tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)`
/// (the docker CLI's table writer): each tab-terminated cell is padded to
/// the widest cell of its column plus 3, at least 10 wide; the text after
/// a line's last tab is not a column. Widths count characters.
pub fn tabwrite(text: &str) -> String {
    let rows: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let columns = rows
        .iter()
        .map(|r| r.len().saturating_sub(1))
        .max()
        .unwrap_or(0);
    let mut widths = vec![10usize; columns];
    for r in &rows {
        for (i, cell) in r.iter().take(r.len() - 1).enumerate() {
            widths[i] = widths[i].max(cell.chars().count() + 3);
        }
    }
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < r.len() {
                    let pad = widths[i] - cell.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `units.HumanSizeWithPrecision(size, precision)`: decimal units (`kB`,
/// `MB`, …) and Go's `%.*g` (`117MB`, `1.23kB`, `0B`). The docker CLI uses
/// precision 3 in `images` and `history`, 4 (`HumanSize`) in `system df`.
pub fn human_size(size: u64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(v, precision), UNITS[i])
}

/// Go's `%.*g`: `precision` significant digits, exponent form when the
/// exponent is below -4 or at least `precision`, trailing zeros removed.
fn go_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let sci = format!("{:.*e}", precision.saturating_sub(1), v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

/// `units.HumanDuration`: `Less than a second`, `3 seconds`, `About a
/// minute`, `5 minutes`, `About an hour`, `7 hours`, `3 days`, `2 weeks`,
/// `4 months`, `56 years`.
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    let minutes = seconds / 60;
    let hours = (d.as_secs_f64() / 3600.0).round() as u64;
    if seconds < 1 {
        "Less than a second".into()
    } else if seconds == 1 {
        "1 second".into()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", seconds / 3600 / 24 / 365)
    }
}

/// `CREATED` as the docker CLI shows it: `2 weeks ago` for an RFC 3339
/// time, `N/A` when there is none.
pub fn created_since(created: Option<&str>) -> String {
    let Some(t) = created.and_then(parse_time) else {
        return "N/A".into();
    };
    let age = SystemTime::now().duration_since(t).unwrap_or_default();
    format!("{} ago", human_duration(age))
}

/// Year, month, day, hour, minute, second (UTC) of Unix time `secs`.
fn civil(secs: i64) -> [i64; 6] {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    [y, m, d, rem / 3600, rem % 3600 / 60, rem % 60]
}

/// `CreatedAt` of `docker images`: a Go `time.Time` printed (UTC here),
/// `2024-05-06 07:08:09 +0000 UTC`.
pub fn created_at(secs: i64) -> String {
    let [y, m, d, h, mi, s] = civil(secs);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02} +0000 UTC")
}

/// RFC 3339 in seconds, UTC (`docker history`'s `CreatedAt`).
pub fn rfc3339(secs: i64) -> String {
    let [y, m, d, h, mi, s] = civil(secs);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// An RFC 3339 time (image configs' `created`), before 1970 clamped to it.
pub fn parse_time(s: &str) -> Option<SystemTime> {
    let secs = rfc3339_secs(s)?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64))
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub fn rfc3339_secs(s: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        tz if tz.len() == 6 => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (tz.get(1..3)?.parse::<i64>().ok()? * 3600
                + tz.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86400 + h * 3600 + mi * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_units_and_tabwriter() {
        assert_eq!(human_size(0, 3), "0B");
        assert_eq!(human_size(999, 3), "999B");
        assert_eq!(human_size(4_860, 3), "4.86kB");
        assert_eq!(human_size(117_300_000, 3), "117MB");
        assert_eq!(human_size(1_234_567, 3), "1.23MB");
        assert_eq!(human_size(1_500_000, 4), "1.5MB");
        assert_eq!(human_size(999_999, 3), "1e+03kB");
        assert_eq!(rfc3339_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_secs("2024-05-06T07:08:09.123456789Z"),
            Some(1_714_979_289)
        );
        assert_eq!(
            rfc3339_secs("2024-05-06T09:08:09+02:00"),
            Some(1_714_979_289)
        );
        assert_eq!(created_at(1_714_979_289), "2024-05-06 07:08:09 +0000 UTC");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(human_duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(3 * 86400)), "3 days");
        assert_eq!(
            human_duration(Duration::from_secs(56 * 365 * 86400 + 99)),
            "56 years"
        );
        assert_eq!(
            tabwrite("A\tLONGER HEADER\tX\nvalue-that-is-long\tb\tlast"),
            "A                    LONGER HEADER   X\nvalue-that-is-long   b               last"
        );
    }
}
