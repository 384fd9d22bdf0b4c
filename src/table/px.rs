//! The PX (PC-Axis) file format, AXIS-VERSION 2013 (Statistics Sweden's "PX file format
//! specification"): a header of `KEYWORD[lang]("subkey",…)=value;` entries and a `DATA=`
//! section.
//!
//! What is read: `CODEPAGE` (UTF-8, ISO-8859-1, ISO-8859-15, Windows-1252; a file whose
//! bytes are UTF-8 while it declares a Latin code page is refused as mislabelled),
//! `LANGUAGE`/`LANGUAGES` and every keyword's translations (`TITLE[sv]`), `TABLEID` (or
//! `MATRIX`), `TITLE`, `SOURCE`, `STUB`/`HEADING` (the dimensions, the stub's first varying
//! slowest), `VALUES`, `CODES`, `TIMEVAL` and `VARIABLE-TYPE` (time), `CONTVARIABLE` (the
//! content dimension), `LAST-UPDATED` (the latest, with or without a content subkey),
//! `PRECISION`, `NOTE`/`NOTEX`, `VALUENOTE`/`VALUENOTEX`, `DATASYMBOL1`–`6` and
//! `DATASYMBOLNIL` (the strings used for missing values), `KEYS` (sparse tables: each
//! data row starts with the keys of the keyed stub variables) and `DATA` (numbers and
//! symbols, quoted or not). Other keywords are read and kept out of the way.
//!
//! A damaged file — an unterminated string, a missing `;`, a `DATA` section with more or
//! fewer values than the dimensions make, an unknown key — is refused with its line.

use std::collections::HashMap;

use super::{Category, Dimension, Role, Table, TableError};

/// One header entry: `KEYWORD[lang]("subkey",…)=value,…;`.
#[derive(Debug, Clone)]
struct Entry {
    keyword: String,
    lang: Option<String>,
    subkeys: Vec<String>,
    values: Vec<String>,
    line: usize,
}

/// One token of the `DATA` section: a slice of the file's text.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    quoted: bool,
    line: usize,
}

/// Reads a PX file.
pub(crate) fn read(bytes: &[u8]) -> Result<Table, TableError> {
    let text = decode(bytes)?;
    let (entries, data) = Parser::new(&text).parse()?;
    build(bytes, &entries, data)
}

