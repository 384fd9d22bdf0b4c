//! Authentication and roles (docs/architecture.md): bearer tokens kept only as SHA-256 hashes in a
//! TOML auth file, each with a name (recorded as the `principal` of its events) and a role.
//!
//! It owns who may do what; it never sees or logs a token in clear, and a failed reload
//! keeps the previous table rather than locking everyone out.
//!
//! ```toml
//! [[token]]
//! name = "uusimaa-council"
//! role = "reporter"            # reporter | national_reporter | reader | admin
//! regions = ["MK01"]           # reporter only: the regions it may write
//! sha256 = "<hex SHA-256 of the token>"
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::domain::NATIONAL_CODE;

/// What a principal may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    /// Submits and retracts for its listed regions; reads.
    Reporter,
    /// Submits and retracts for the whole country (`SSS`); reads.
    NationalReporter,
    /// Submits and retracts official figures for every area — the whole country, regions
    /// and municipalities — as a statistics office publishes them (`import-table`); reads.
    Publisher,
    /// Reads.
    Reader,
    /// Defines indicators; reads. Writes no figures (separation of duties).
    Admin,
    /// Everything: the only principal when the server runs without an auth file (which it
    /// allows on loopback only, or with `--insecure`).
    Unrestricted,
}

impl Role {
    pub(crate) fn parse(s: &str) -> Option<Role> {
        match s {
            "reporter" => Some(Role::Reporter),
            "national_reporter" => Some(Role::NationalReporter),
            "publisher" => Some(Role::Publisher),
            "reader" => Some(Role::Reader),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Reporter => "reporter",
            Role::NationalReporter => "national_reporter",
            Role::Publisher => "publisher",
            Role::Reader => "reader",
            Role::Admin => "admin",
            Role::Unrestricted => "unrestricted",
        }
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's name: recorded as the principal of every event it writes.
    pub(crate) name: String,
    pub(crate) role: Role,
    /// Regions a reporter may write (resolved catalog codes).
    pub(crate) regions: Vec<String>,
}

impl Principal {
    /// The principal of a server without an auth file.
    pub(crate) fn anonymous() -> Principal {
        Principal {
            name: "anonymous".into(),
            role: Role::Unrestricted,
            regions: Vec::new(),
        }
    }

    /// The principal of a server without an auth file (every caller is it).
    pub(crate) fn is_anonymous(&self) -> bool {
        self.role == Role::Unrestricted
    }

    /// A principal for the server's own writes (catalog bootstrap, demo data).
    pub fn system(name: &str) -> Principal {
        Principal {
            name: name.into(),
            role: Role::Unrestricted,
            regions: Vec::new(),
        }
    }

    /// Whether its role writes figures at all (for some region).
    pub(crate) fn writes_figures(&self) -> bool {
        matches!(
            self.role,
            Role::Reporter | Role::NationalReporter | Role::Publisher | Role::Unrestricted
        )
    }

    /// Whether it may submit or retract values of `region` (a resolved catalog code).
    pub(crate) fn may_write(&self, region: &str) -> bool {
        match self.role {
            Role::Unrestricted | Role::Publisher => true,
            Role::NationalReporter => region == NATIONAL_CODE,
            Role::Reporter => self.regions.iter().any(|r| r == region),
            Role::Reader | Role::Admin => false,
        }
    }

    /// Whether it may change the catalog.
    pub(crate) fn may_define(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Unrestricted)
    }
}

/// Errors in an auth file.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the auth file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("auth file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: String,
    role: String,
    #[serde(default)]
    regions: Vec<String>,
    sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    token: Vec<FileEntry>,
}

type Table = HashMap<[u8; 32], Arc<Principal>>;

