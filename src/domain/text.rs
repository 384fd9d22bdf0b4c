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

/// Which instant of a day a plain date (`2021-06-01`) stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Day {
    /// Its first microsecond (a publication on that day).
    Start,
    /// Its last microsecond (what was known on that day).
    End,
}

/// An instant in microseconds since the Unix epoch: RFC 3339 (`2021-05-12T10:15:00Z`), or a
/// plain date taken in UTC as `day` says. `Err` says what was expected.
pub(crate) fn instant(s: &str, day: Day) -> Result<i64, String> {
    let micros = |t: chrono::DateTime<chrono::Utc>| t.timestamp_micros();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(micros(t.to_utc()));
    }
    let date = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        format!(
            "{:?} is neither a date (2021-06-01) nor an RFC 3339 time (2021-05-12T10:15:00Z)",
            clip(s)
        )
    })?;
    let start = micros(date.and_time(chrono::NaiveTime::MIN).and_utc());
    Ok(match day {
        Day::Start => start,
        Day::End => start + 86_400_000_000 - 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_is_rfc3339_or_a_date_at_either_end_of_its_day() {
        let noon = instant("2021-05-12T10:15:00Z", Day::Start).unwrap();
        assert_eq!(noon, 1_620_814_500_000_000);
        assert_eq!(
            instant("2021-05-12T13:15:00+03:00", Day::End).unwrap(),
            noon
        );
        let start = instant("2021-06-01", Day::Start).unwrap();
        assert_eq!(start, 1_622_505_600_000_000);
        assert_eq!(
            instant("2021-06-01", Day::End).unwrap(),
            start + 86_399_999_999
        );
        assert!(instant("1.6.2021", Day::Start)
            .unwrap_err()
            .contains("neither"));
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