fn line_of(bytes: &[u8], at: usize) -> usize {
    1 + bytes[..at.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// The file's text in the code page it declares.
fn decode(bytes: &[u8]) -> Result<String, TableError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let header_end = find(body, b"DATA=").unwrap_or(body.len());
    let codepage = find(&body[..header_end], b"CODEPAGE=").map(|at| {
        let rest = &body[at + b"CODEPAGE=".len()..header_end];
        let end = rest.iter().position(|b| *b == b';').unwrap_or(rest.len());
        String::from_utf8_lossy(&rest[..end])
            .trim()
            .trim_matches('"')
            .to_ascii_lowercase()
    });
    let utf8 = std::str::from_utf8(body);
    match codepage.as_deref() {
        Some("utf-8" | "utf8") => utf8.map(str::to_owned).map_err(|e| {
            TableError::at(
                format!("line {}", line_of(body, e.valid_up_to())),
                "the file declares CODEPAGE=\"utf-8\" but this line is not UTF-8: the code \
                 page is wrong or the file is damaged",
            )
        }),
        Some(
            cp @ ("iso-8859-1" | "iso8859-1" | "latin1" | "iso-8859-15" | "iso8859-15" | "latin9"
            | "windows-1252" | "cp1252"),
        ) => {
            if let (Ok(_), Some(at)) = (utf8, body.iter().position(|b| *b >= 0x80)) {
                return Err(TableError::at(
                    format!("line {}", line_of(body, at)),
                    format!(
                        "the file declares CODEPAGE=\"{cp}\" but its text is UTF-8: the \
                         code page is wrong (save it as {cp} or declare utf-8)"
                    ),
                ));
            }
            Ok(body.iter().map(|b| latin(*b, cp)).collect())
        }
        Some(other) => Err(TableError::at(
            format!(
                "line {}",
                line_of(body, find(body, b"CODEPAGE=").unwrap_or(0))
            ),
            format!(
                "CODEPAGE {:?} is not one this reader knows (utf-8, iso-8859-1, iso-8859-15, \
                 windows-1252)",
                crate::domain::text::clip(other)
            ),
        )),
        // The specification's default is ISO-8859-1; a file that is UTF-8 is read as such.
        None => Ok(match utf8 {
            Ok(s) => s.to_owned(),
            Err(_) => body.iter().map(|b| latin(*b, "iso-8859-1")).collect(),
        }),
    }
}

/// The character of byte `b` in a Latin code page.
fn latin(b: u8, codepage: &str) -> char {
    let fifteen = matches!(codepage, "iso-8859-15" | "iso8859-15" | "latin9");
    let windows = matches!(codepage, "windows-1252" | "cp1252");
    match b {
        0xA4 if fifteen => '€',
        0xA6 if fifteen => 'Š',
        0xA8 if fifteen => 'š',
        0xB4 if fifteen => 'Ž',
        0xB8 if fifteen => 'ž',
        0xBC if fifteen => 'Œ',
        0xBD if fifteen => 'œ',
        0xBE if fifteen => 'Ÿ',
        0x80..=0x9F if windows => {
            const HIGH: [char; 32] = [
                '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}',
                'Ž', '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›',
                'œ', '\u{9d}', 'ž', 'Ÿ',
            ];
            HIGH[(b - 0x80) as usize]
        }
        _ => char::from(b),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The header and data tokenizer over the decoded text.
struct Parser<'a> {
    text: &'a str,
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    /// The byte offset of the next character.
    at: usize,
    line: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            chars: text.chars().peekable(),
            at: 0,
            line: 1,
        }
    }

    fn err(&self, message: impl Into<String>) -> TableError {
        TableError::at(format!("line {}", self.line), message)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next();
        if let Some(c) = c {
            self.at += c.len_utf8();
        }
        if c == Some('\n') {
            self.line += 1;
        }
        c
    }

    fn skip_space(&mut self) {
        while self.chars.peek().is_some_and(|c| c.is_whitespace()) {
            self.bump();
        }
    }

    fn expect(&mut self, want: char, what: &str) -> Result<(), TableError> {
        self.skip_space();
        match self.bump() {
            Some(c) if c == want => Ok(()),
            Some(c) => Err(self.err(format!("expected {what}, found {c:?}"))),
            None => Err(self.err(format!(
                "the file ends where {what} was expected: it is truncated"
            ))),
        }
    }

    /// A quoted string (the opening quote already seen); PX strings have no escapes and
    /// end on the same line.
    fn quoted(&mut self) -> Result<String, TableError> {
        let mut s = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(s),
                Some('\n') | None => {
                    return Err(self.err("a string is not closed on its line (a missing '\"')"))
                }
                Some('\r') => {}
                Some(c) => s.push(c),
            }
        }
    }

    /// The entries of the header, and the `DATA` section (read as it is filled in).
    fn parse(mut self) -> Result<(Vec<Entry>, Data<'a>), TableError> {
        let mut entries = Vec::new();
        loop {
            self.skip_space();
            let line = self.line;
            let mut keyword = String::new();
            while let Some(c) = self.chars.peek().copied() {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    keyword.push(c);
                    self.bump();
                } else {
                    break;
                }
            }
            if keyword.is_empty() {
                return Err(match self.chars.peek().copied() {
                    None => self.err("the file ends before its DATA section: it is truncated"),
                    Some(c) => self.err(format!("expected a keyword, found {c:?}")),
                });
            }
            let keyword = keyword.to_ascii_uppercase();
            let mut lang = None;
            if self.chars.peek() == Some(&'[') {
                self.bump();
                let mut l = String::new();
                loop {
                    match self.bump() {
                        Some(']') => break,
                        Some(c) if c.is_ascii_alphanumeric() || c == '-' || c == '_' => l.push(c),
                        _ => {
                            return Err(
                                self.err(format!("{keyword}: a language in [] is not closed"))
                            )
                        }
                    }
                }
                lang = Some(l);
            }
            let mut subkeys = Vec::new();
            self.skip_space();
            if self.chars.peek() == Some(&'(') {
                self.bump();
                loop {
                    self.skip_space();
                    match self.bump() {
                        Some('"') => subkeys.push(self.quoted()?),
                        _ => {
                            return Err(self.err(format!("{keyword}: expected a quoted name in ()")))
                        }
                    }
                    self.skip_space();
                    match self.bump() {
                        Some(',') => {}
                        Some(')') => break,
                        _ => {
                            return Err(
                                self.err(format!("{keyword}: the names in () are not closed"))
                            )
                        }
                    }
                }
            }
            self.expect('=', &format!("'=' after {keyword}"))?;
            if keyword == "DATA" {
                let data = Data {
                    text: self.text,
                    at: self.at,
                    line: self.line,
                    count: 0,
                };
                return Ok((entries, data));
            }
            let values = self.values(&keyword)?;
            entries.push(Entry {
                keyword,
                lang,
                subkeys,
                values,
                line,
            });
        }
    }

    /// The values of an entry up to its `;`: quoted strings (adjacent ones on following
    /// lines are one string) or bare words (`YES`, `0`, `TLIST(A1, "1994"-"1996")`).
    fn values(&mut self, keyword: &str) -> Result<Vec<String>, TableError> {
        let mut values = Vec::new();
        loop {
            self.skip_space();
            match self.chars.peek() {
                Some('"') => {
                    let mut s = String::new();
                    while self.chars.peek() == Some(&'"') {
                        self.bump();
                        s.push_str(&self.quoted()?);
                        self.skip_space();
                    }
                    values.push(s);
                }
                Some(_) => {
                    let mut s = String::new();
                    let (mut depth, mut in_quote) = (0u32, false);
                    while let Some(c) = self.chars.peek().copied() {
                        match c {
                            '"' => in_quote = !in_quote,
                            '(' if !in_quote => depth += 1,
                            ')' if !in_quote => depth = depth.saturating_sub(1),
                            ',' | ';' if !in_quote && depth == 0 => break,
                            '\n' if in_quote => {
                                return Err(self
                                    .err(format!("{keyword}: a string is not closed on its line")))
                            }
                            _ => {}
                        }
                        s.push(c);
                        self.bump();
                    }
                    values.push(s.trim().to_owned());
                }
                None => {
                    return Err(self.err(format!(
                        "{keyword}: the file ends before its ';': it is truncated"
                    )))
                }
            }
            self.skip_space();
            match self.bump() {
                Some(',') => {}
                Some(';') => return Ok(values),
                Some(c) => {
                    return Err(self.err(format!("{keyword}: expected ',' or ';', found {c:?}")))
                }
                None => {
                    return Err(self.err(format!(
                        "{keyword}: the file ends before its ';': it is truncated"
                    )))
                }
            }
        }
    }
}