/// Parses an auth file's text. `resolve` maps a region code (or alias) to its catalog code.
pub(crate) fn parse_table(
    path: &Path,
    text: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<Table, AuthError> {
    let invalid = |message: String| AuthError::Invalid {
        path: path.to_owned(),
        message,
    };
    let file: File = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut table = Table::new();
    let mut names = std::collections::HashSet::new();
    for (i, e) in file.token.into_iter().enumerate() {
        let at = format!("token {} ({:?})", i + 1, e.name);
        if e.name.is_empty() || e.name.len() > 64 || e.name.chars().any(char::is_control) {
            return Err(invalid(format!(
                "{at}: name must be 1-64 printable characters"
            )));
        }
        if !names.insert(e.name.clone()) {
            return Err(invalid(format!("{at}: the name is used twice")));
        }
        let role = Role::parse(&e.role).ok_or_else(|| {
            invalid(format!(
                "{at}: role {:?} is not reporter, national_reporter, reader or admin",
                e.role
            ))
        })?;
        let hash: [u8; 32] = hex::decode(&e.sha256)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| invalid(format!("{at}: sha256 must be 64 hex digits")))?;
        let mut regions = Vec::new();
        for r in &e.regions {
            regions.push(resolve(r).ok_or_else(|| invalid(format!("{at}: unknown region {r:?}")))?);
        }
        match role {
            Role::Reporter if regions.is_empty() => {
                return Err(invalid(format!(
                    "{at}: a reporter needs at least one region"
                )))
            }
            Role::Reporter => {}
            _ if !regions.is_empty() => {
                return Err(invalid(format!("{at}: only a reporter lists regions")))
            }
            _ => {}
        }
        if table.contains_key(&hash) {
            return Err(invalid(format!("{at}: the same token hash appears twice")));
        }
        table.insert(
            hash,
            Arc::new(Principal {
                name: e.name,
                role,
                regions,
            }),
        );
    }
    if table.is_empty() {
        // An empty file (a truncated copy, an editor's accident) would lock every caller
        // out: refused like a broken one.
        return Err(invalid(
            "no tokens: with an auth file every call needs a token, so this file would lock \
             everyone out (add a [[token]] entry; `tilannekuva token new` writes one)"
                .into(),
        ));
    }
    Ok(table)
}

/// Why a request was refused (the `reason` label of the refusal counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Denial {
    Unauthenticated,
    PermissionDenied,
}

impl Denial {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Denial::Unauthenticated => "unauthenticated",
            Denial::PermissionDenied => "permission_denied",
        }
    }
}

/// The authenticator shared by the services.
pub struct Auth {
    /// `None` = no auth file: every caller is [`Principal::anonymous`].
    table: RwLock<Option<Table>>,
    path: Option<PathBuf>,
    refusals: prometheus::IntCounterVec,
    /// Bumped at every successful reload, so that open streams check that their token is
    /// still in force ([`Auth::is_current`]).
    generation: tokio::sync::watch::Sender<u64>,
}

/// Why a request is not authenticated (counted already); the gate answers it as
/// `UNAUTHENTICATED`, the HTTP port as 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unauthenticated(pub(crate) &'static str);

/// SHA-256 of a token, as stored in the auth file.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh random token: `tk_` and 64 hex digits (256 bits from the OS).
pub(crate) fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("tk_{}", hex::encode(bytes)))
}

impl Auth {
    /// An authenticator without an auth file.
    pub(crate) fn disabled(refusals: prometheus::IntCounterVec) -> Auth {
        Auth {
            table: RwLock::new(None),
            path: None,
            refusals,
            generation: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Loads an auth file.
    pub fn from_file(
        path: &Path,
        resolve: &dyn Fn(&str) -> Option<String>,
        refusals: prometheus::IntCounterVec,
    ) -> Result<Auth, AuthError> {
        let auth = Auth {
            table: RwLock::new(Some(Table::new())),
            path: Some(path.to_owned()),
            refusals,
            generation: tokio::sync::watch::Sender::new(0),
        };
        auth.reload(resolve)?;
        Ok(auth)
    }

    /// Whether requests need a token.
    pub(crate) fn enabled(&self) -> bool {
        self.path.is_some()
    }

    /// Reads the auth file again; on error the previous table stays in force. Returns the
    /// number of tokens.
    pub(crate) fn reload(
        &self,
        resolve: &dyn Fn(&str) -> Option<String>,
    ) -> Result<usize, AuthError> {
        let Some(path) = &self.path else { return Ok(0) };
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.clone(),
            source,
        })?;
        let mut table = parse_table(path, &text, resolve)?;
        let n = table.len();
        {
            let mut current = self.table.write();
            // A token that stays as it was keeps its principal, so that the streams it
            // holds open stay valid ([`Auth::is_current`]).
            if let Some(old) = current.as_ref() {
                for (hash, p) in table.iter_mut() {
                    if let Some(same) = old.get(hash).filter(|q| **q == *p) {
                        *p = same.clone();
                    }
                }
            }
            *current = Some(table);
        }
        self.generation.send_modify(|g| *g += 1);
        Ok(n)
    }

    /// Whether `p` is still in force: its token is in the table as it was (always true
    /// without an auth file). Streams check this when the table changes.
    pub(crate) fn is_current(&self, p: &Arc<Principal>) -> bool {
        match self.table.read().as_ref() {
            None => true,
            Some(table) => table.values().any(|q| Arc::ptr_eq(q, p)),
        }
    }

    /// Changes (reloads) of the token table.
    pub(crate) fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Counts a refusal.
    pub(crate) fn refuse(&self, why: Denial) {
        self.refusals.with_label_values(&[why.as_str()]).inc();
    }

