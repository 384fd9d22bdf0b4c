//! Client text quoted back in answers and errors, cut to a bounded length.

/// Longest quotation of a client's text (a code, an id) in a message: enough to recognise
/// it, short enough that quoting a megabyte-long id cannot blow up an error.
pub(crate) const MAX_QUOTED: usize = 80;

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
}