/// The `DATA` section, token by token: slices of the text, so that a table of millions of
/// cells is read without a copy of each.
struct Data<'a> {
    text: &'a str,
    /// The byte offset of what is not read yet.
    at: usize,
    line: usize,
    /// Tokens read so far.
    count: u64,
}

impl<'a> Data<'a> {
    fn err(&self, message: impl Into<String>) -> TableError {
        TableError::at(format!("line {}", self.line), message)
    }

    /// The next token, or `None` at the section's `;` (after which only space may follow).
    fn next(&mut self) -> Result<Option<Token<'a>>, TableError> {
        let b = self.text.as_bytes();
        while let Some(&c) = b.get(self.at) {
            if c == b'\n' {
                self.line += 1;
            } else if !(c.is_ascii_whitespace() || c == b',') {
                break;
            }
            self.at += 1;
        }
        let line = self.line;
        let token = match b.get(self.at) {
            None => {
                return Err(self.err(format!(
                    "the DATA section ends without ';' after {} values: the file is truncated",
                    self.count
                )))
            }
            Some(b';') => {
                let rest = &self.text[self.at + 1..];
                if let Some(c) = rest.chars().find(|c| !c.is_whitespace()) {
                    let line = line + rest[..rest.find(c).unwrap_or(0)].matches('\n').count();
                    return Err(TableError::at(
                        format!("line {line}"),
                        format!("text after the DATA section's ';': {c:?}"),
                    ));
                }
                self.at = b.len();
                return Ok(None);
            }
            Some(b'"') => {
                let start = self.at + 1;
                let end = b[start..]
                    .iter()
                    .position(|c| *c == b'"' || *c == b'\n')
                    .map(|n| start + n)
                    .filter(|e| b[*e] == b'"')
                    .ok_or_else(|| {
                        self.err("a string is not closed on its line (a missing '\"')")
                    })?;
                self.at = end + 1;
                Token {
                    text: &self.text[start..end],
                    quoted: true,
                    line,
                }
            }
            Some(_) => {
                let start = self.at;
                let end = b[start..]
                    .iter()
                    .position(|c| c.is_ascii_whitespace() || matches!(c, b',' | b';' | b'"'))
                    .map_or(b.len(), |n| start + n);
                self.at = end;
                Token {
                    text: &self.text[start..end],
                    quoted: false,
                    line,
                }
            }
        };
        self.count += 1;
        Ok(Some(token))
    }

    /// The next token, where one must be.
    fn token(&mut self, what: impl FnOnce(u64) -> String) -> Result<Token<'a>, TableError> {
        match self.next()? {
            Some(t) => Ok(t),
            None => Err(self.err(what(self.count))),
        }
    }
}