    /// The principal of a request, from `authorization: Bearer <token>`.
    pub(crate) fn authenticate(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<Arc<Principal>, Unauthenticated> {
        let table = self.table.read();
        let Some(table) = table.as_ref() else {
            return Ok(Arc::new(Principal::anonymous()));
        };
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let Some(token) = token else {
            self.refuse(Denial::Unauthenticated);
            return Err(Unauthenticated("missing `authorization: Bearer <token>`"));
        };
        match table.get(&token_hash(token)) {
            Some(p) => Ok(p.clone()),
            None => {
                self.refuse(Denial::Unauthenticated);
                Err(Unauthenticated("unknown token"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataMap;

    fn resolve(code: &str) -> Option<String> {
        crate::domain::Catalog::bundled()
            .resolve_region(code)
            .map(|r| r.code.clone())
    }

    fn entry(name: &str, role: &str, regions: &str, token: &str) -> String {
        format!(
            "[[token]]\nname = {name:?}\nrole = {role:?}\nregions = [{regions}]\nsha256 = {:?}\n",
            hex::encode(token_hash(token))
        )
    }

    #[test]
    fn parses_roles_and_resolves_regions() {
        let text = entry("uusimaa", "reporter", "\"01\", \"MK02\"", "t1")
            + &entry("tilastokeskus", "national_reporter", "", "t2")
            + &entry("ministry", "reader", "", "t3")
            + &entry("ops", "admin", "", "t4");
        let table = parse_table(Path::new("auth.toml"), &text, &resolve).unwrap();
        let p = &table[&token_hash("t1")];
        assert_eq!(p.regions, ["MK01", "MK02"]);
        assert!(
            p.may_write("MK01")
                && p.may_write("MK02")
                && !p.may_write("MK03")
                && !p.may_write("SSS")
        );
        assert!(!p.may_define());
        let n = &table[&token_hash("t2")];
        assert!(n.may_write("SSS") && !n.may_write("MK01"));
        let r = &table[&token_hash("t3")];
        assert!(!r.may_write("MK01") && !r.may_define());
        let a = &table[&token_hash("t4")];
        assert!(a.may_define() && !a.may_write("MK01"));
    }

    #[test]
    fn rejects_bad_files_precisely() {
        let p = Path::new("auth.toml");
        let bad = |text: &str| parse_table(p, text, &resolve).unwrap_err().to_string();
        assert!(bad(&entry("x", "reporter", "", "t")).contains("needs at least one region"));
        assert!(bad(&entry("x", "boss", "", "t")).contains("role \"boss\""));
        assert!(bad(&entry("x", "reporter", "\"MK20\"", "t")).contains("unknown region"));
        assert!(bad(&entry("x", "reader", "\"MK01\"", "t")).contains("only a reporter"));
        assert!(
            bad(&(entry("x", "reader", "", "t") + &entry("x", "admin", "", "u")))
                .contains("used twice")
        );
        assert!(
            bad("[[token]]\nname = \"x\"\nrole = \"reader\"\nsha256 = \"abc\"\n")
                .contains("64 hex digits")
        );
        assert!(
            bad("[[token]]\nname = \"x\"\nrole = \"reader\"\nsha256 = \"abc\"\ncolour = 1\n")
                .contains("colour")
        );
    }

    #[test]
    fn a_file_without_tokens_is_refused() {
        let p = Path::new("auth.toml");
        for text in ["", "\n# only a comment\n", "token = []\n"] {
            let err = parse_table(p, text, &resolve).unwrap_err().to_string();
            assert!(err.contains("no tokens"), "{text:?}: {err}");
        }
    }

    #[test]
    fn a_reload_keeps_unchanged_principals_and_drops_revoked_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.toml");
        let (a, b) = (
            entry("a", "reader", "", "ta"),
            entry("b", "reader", "", "tb"),
        );
        std::fs::write(&path, format!("{a}{b}")).unwrap();
        let counter =
            prometheus::IntCounterVec::new(prometheus::Opts::new("r", "r"), &["reason"]).unwrap();
        let auth = Auth::from_file(&path, &resolve, counter).unwrap();
        let meta = |t: &str| {
            let mut m = MetadataMap::new();
            m.insert("authorization", format!("Bearer {t}").parse().unwrap());
            m
        };
        let (pa, pb) = (
            auth.authenticate(meta("ta").as_ref()).unwrap(),
            auth.authenticate(meta("tb").as_ref()).unwrap(),
        );
        let changes = auth.changes();
        std::fs::write(&path, &a).unwrap();
        auth.reload(&resolve).unwrap();
        assert!(changes.has_changed().unwrap());
        assert!(auth.is_current(&pa) && !auth.is_current(&pb));
        // An empty file is refused and changes nothing.
        std::fs::write(&path, "").unwrap();
        assert!(auth.reload(&resolve).is_err());
        assert!(auth.is_current(&pa));
        assert!(auth.authenticate(meta("ta").as_ref()).is_ok());
    }

    #[test]
    fn tokens_are_random_and_long() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
    }
}
