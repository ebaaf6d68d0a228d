//! Revocation lists: pure data, checked after the signature and the claims.
//!
//! Schema (produced by the issuer, shipped like a JWKS):
//! ```json
//! {"iss":"https://issuer.example","epoch":42,"generated_at":1700000000,
//!  "revoked":{"jti":[{"jti":"abc","exp":1700003600}],
//!             "sub":[{"sub":"user-1","before":1700000000}],
//!             "kid":["old-key-id"]}}
//! ```
//! The entries sit under one private claim, `revoked`, so that no registered
//! JWT claim name (`jti`, `sub`) carries a value of another type: standard
//! JWT libraries decode the signed list with their default checks. The first
//! form (the three arrays at the top level) is still read, for one version;
//! one list may not mix the two.
//! A token is revoked if its (`iss`, `jti`) is listed, if its (`iss`, `sub`)
//! has `before` greater than its `iat` (no `iat` counts as 0), or if the `kid`
//! of the key that verified it is listed in any held list. A list may also
//! arrive signed: a compact JWS with `typ: revocation-list+jwt` whose payload
//! is that JSON, verified against the same key set.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value;

use crate::error::{Error, ErrorKind, Result, RevocationReason};
use crate::json;
use crate::text::Truncated;

/// Largest revocation list accepted (JSON bytes, or signed JWS length).
pub const MAX_REVOCATION_LIST_BYTES: usize = 8 * 1024 * 1024;
/// The `typ` a signed revocation list must carry.
pub const REVOCATION_LIST_TYP: &str = "revocation-list+jwt";

fn invalid(message: impl Into<alloc::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::RevocationListInvalid, message)
}

/// One issuer's revocation list. Entries are kept sorted for binary search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    iss: String,
    epoch: u64,
    generated_at: u64,
    jti: Entries,
    sub: Entries,
    kid: Entries,
}

/// Names with a number each, all names in ONE text buffer: no allocation
/// per entry, so a 100,000-entry list installs without 100,000 small
/// allocations (and wasm memory keeps no per-entry high-water mark).
/// After [`Entries::finish`]: sorted by name, one entry per name (the
/// largest number), looked up by binary search.
#[derive(Debug, Clone, Default)]
struct Entries {
    text: String,
    /// The names (as positions in `text`) with their numbers.
    items: Vec<Item>,
}

/// One entry: its name's first eight bytes (big-endian, zero-padded: an
/// integer whose order is the names' order wherever they differ there, so
/// sorting and searching compare integers first), where the name is in
/// `text`, and its number.
#[derive(Debug, Clone, Copy)]
struct Item {
    prefix: u64,
    start: u32,
    len: u32,
    value: u64,
}

fn prefix_of(name: &str) -> u64 {
    let mut w = [0u8; 8];
    for (d, b) in w.iter_mut().zip(name.as_bytes()) {
        *d = *b;
    }
    u64::from_be_bytes(w)
}

impl PartialEq for Entries {
    fn eq(&self, other: &Self) -> bool {
        self.items.len() == other.items.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl Eq for Entries {}

/// The name of `item` in `text`.
fn name_in<'t>(text: &'t str, item: &Item) -> &'t str {
    let start = item.start as usize;
    text.get(start..start + item.len as usize)
        .unwrap_or_default()
}

/// The order of two items: prefixes, then (when they are equal) names.
fn order(text: &str, a: &Item, b: &Item) -> core::cmp::Ordering {
    a.prefix
        .cmp(&b.prefix)
        .then_with(|| name_in(text, a).cmp(name_in(text, b)))
}