/// The header, by keyword: the entries in the file's order.
struct Header<'a> {
    entries: &'a [Entry],
    /// The file's first language (`LANGUAGE`), whose entries carry no `[lang]`.
    language: Option<String>,
}

impl<'a> Header<'a> {
    /// The entries of `keyword` in the first language.
    fn all(&self, keyword: &str) -> Vec<&'a Entry> {
        self.entries
            .iter()
            .filter(|e| e.keyword == keyword && (e.lang.is_none() || e.lang == self.language))
            .collect()
    }

    /// The first entry of `keyword` with `subkeys`, in the first language.
    fn get(&self, keyword: &str, subkeys: &[&str]) -> Option<&'a Entry> {
        self.all(keyword).into_iter().find(|e| {
            e.subkeys
                .iter()
                .map(String::as_str)
                .eq(subkeys.iter().copied())
        })
    }

    /// The single text of `keyword` (its values joined), in the first language.
    fn text(&self, keyword: &str) -> Option<String> {
        self.get(keyword, &[]).map(|e| e.values.concat())
    }

    /// The translations of `keyword` (without subkeys): (language, values).
    fn translations(&self, keyword: &str) -> Vec<(&'a str, &'a [String])> {
        self.entries
            .iter()
            .filter_map(|e| match &e.lang {
                Some(l)
                    if e.keyword == keyword
                        && e.subkeys.is_empty()
                        && Some(l) != self.language.as_ref() =>
                {
                    Some((l.as_str(), e.values.as_slice()))
                }
                _ => None,
            })
            .collect()
    }
}

