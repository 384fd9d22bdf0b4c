//! Client text: which control characters it may hold, and how it is quoted back in answers
//! and errors, cut to a bounded length.

/// Longest quotation of a client's text (a code, an id) in a message: enough to recognise
/// it, short enough that quoting a megabyte-long id cannot blow up an error.
pub(crate) const MAX_QUOTED: usize = 80;

/// Whether a text may span lines: a note or a reason may hold tabs and line feeds; a
/// name, a unit, an id or a source is one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lines {
    One,
    Many,
}

/// Why `s` is refused for the control characters it holds (escape, bell, NUL, carriage
/// return...: they rewrite a terminal, break a CSV row or hide text), naming the first;
/// `None` when it holds none it may not.
pub(crate) fn control_characters(s: &str, lines: Lines) -> Option<String> {
    let allowed = |c: char| lines == Lines::Many && (c == '\t' || c == '\n');
    s.chars().find(|c| c.is_control() && !allowed(*c)).map(|c| {
        let what = match lines {
            Lines::One => "no control characters",
            Lines::Many => "no control characters but tabs and line feeds",
        };
        format!("must hold {what} (found U+{:04X})", u32::from(c))
    })
}

/// `s` for a terminal or a table cell: every control character written out (`\u{1b}`,
/// `\n`), so that stored text cannot move the cursor, ring or hide what follows.
pub(crate) fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A whole number as a parameter writes it: ASCII digits without a sign, spaces or leading
/// zeros (`0` itself aside), so that one number has one spelling; `None` otherwise or when
/// it does not fit.
pub(crate) fn plain_number(s: &str) -> Option<u64> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// A year as a parameter writes it: four digits, 1000..9999.
pub(crate) fn plain_year(s: &str) -> Option<i32> {
    plain_number(s)
        .filter(|y| (1000..=9999).contains(y))
        .map(|y| y as i32)
}

/// The longest start of `s` of at most `max` bytes that ends at a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to at most `max` bytes in all, with "…" when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    format!("{}…", prefix(s, max.saturating_sub('…'.len_utf8())))
}

/// `s` for quoting in a message: its first [`MAX_QUOTED`] bytes, with "…" when cut.
pub(crate) fn clip(s: &str) -> String {
    if s.len() <= MAX_QUOTED {
        return s.to_owned();
    }
    format!("{}…", prefix(s, MAX_QUOTED))
}

/// Finland's time zone: a time a person types without an offset, and every time the CLI
/// shows, is Finnish time (EET, EEST in summer).
pub(crate) const ZONE: chrono_tz::Tz = chrono_tz::Europe::Helsinki;

/// Which instant of a day a plain date (`2021-06-01`) stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Day {
    /// Its first microsecond (a publication on that day).
    Start,
    /// Its last microsecond (what was known on that day, a deadline).
    End,
}

/// An instant in microseconds since the Unix epoch: RFC 3339 with an offset
/// (`2021-05-12T10:15:00Z`, `…+03:00`), a date-time without one taken in Finnish time
/// (`2021-05-12T13:15`, `2021-05-12 13:15:00`), or a plain date: the first or last
/// microsecond of that day in Finland, as `day` says. `Err` says what was expected.
pub(crate) fn instant(s: &str, day: Day) -> Result<i64, String> {
    use chrono::TimeZone;
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        // A leap second (`…:60`) is the last microsecond of the second before it.
        let nanos = i64::from(t.timestamp_subsec_nanos().min(999_999_999));
        return Ok(t.timestamp() * 1_000_000 + nanos / 1000);
    }
    let local = |t: chrono::NaiveDateTime| -> Result<i64, String> {
        // In October's repeated hour the earlier (summer) instant; in March's skipped hour
        // there is none.
        ZONE.from_local_datetime(&t)
            .earliest()
            .map(|t| t.timestamp_micros())
            .ok_or_else(|| {
                format!(
                    "{:?} does not exist in Finnish time (the clocks were put forward an hour)",
                    clip(s)
                )
            })
    };
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return local(t);
        }
    }
    let date = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        format!(
            "{:?} is neither a date (2021-06-01), a Finnish time (2021-06-01T12:00) nor an \
             RFC 3339 time with an offset (2021-05-12T10:15:00Z)",
            clip(s)
        )
    })?;
    // Midnight exists on every day in Finland (the clocks change at 03:00 and 04:00).
    let start = local(date.and_time(chrono::NaiveTime::MIN))?;
    Ok(match day {
        Day::Start => start,
        Day::End => match date.succ_opt() {
            Some(next) => local(next.and_time(chrono::NaiveTime::MIN))? - 1,
            None => return Err(format!("{:?} is the last day there is", clip(s))),
        },
    })
}

/// The year in Finland at `micros`: what "the current year" is (from 22:00 UTC on 31
/// December it is already the next one).
pub(crate) fn finnish_year(micros: i64) -> Option<i32> {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.with_timezone(&ZONE).year())
}