impl Entries {
    fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.items.iter().map(|i| (name_in(&self.text, i), i.value))
    }

    /// Records the name appended to `text` since `start`, with `value`.
    fn commit(&mut self, start: usize, value: u64) -> Result<()> {
        let too_big = || invalid("revocation list: the entries' text exceeds 4 GiB");
        let s = u32::try_from(start).map_err(|_| too_big())?;
        let len = u32::try_from(self.text.len() - start).map_err(|_| too_big())?;
        let prefix = prefix_of(self.text.get(start..).unwrap_or_default());
        self.items.push(Item {
            prefix,
            start: s,
            len,
            value,
        });
        Ok(())
    }

    /// Sorts by name and merges duplicates, keeping the largest value. A
    /// list that arrives sorted (jwt-edge's issuer sends it so) costs one
    /// linear check and no sort.
    fn finish(&mut self) {
        let text = &self.text;
        let sorted = self
            .items
            .windows(2)
            .all(|w| matches!(w, [a, b] if order(text, a, b).is_lt()));
        if sorted {
            return;
        }
        self.items
            .sort_unstable_by(|a, b| order(text, a, b).then(b.value.cmp(&a.value)));
        self.items
            .dedup_by(|later, earlier| order(text, later, earlier).is_eq());
    }

    fn get(&self, name: &str) -> Option<u64> {
        let prefix = prefix_of(name);
        self.items
            .binary_search_by(|i| {
                i.prefix
                    .cmp(&prefix)
                    .then_with(|| name_in(&self.text, i).cmp(name))
            })
            .ok()
            .and_then(|n| self.items.get(n))
            .map(|i| i.value)
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

fn syntax(e: String) -> Error {
    invalid(msg!("revocation list is not a valid JSON object: ", e))
}

fn unknown(name: &str, what: &str) -> Error {
    invalid(msg!(
        "revocation list: unknown member ",
        Truncated(name),
        " in ",
        what
    ))
}

/// Stores a member's value; the same member twice is refused, as everywhere.
fn set_once(slot: &mut Option<Value>, value: Value, name: &str, at: usize) -> Result<()> {
    if slot.is_some() {
        return Err(syntax(msg!(
            "duplicate member name ",
            Truncated(name),
            " at byte ",
            at
        )));
    }
    *slot = Some(value);
    Ok(())
}

/// A member value that must be a string or a number: one level of nesting
/// is read (and then refused by type, with a message that says so).
fn scalar(r: &mut json::Reader) -> Result<Value> {
    r.value(1).map_err(syntax)
}

/// `[{"<key>": "…", "<num>": n}, …]`, appended to `out` one entry at a time
/// (the name straight into `out`'s text buffer).
fn entries(r: &mut json::Reader, [list, key, num]: [&str; 3], out: &mut Entries) -> Result<()> {
    r.array()
        .map_err(|_| invalid(msg!("revocation list: \"", list, "\" must be an array")))?;
    let mut member = String::new();
    let mut first = true;
    while r.element(first).map_err(syntax)? {
        first = false;
        r.object().map_err(|_| {
            invalid(msg!(
                "revocation list: entries of \"",
                list,
                "\" must be objects"
            ))
        })?;
        let (mut name_at, mut value) = (None, None);
        let mut first_member = true;
        while let Some(at) = r.member_into(first_member, &mut member).map_err(syntax)? {
            first_member = false;
            let duplicate = || {
                syntax(msg!(
                    "duplicate member name ",
                    Truncated(&member),
                    " at byte ",
                    at
                ))
            };
            if member == key {
                if name_at.is_some() {
                    return Err(duplicate());
                }
                if !r.next_is_string() {
                    let v = scalar(r)?;
                    return Err(string_of(Some(&v), key).err().unwrap_or_else(duplicate));
                }
                let start = out.text.len();
                r.string_into(&mut out.text).map_err(syntax)?;
                name_at = Some(start);
            } else if member == num {
                if value.is_some() {
                    return Err(duplicate());
                }
                value = Some(scalar(r)?);
            } else {
                return Err(unknown(&member, &msg!("a ", list, " entry")));
            }
        }
        let Some(start) = name_at else {
            return Err(string_of(None, key)
                .err()
                .unwrap_or_else(|| invalid("missing")));
        };
        let value = u64_of(value.as_ref(), num)?;
        out.commit(start, value)?;
    }
    Ok(())
}

/// `["kid", …]`, appended to `out` one entry at a time.
fn kid_entries(r: &mut json::Reader, out: &mut Entries) -> Result<()> {
    r.array()
        .map_err(|_| invalid("revocation list: \"kid\" must be an array"))?;
    let mut first = true;
    while r.element(first).map_err(syntax)? {
        first = false;
        if !r.next_is_string() {
            let v = scalar(r)?;
            return Err(string_of(Some(&v), "kid")
                .err()
                .unwrap_or_else(|| invalid("revocation list: \"kid\" must be a string")));
        }
        let start = out.text.len();
        r.string_into(&mut out.text).map_err(syntax)?;
        out.commit(start, 0)?;
    }
    Ok(())
}

fn mixed() -> Error {
    invalid(
        "revocation list: entries are either under \"revoked\" or (the first form) at the top \
         level, not both",
    )
}

/// Which entry arrays (and which form) a list has used so far.
#[derive(Default)]
struct Seen {
    jti: Option<Value>,
    sub: Option<Value>,
    kid: Option<Value>,
    revoked: Option<Value>,
    top_level: bool,
}

impl Seen {
    /// Reads the entry array `name` (`jti`, `sub` or `kid`) into its vector;
    /// `false` for any other name (nothing read).
    fn entries(
        &mut self,
        r: &mut json::Reader,
        name: &str,
        at: usize,
        [jtis, subs, kids]: [&mut Entries; 3],
    ) -> Result<bool> {
        match name {
            "jti" => {
                set_once(&mut self.jti, Value::Null, name, at)?;
                entries(r, ["jti", "jti", "exp"], jtis)?;
            }
            "sub" => {
                set_once(&mut self.sub, Value::Null, name, at)?;
                entries(r, ["sub", "sub", "before"], subs)?;
            }
            "kid" => {
                set_once(&mut self.kid, Value::Null, name, at)?;
                kid_entries(r, kids)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn string_of(v: Option<&Value>, name: &str) -> Result<String> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(invalid(msg!(
            "revocation list: \"",
            name,
            "\" must be a string"
        ))),
        None => Err(invalid(msg!("revocation list: \"", name, "\" is missing"))),
    }
}

fn u64_of(v: Option<&Value>, name: &str) -> Result<u64> {
    match v {
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
            invalid(msg!(
                "revocation list: \"",
                name,
                "\" must be a non-negative integer"
            ))
        }),
        Some(_) => Err(invalid(msg!(
            "revocation list: \"",
            name,
            "\" must be a number"
        ))),
        None => Err(invalid(msg!("revocation list: \"", name, "\" is missing"))),
    }
}

fn finished(mut e: Entries) -> Entries {
    e.finish();
    e
}

impl RevocationList {
    /// Parses the unsigned JSON form.
    ///
    /// # Errors
    /// `ERR_REVOCATION_LIST_INVALID` if it is not valid JSON of the schema above
    /// (unknown members are refused).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_REVOCATION_LIST_BYTES {
            return Err(invalid(msg!(
                "revocation list is ",
                bytes.len(),
                " bytes; at most ",
                MAX_REVOCATION_LIST_BYTES,
                " are accepted"
            )));
        }
        // Read member by member and entry by entry: a JSON tree of a large
        // list would cost ~20× its size (see `json::Reader`).
        let mut r = json::Reader::new(bytes).map_err(syntax)?;
        r.object().map_err(syntax)?;
        let (mut iss, mut epoch, mut generated_at) = (None, None, None);
        let (mut jtis, mut subs, mut kids) =
            (Entries::default(), Entries::default(), Entries::default());
        let mut seen = Seen::default();
        let mut first = true;
        while let Some((name, at)) = r.member(first).map_err(syntax)? {
            first = false;
            match name.as_str() {
                "iss" => set_once(&mut iss, scalar(&mut r)?, &name, at)?,
                "epoch" => set_once(&mut epoch, scalar(&mut r)?, &name, at)?,
                "generated_at" => set_once(&mut generated_at, scalar(&mut r)?, &name, at)?,
                "revoked" => {
                    set_once(&mut seen.revoked, Value::Null, &name, at)?;
                    if seen.top_level {
                        return Err(mixed());
                    }
                    r.object()
                        .map_err(|_| invalid("revocation list: \"revoked\" must be an object"))?;
                    let mut first_member = true;
                    while let Some((name, at)) = r.member(first_member).map_err(syntax)? {
                        first_member = false;
                        if !seen.entries(&mut r, &name, at, [&mut jtis, &mut subs, &mut kids])? {
                            return Err(unknown(&name, "\"revoked\""));
                        }
                    }
                }
                _ => {
                    // The first form: the entry arrays at the top level.
                    if !seen.entries(&mut r, &name, at, [&mut jtis, &mut subs, &mut kids])? {
                        return Err(unknown(&name, "the list"));
                    }
                    if seen.revoked.is_some() {
                        return Err(mixed());
                    }
                    seen.top_level = true;
                }
            }
        }
        r.end().map_err(syntax)?;
        Ok(Self {
            iss: string_of(iss.as_ref(), "iss")?,
            epoch: u64_of(epoch.as_ref(), "epoch")?,
            generated_at: u64_of(generated_at.as_ref(), "generated_at")?,
            jti: finished(jtis),
            sub: finished(subs),
            kid: finished(kids),
        })
    }

    /// The issuer this list belongs to.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// The list's epoch; a held list is never replaced by a lower one.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// When the issuer generated the list (unix seconds).
    pub fn generated_at(&self) -> u64 {
        self.generated_at
    }

    /// Number of revoked token ids, subjects and keys.
    pub fn len(&self) -> usize {
        self.jti.len() + self.sub.len() + self.kid.len()
    }

    /// True if nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn has_kid(&self, kid: &str) -> bool {
        self.kid.get(kid).is_some()
    }
}

