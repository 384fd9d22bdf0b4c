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

#[cfg(test)]
mod tests {
    use super::*;

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
