//! Client text quoted back in answers and errors, cut to a bounded length.

/// Longest quotation of a client's text (a code, an id) in a message: enough to recognise
/// it, never a whole hostile input.
pub(crate) const MAX_QUOTED: usize = 80;

/// `s` cut to at most `max` bytes at a character boundary, with "…" when cut.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `s` cut to [`MAX_QUOTED`] bytes, for quoting it in a message.
pub(crate) fn clip(s: &str) -> String {
    cut(s, MAX_QUOTED)
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
        assert!(clip(&"x".repeat(1000)).len() <= MAX_QUOTED);
    }
}