/// The revocation data a verifier holds: at most one list per issuer.
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    lists: Vec<RevocationList>,
    /// Token Status Lists held, by URI.
    status_lists: crate::status_list::HeldLists,
    /// Counts every accepted insert, so that a replacement at an equal epoch
    /// (new content, same number) still changes [`Revocations::version`].
    changes: u64,
}

/// What a token looks like to the revocation check.
pub(crate) struct Subject<'a> {
    pub iss: Option<&'a str>,
    pub jti: Option<&'a str>,
    pub sub: Option<&'a str>,
    pub iat: Option<f64>,
    pub kid: Option<&'a str>,
}

impl Revocations {
    /// No lists.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs or refreshes the list of `list.issuer()`.
    ///
    /// # Errors
    /// `ERR_REVOCATION_LIST_INVALID` if a list with a higher epoch is already
    /// held for that issuer (a replayed old list must not un-revoke tokens).
    pub fn insert(&mut self, list: RevocationList) -> Result<()> {
        match self.lists.iter_mut().find(|held| held.iss == list.iss) {
            Some(held) if list.epoch < held.epoch => Err(invalid(msg!(
                "revocation list epoch ",
                list.epoch,
                " is lower than the epoch ",
                held.epoch,
                " already held for this issuer"
            ))),
            Some(held) => {
                *held = list;
                self.changes = self.changes.wrapping_add(1);
                Ok(())
            }
            None => {
                self.lists.push(list);
                self.changes = self.changes.wrapping_add(1);
                Ok(())
            }
        }
    }

