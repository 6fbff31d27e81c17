//! Output formatting: aligned tables, sizes, durations and wall-clock deadlines.

use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime};

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text columns.
    Left,
    /// Number columns.
    Right,
}

/// A plain-text table whose columns are padded to their widest cell.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<&'static str>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|(name, _)| *name).collect(),
            align: columns.iter().map(|(_, align)| *align).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells are empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
        self
    }

    /// The table with a header line, each line indented by `indent` spaces.
    pub fn render(&self, indent: usize) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            out.push_str(&" ".repeat(indent));
            let mut line = String::new();
            for (index, cell) in row.iter().enumerate() {
                if index > 0 {
                    line.push_str("  ");
                }
                let pad = widths[index].saturating_sub(cell.chars().count());
                match self.align[index] {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&" ".repeat(pad));
                    }
                    Align::Right => {
                        line.push_str(&" ".repeat(pad));
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A byte count for people: `812 B`, `4.0 KiB`, `1.5 MiB`.
pub fn bytes(count: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if count < 1024 {
        return format!("{count} B");
    }
    let mut value = count as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration for a timing column: `850 ms`, `2.31 s`.
pub fn elapsed(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{:.2} s", duration.as_secs_f64())
    }
}

/// A rounded duration: `2d 3h`, `5h 59m`, `5m 2s`, `12s`.
pub fn approx(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (days, hours, minutes, seconds) =
        (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = if days > 0 {
        write!(out, "{days}d {hours}h")
    } else if secs >= 3_600 {
        write!(out, "{}h {minutes}m", secs / 3_600)
    } else if secs >= 60 {
        write!(out, "{minutes}m {seconds}s")
    } else {
        write!(out, "{seconds}s")
    };
    out
}

/// The wall-clock time of an `Instant` deadline (kad keeps expiry as an `Instant`).
pub fn wall_clock(deadline: Instant) -> SystemTime {
    let now = Instant::now();
    let wall = SystemTime::now();
    match deadline.checked_duration_since(now) {
        Some(ahead) => wall + ahead,
        None => wall - now.duration_since(deadline),
    }
}

/// An `Instant` deadline as unix milliseconds (0 for one before 1970).
pub fn unix_ms(deadline: Instant) -> u64 {
    wall_clock(deadline)
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A wall-clock time as RFC 3339 UTC to the second: `2025-01-31T12:00:00Z`.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Unix milliseconds as RFC 3339 UTC to the second.
pub fn timestamp_ms(unix_ms: u64) -> String {
    timestamp(SystemTime::UNIX_EPOCH + Duration::from_millis(unix_ms))
}

/// `text` as one word for a POSIX shell: as it is when it holds only characters no shell treats
/// specially, else in single quotes.
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@%,".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(
            shell_quote("/tmp/netabase-demo-1/node.redb"),
            "/tmp/netabase-demo-1/node.redb"
        );
        assert_eq!(shell_quote("/tmp/my demo"), "'/tmp/my demo'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let mut table = Table::new(&[("NAME", Align::Left), ("COUNT", Align::Right)]);
        table.row(vec!["a".into(), "1".into()]);
        table.row(vec!["longer".into(), "1234567".into()]);
        assert_eq!(
            table.render(0),
            "NAME      COUNT\na             1\nlonger  1234567\n"
        );
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(4096), "4.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(elapsed(Duration::from_millis(850)), "850 ms");
        assert_eq!(elapsed(Duration::from_millis(2310)), "2.31 s");
        assert_eq!(approx(Duration::from_secs(48 * 3600 - 60)), "1d 23h");
        assert_eq!(approx(Duration::from_secs(3 * 86_400 + 7200)), "3d 2h");
        assert_eq!(approx(Duration::from_secs(302)), "5m 2s");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let epoch_plus_a_day = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400);
        assert_eq!(timestamp(epoch_plus_a_day), "1970-01-02T00:00:00Z");
    }
}
