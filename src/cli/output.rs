//! How the CLI writes for people: numbers with the catalog's decimals and grouped
//! thousands, tables in aligned columns, and standard output that a closed pipe (`| head`)
//! ends quietly instead of with a panic.
//!
//! Digits are grouped with spaces (`5 503 297`), the SI and Finnish convention, and
//! decimals written with a point: a comma would be a decimal separator to a Finnish reader
//! and a thousands separator to an English one. Figures not available are written `..`, as
//! Statistics Finland writes them.

use std::io::Write;

use crate::domain::text::printable;

/// What the tables print for a figure that is not available.
pub(crate) const NOT_AVAILABLE: &str = "..";

/// `v` with `decimals` decimals and its integer digits grouped by three with spaces.
pub(crate) fn number(v: f64, decimals: u32) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let text = format!("{:.*}", decimals as usize, v.abs());
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let mut out = String::new();
    // "-0" after rounding is just 0.
    if v < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// [`number`], or [`NOT_AVAILABLE`].
pub(crate) fn opt_number(v: Option<f64>, decimals: u32) -> String {
    v.map(|v| number(v, decimals))
        .unwrap_or_else(|| NOT_AVAILABLE.into())
}

/// A signed change: `+1 234` / `-56.0`.
pub(crate) fn signed(v: f64, decimals: u32) -> String {
    let n = number(v, decimals);
    if n.starts_with('-') || n.chars().all(|c| c == '0' || c == '.') {
        n
    } else {
        format!("+{n}")
    }
}

/// A column's alignment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table: headers, rows of cells, aligned by the widest cell of each column.
pub(crate) struct Table {
    headers: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(headers: &[(&'static str, Align)]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A row; control characters in a cell are written out (stored text never moves the
    /// cursor or hides what follows).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len(), "one cell per column");
        let cells = cells
            .into_iter()
            .map(|c| match printable(&c) {
                std::borrow::Cow::Borrowed(_) => c,
                std::borrow::Cow::Owned(p) => p,
            })
            .collect();
        self.rows.push(cells);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, columns two spaces apart, every line ending in a newline.
    pub(crate) fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let widths: Vec<usize> = self
            .headers
            .iter()
            .enumerate()
            .map(|(i, (h, _))| {
                self.rows
                    .iter()
                    .map(|r| width(&r[i]))
                    .chain([width(h)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        let headers: Vec<String> = self.headers.iter().map(|(h, _)| (*h).to_owned()).collect();
        for cells in std::iter::once(&headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i] - width(cell);
                if i > 0 {
                    line.push_str("  ");
                }
                match self.headers[i].1 {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
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

/// Writes `text` to standard output. A reader that has gone away (`| head`) ends the
/// output quietly: that is not an error of this command.
pub(crate) fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

/// Whether an error is a closed pipe on our output.
pub(crate) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_group_thousands_with_the_catalog_decimals() {
        assert_eq!(number(5_503_297.0, 0), "5 503 297");
        assert_eq!(number(91_088.0, 0), "91 088");
        assert_eq!(number(-5_258_323.0, 0), "-5 258 323");
        assert_eq!(number(7.456, 1), "7.5");
        assert_eq!(number(1234.5, 2), "1 234.50");
        assert_eq!(number(-0.04, 1), "0.0");
        assert_eq!(number(999.0, 0), "999");
        assert_eq!(opt_number(None, 0), "..");
        assert_eq!(signed(12.0, 0), "+12");
        assert_eq!(signed(-1500.0, 0), "-1 500");
        assert_eq!(signed(0.0, 1), "0.0");
    }

    #[test]
    fn tables_align_by_the_widest_cell() {
        let mut t = Table::new(&[("region", Align::Left), ("value", Align::Right)]);
        t.row(vec!["Ahvenanmaa".into(), "30 129".into()]);
        t.row(vec!["Uusimaa".into(), "1 689 725".into()]);
        assert_eq!(
            t.render(),
            "region          value\nAhvenanmaa     30 129\nUusimaa     1 689 725\n"
        );
    }
}