/// The table from its header entries and data tokens.
fn build(bytes: &[u8], entries: &[Entry], data: Data<'_>) -> Result<Table, TableError> {
    let header = Header {
        entries,
        language: entries
            .iter()
            .find(|e| e.keyword == "LANGUAGE" && e.lang.is_none())
            .and_then(|e| e.values.first().cloned()),
    };
    let stub: Vec<String> = header
        .get("STUB", &[])
        .map(|e| e.values.clone())
        .unwrap_or_default();
    let heading: Vec<String> = header
        .get("HEADING", &[])
        .map(|e| e.values.clone())
        .unwrap_or_default();
    let variables: Vec<String> = stub.iter().chain(&heading).cloned().collect();
    if variables.is_empty() {
        return Err(TableError::file(
            "no STUB or HEADING: the file names no variables",
        ));
    }
    // Each language's names of the variables, by position.
    let mut names_in: HashMap<&str, Vec<String>> = HashMap::new();
    for keyword in ["STUB", "HEADING"] {
        for (lang, values) in header.translations(keyword) {
            names_in
                .entry(lang)
                .or_default()
                .extend(values.iter().cloned());
        }
    }
    let contvariable = header.text("CONTVARIABLE");
    let mut dimensions = Vec::with_capacity(variables.len());
    for (i, var) in variables.iter().enumerate() {
        let values = header.get("VALUES", &[var]).ok_or_else(|| {
            TableError::file(format!("no VALUES(\"{var}\") for the variable {var:?}"))
        })?;
        let codes = header.get("CODES", &[var]);
        if let Some(c) = codes.filter(|c| c.values.len() != values.values.len()) {
            return Err(TableError::at(
                format!("line {}", c.line),
                format!(
                    "CODES(\"{var}\") lists {} codes for {} VALUES",
                    c.values.len(),
                    values.values.len()
                ),
            ));
        }
        let mut categories: Vec<Category> = values
            .values
            .iter()
            .enumerate()
            .map(|(k, label)| Category {
                code: codes.map_or_else(|| label.clone(), |c| c.values[k].clone()),
                labels: vec![label.clone()],
                ..Category::default()
            })
            .collect();
        let mut names = vec![var.clone()];
        for (lang, lang_names) in &names_in {
            let Some(name) = lang_names.get(i) else {
                continue;
            };
            names.push(name.clone());
            let translated = entries.iter().find(|e| {
                e.keyword == "VALUES"
                    && e.lang.as_deref() == Some(*lang)
                    && e.subkeys == [name.clone()]
            });
            if let Some(t) = translated.filter(|t| t.values.len() == categories.len()) {
                for (c, label) in categories.iter_mut().zip(&t.values) {
                    c.labels.push(label.clone());
                }
            }
        }
        let time = header.get("TIMEVAL", &[var]).is_some()
            || header
                .get("VARIABLE-TYPE", &[var])
                .is_some_and(|e| e.values.concat().eq_ignore_ascii_case("time"));
        let role = if time {
            Some(Role::Time)
        } else if contvariable.as_deref() == Some(var.as_str()) {
            Some(Role::Metric)
        } else if header.get("MAP", &[var]).is_some() {
            Some(Role::Geo)
        } else {
            None
        };
        for c in &mut categories {
            let label = c.labels[0].clone();
            let note = |kw| header.get(kw, &[var, &label]).map(|e| e.values.concat());
            c.note = note("VALUENOTEX")
                .or_else(|| note("VALUENOTE"))
                .unwrap_or_default();
            if let Some(p) = header.get("PRECISION", &[var, &label]) {
                c.decimals = p.values.concat().trim().parse().ok();
            }
        }
        dimensions.push(Dimension {
            id: var.clone(),
            names,
            role,
            categories,
        });
    }
    let mut table = Table::new(bytes, "PX", dimensions)?;
    table.id = header
        .text("TABLEID")
        .or_else(|| header.text("MATRIX"))
        .unwrap_or_default();
    table.title = header
        .text("TITLE")
        .or_else(|| header.text("DESCRIPTION"))
        .or_else(|| header.text("CONTENTS"))
        .unwrap_or_default();
    table.source = header.text("SOURCE").unwrap_or_default();
    table.updated_micros = header
        .all("LAST-UPDATED")
        .into_iter()
        .filter_map(|e| super::parse_updated(&e.values.concat()))
        .max();
    for kw in ["NOTEX", "NOTE"] {
        for e in header.all(kw) {
            let text = e.values.concat();
            table.notes.push(match e.subkeys.first() {
                Some(var) => format!("{var}: {text}"),
                None => text,
            });
        }
    }
    fill(&mut table, &header, &stub, data)?;
    Ok(table)
}