/// `micros` as a person reads it: Finnish time with its zone (`2026-09-30 23:59:59 EEST`).
pub(crate) fn finnish_time(micros: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(t) => t
            .with_timezone(&ZONE)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        None => format!("{micros} µs after 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_is_rfc3339_or_finnish_time_or_a_date_at_either_end_of_its_finnish_day() {
        let noon = instant("2021-05-12T10:15:00Z", Day::Start).unwrap();
        assert_eq!(noon, 1_620_814_500_000_000);
        assert_eq!(
            instant("2021-05-12T13:15:00+03:00", Day::End).unwrap(),
            noon
        );
        // Without an offset: Finnish time, summer (UTC+3) and winter (UTC+2).
        assert_eq!(instant("2021-05-12T13:15", Day::Start).unwrap(), noon);
        assert_eq!(instant("2021-05-12 13:15:00", Day::End).unwrap(), noon);
        assert_eq!(
            instant("2021-01-12T12:15:00", Day::Start).unwrap(),
            instant("2021-01-12T10:15:00Z", Day::Start).unwrap()
        );
        // A date: 1 June 2021 began at 21:00 UTC on 31 May, and ended a day later.
        let start = instant("2021-06-01", Day::Start).unwrap();
        assert_eq!(start, instant("2021-05-31T21:00:00Z", Day::Start).unwrap());
        assert_eq!(
            instant("2021-06-01", Day::End).unwrap(),
            start + 86_399_999_999
        );
        // The day the clocks go back has 25 hours; the day they go forward, 23.
        let long =
            instant("2021-10-31", Day::End).unwrap() - instant("2021-10-31", Day::Start).unwrap();
        assert_eq!(long, 25 * 3_600_000_000 - 1);
        let short =
            instant("2021-03-28", Day::End).unwrap() - instant("2021-03-28", Day::Start).unwrap();
        assert_eq!(short, 23 * 3_600_000_000 - 1);
        // 03:30 on 28 March 2021 was skipped; 03:30 on 31 October came twice (summer first).
        assert!(instant("2021-03-28T03:30", Day::Start)
            .unwrap_err()
            .contains("does not exist"));
        assert_eq!(
            instant("2021-10-31T03:30", Day::Start).unwrap(),
            instant("2021-10-31T00:30:00Z", Day::Start).unwrap()
        );
        assert!(instant("1.6.2021", Day::Start)
            .unwrap_err()
            .contains("neither"));
    }

    #[test]
    fn the_year_turns_at_finnish_midnight() {
        let new_year = instant("2026-01-01", Day::Start).unwrap();
        assert_eq!(finnish_year(new_year - 1), Some(2025));
        assert_eq!(finnish_year(new_year), Some(2026));
        assert_eq!(
            new_year,
            instant("2025-12-31T22:00:00Z", Day::Start).unwrap()
        );
    }

    #[test]
    fn finnish_time_says_its_zone() {
        let t = instant("2026-09-30", Day::End).unwrap();
        assert_eq!(finnish_time(t), "2026-09-30 23:59:59 EEST");
        let t = instant("2026-01-15T08:00:00Z", Day::Start).unwrap();
        assert_eq!(finnish_time(t), "2026-01-15 10:00:00 EET");
    }

    #[test]
    fn a_cut_keeps_whole_characters_and_says_it_was_cut() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("äääää", 7), "ää…");
        // 6 bytes leave 3 for text, which would end inside the second "ä".
        assert_eq!(cut("ääää", 6), "ä…");
        assert_eq!(clip(&"x".repeat(80)), "x".repeat(80));
        assert_eq!(clip(&"x".repeat(1000)), format!("{}…", "x".repeat(80)));
        assert_eq!(clip(&"ä".repeat(100)), format!("{}…", "ä".repeat(40)));
    }

    #[test]
    fn control_characters_are_refused_or_written_out() {
        for bad in ["a\u{1b}[2Jb", "bell\u{7}", "nul\0", "cr\r", "c1\u{9b}"] {
            assert!(control_characters(bad, Lines::Many).is_some(), "{bad:?}");
            assert!(control_characters(bad, Lines::One).is_some(), "{bad:?}");
        }
        assert_eq!(
            control_characters("two\tcolumns\nand lines", Lines::Many),
            None
        );
        let one = control_characters("a\tb", Lines::One).unwrap();
        assert!(one.contains("U+0009"), "{one}");
        assert_eq!(
            control_characters("Tilastokeskus – väestö", Lines::One),
            None
        );
        assert_eq!(printable("plain ä"), "plain ä");
        assert_eq!(printable("a\u{1b}[2J\r\nb\\"), "a\\u{1b}[2J\\r\\nb\\");
    }

    #[test]
    fn numbers_in_parameters_have_one_spelling() {
        assert_eq!(plain_number("0"), Some(0));
        assert_eq!(plain_number("2019"), Some(2019));
        for bad in [
            "",
            "002019",
            "+2019",
            " 2019",
            "2019 ",
            "-1",
            "1e3",
            "99999999999999999999",
        ] {
            assert_eq!(plain_number(bad), None, "{bad:?}");
        }
        assert_eq!(plain_year("2019"), Some(2019));
        assert_eq!(plain_year("999"), None);
        assert_eq!(plain_year("10000"), None);
    }
}