    /// Installs a verified status list (replacing the copy of the same URI).
    ///
    /// # Errors
    /// `ERR_STATUS_LIST_INVALID` for a list older (`iat`) than the one held.
    pub fn insert_status_list(&mut self, list: crate::status_list::StatusList) -> Result<()> {
        self.status_lists.insert(list)?;
        self.changes = self.changes.wrapping_add(1);
        Ok(())
    }

    /// The status list held for `uri`, if any.
    pub fn status_list(&self, uri: &str) -> Option<&crate::status_list::StatusList> {
        self.status_lists.get(uri)
    }

    pub(crate) fn check_status(
        &self,
        r: crate::status_list::StatusRef<'_>,
        iss: Option<&str>,
        now: u64,
    ) -> Result<()> {
        self.status_lists.check(r, iss, now)
    }

    /// The list held for `iss`, if any.
    pub fn get(&self, iss: &str) -> Option<&RevocationList> {
        self.lists.iter().find(|l| l.iss == iss)
    }

    /// A number that changes whenever the held data changes (every accepted
    /// list, even one with the epoch already held), for caches that must be
    /// invalidated on refresh.
    pub fn version(&self) -> u64 {
        self.changes
    }

    pub(crate) fn check(&self, t: &Subject<'_>) -> Result<()> {
        if let Some(kid) = t.kid {
            if self.lists.iter().any(|l| l.has_kid(kid)) {
                return Err(Error::revoked(
                    RevocationReason::Kid,
                    msg!("the signing key ", Truncated(kid), " has been revoked"),
                ));
            }
        }
        let Some(list) = t.iss.and_then(|iss| self.get(iss)) else {
            return Ok(());
        };
        if let Some(jti) = t.jti {
            if list.jti.get(jti).is_some() {
                return Err(Error::revoked(
                    RevocationReason::Jti,
                    msg!("token ", Truncated(jti), " has been revoked"),
                ));
            }
        }
        if let Some(sub) = t.sub {
            if let Some(before) = list.sub.get(sub) {
                if (before as f64) > t.iat.unwrap_or(0.0) {
                    return Err(Error::revoked(
                        RevocationReason::Sub,
                        msg!(
                            "tokens of subject ",
                            Truncated(sub),
                            " issued before ",
                            before,
                            " have been revoked"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(jti: &str) -> RevocationList {
        let text = msg!(
            r#"{"iss":"i","epoch":1,"generated_at":1,"revoked":{"jti":["#,
            jti,
            r#"]}}"#
        );
        RevocationList::from_json(text.as_bytes()).unwrap()
    }

    #[test]
    fn entries_sorted_deduplicated_with_the_largest_value() {
        // Unsorted, with a duplicate: sorted, one entry, the larger exp.
        let l = list(
            r#"{"jti":"c","exp":3},{"jti":"a","exp":1},{"jti":"c","exp":9},{"jti":"b","exp":2}"#,
        );
        let got: Vec<(&str, u64)> = l.jti.iter().collect();
        assert_eq!(got, [("a", 1), ("b", 2), ("c", 9)]);
        assert_eq!(l.jti.get("c"), Some(9));
        assert_eq!(l.jti.get("d"), None);
        // Sorted input is kept as is; escapes are decoded into the arena.
        let l = list(r#"{"jti":"a\u00e9","exp":1},{"exp":2,"jti":"b\"q"}"#);
        assert_eq!(l.jti.get("aé"), Some(1));
        assert_eq!(l.jti.get("b\"q"), Some(2));
        // Sorted with a duplicate in a row: not strictly sorted, so merged.
        let l = list(r#"{"jti":"a","exp":5},{"jti":"a","exp":4}"#);
        assert_eq!(l.jti.iter().collect::<Vec<_>>(), [("a", 5)]);
        // The same entries in another order compare equal.
        assert_eq!(
            list(r#"{"jti":"x","exp":1},{"jti":"y","exp":2}"#),
            list(r#"{"jti":"y","exp":2},{"jti":"x","exp":1}"#)
        );
    }
}