/// The strings this file uses for missing values, mapped to the standard symbols.
fn symbols(header: &Header) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = super::SYMBOLS
        .into_iter()
        .map(|s| (s.to_owned(), s.to_owned()))
        .collect();
    for (n, standard) in (1..=6).zip([".", "..", "...", "....", ".....", "......"]) {
        if let Some(s) = header.text(&format!("DATASYMBOL{n}")) {
            out.insert(s, standard.to_owned());
        }
    }
    if let Some(s) = header.text("DATASYMBOLNIL") {
        out.insert(s, "-".to_owned());
    }
    out
}

/// One data token into cell `index`: a number, or a symbol (quoted or not).
fn put(
    table: &mut Table,
    index: u64,
    t: &Token<'_>,
    symbols: &HashMap<String, String>,
) -> Result<(), TableError> {
    if let Some(standard) = symbols.get(t.text) {
        table.mark(index, standard);
        return Ok(());
    }
    if !t.quoted {
        if let Ok(v) = t.text.parse::<f64>() {
            if v.is_finite() {
                table.set(index, v);
                return Ok(());
            }
        }
    }
    Err(TableError::at(
        format!("line {}", t.line),
        format!(
            "{:?} in DATA is neither a number nor a missing-value symbol (. .. ... .... -)",
            crate::domain::text::clip(t.text)
        ),
    ))
}

/// Fills the cells from the `DATA` tokens: dense, or by `KEYS` rows.
fn fill(
    table: &mut Table,
    header: &Header,
    stub: &[String],
    mut data: Data<'_>,
) -> Result<(), TableError> {
    let symbols = symbols(header);
    let keyed: Vec<(usize, bool)> = stub
        .iter()
        .enumerate()
        .filter_map(|(i, var)| {
            header
                .get("KEYS", &[var])
                .map(|e| (i, e.values.concat().eq_ignore_ascii_case("CODES")))
        })
        .collect();
    let cells = table.cells();
    let short = |n: u64| {
        format!(
            "the DATA section has {n} values; the table's dimensions make {cells}: the file is \
             truncated or damaged"
        )
    };
    if keyed.is_empty() {
        for i in 0..cells {
            let t = data.token(short)?;
            put(table, i, &t, &symbols)?;
        }
        if data.next()?.is_some() {
            return Err(data.err(format!(
                "the DATA section has more values than the table's dimensions make ({cells}): \
                 the file is damaged"
            )));
        }
        return Ok(());
    }
    // KEYS: the keyed variables must be the stub's first ones.
    if keyed.iter().enumerate().any(|(k, (i, _))| k != *i) {
        return Err(TableError::file(
            "KEYS must be given for the first variables of the STUB, in order",
        ));
    }
    let per_row: u64 = table.dimensions[keyed.len()..]
        .iter()
        .map(|d| d.categories.len() as u64)
        .product();
    let partial = |n: u64| {
        format!(
            "the DATA section's {n} tokens are not whole rows of {} keys and {per_row} values: \
             the file is truncated or damaged",
            keyed.len()
        )
    };
    let mut at = vec![0usize; table.dimensions.len()];
    while let Some(first) = data.next()? {
        for (k, (dim, codes)) in keyed.iter().enumerate() {
            let t = if k == 0 { first } else { data.token(partial)? };
            let d = &table.dimensions[*dim];
            let found = d.categories.iter().position(|c| {
                if *codes {
                    c.code == t.text
                } else {
                    c.labels.first().is_some_and(|l| l == t.text)
                }
            });
            at[*dim] = found.ok_or_else(|| {
                TableError::at(
                    format!("line {}", t.line),
                    format!(
                        "key {:?} is not a {} of the variable {:?}",
                        crate::domain::text::clip(t.text),
                        if *codes { "code" } else { "value" },
                        d.id
                    ),
                )
            })?;
        }
        let base = table.index(&at);
        for j in 0..per_row {
            let t = data.token(partial)?;
            put(table, base + j, &t, &symbols)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
