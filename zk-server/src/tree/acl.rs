//! ACLs: the interned ACL table (Apache's `ReferenceCountedACLCache`: nodes hold an index),
//! `fixupACL` (validation and `auth` expansion) and `checkACL`, with Apache 3.8's providers:
//! `world`, `digest` and `ip` (IPv4 only in 3.8.0) are known; any other scheme is invalid in an
//! ACL and never matches. A connection with a `super` id (added by the `digest` provider when
//! the credentials hash to the configured super digest) passes every check.

use hashbrown::HashMap;
use zk_core::proto::{Acl, ErrorCode, Id};

use crate::txn::AuthId;

/// One interned ACL list and the number of nodes using it.
#[derive(Debug, Clone)]
struct Entry {
    acl: std::sync::Arc<[Acl]>,
    refs: u64,
}

/// The interned ACL lists, by index.
#[derive(Debug, Default, Clone)]
pub(crate) struct AclTable {
    entries: Vec<Option<Entry>>,
    index: HashMap<Vec<u8>, u32>,
    free: Vec<u32>,
}

/// A canonical byte key for an ACL list (jute-like: perms, scheme, id).
fn key(acl: &[Acl]) -> Vec<u8> {
    let mut k = Vec::with_capacity(acl.len() * 24);
    for a in acl {
        k.extend_from_slice(&a.perms.to_be_bytes());
        for s in [&a.id.scheme, &a.id.id] {
            k.extend_from_slice(&(s.len() as u32).to_be_bytes());
            k.extend_from_slice(s.as_bytes());
        }
    }
    k
}

impl AclTable {
    /// The index of `acl`, adding one reference.
    pub(crate) fn intern(&mut self, acl: &[Acl]) -> u32 {
        let k = key(acl);
        if let Some(&i) = self.index.get(&k) {
            if let Some(Some(e)) = self.entries.get_mut(i as usize) {
                e.refs += 1;
                return i;
            }
        }
        let entry = Entry {
            acl: acl.into(),
            refs: 1,
        };
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.entries.get_mut(i as usize) {
                    *slot = Some(entry);
                }
                i
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as u32
            }
        };
        self.index.insert(k, i);
        i
    }

    /// Drops one reference to `i`, freeing the list when unused.
    pub(crate) fn release(&mut self, i: u32) {
        let drop_it = match self.entries.get_mut(i as usize) {
            Some(Some(e)) => {
                e.refs = e.refs.saturating_sub(1);
                e.refs == 0
            }
            _ => false,
        };
        if drop_it {
            if let Some(slot) = self.entries.get_mut(i as usize) {
                if let Some(e) = slot.take() {
                    self.index.remove(&key(&e.acl));
                }
            }
            self.free.push(i);
        }
    }

    /// The list at `i` (empty if `i` is unknown, which only a bug could cause).
    pub(crate) fn get(&self, i: u32) -> &[Acl] {
        match self.entries.get(i as usize) {
            Some(Some(e)) => &e.acl,
            _ => &[],
        }
    }

    /// The list at `i`, shared (for watch events, which outlive a deleted node).
    pub(crate) fn shared(&self, i: u32) -> Option<std::sync::Arc<[Acl]>> {
        match self.entries.get(i as usize) {
            Some(Some(e)) => Some(e.acl.clone()),
            _ => None,
        }
    }

    /// Number of distinct lists in use.
    pub(crate) fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.is_some()).count()
    }

    /// Every live entry with its index (for snapshots).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &[Acl])> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, &e.acl[..])))
    }

    /// Places `acl` at index `i` with no references (snapshot loading).
    pub(crate) fn restore(&mut self, i: u32, acl: Vec<Acl>) -> bool {
        let i_us = i as usize;
        if i_us > (1 << 24) {
            return false;
        }
        if self.entries.len() <= i_us {
            self.entries.resize(i_us + 1, None);
        }
        if self.entries[i_us].is_some() {
            return false;
        }
        self.index.insert(key(&acl), i);
        self.entries[i_us] = Some(Entry {
            acl: acl.into(),
            refs: 0,
        });
        true
    }

    /// Whether `i` is a live entry.
    pub(crate) fn contains(&self, i: u32) -> bool {
        matches!(self.entries.get(i as usize), Some(Some(_)))
    }

    /// Adds a reference to an existing entry (snapshot loading).
    pub(crate) fn add_ref(&mut self, i: u32) {
        if let Some(Some(e)) = self.entries.get_mut(i as usize) {
            e.refs += 1;
        }
    }

    /// Frees entries nobody references (after snapshot loading) and rebuilds the free list.
    pub(crate) fn purge_unused(&mut self) {
        self.free.clear();
        for i in 0..self.entries.len() {
            let unused = matches!(&self.entries[i], Some(e) if e.refs == 0);
            if unused {
                if let Some(e) = self.entries[i].take() {
                    self.index.remove(&key(&e.acl));
                }
            }
            if self.entries[i].is_none() {
                self.free.push(i as u32);
            }
        }
        self.free.reverse();
    }
}

/// Java's `Integer.parseInt` on ASCII input: optional sign, at least one digit, in range.
fn parse_java_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse::<i32>().ok()
}

/// `IPAuthenticationProvider.addr2Bytes` of 3.8.0 (IPv4 only): four dot-separated ints 0..=255.
fn v4_bytes(addr: &str) -> Option<[u8; 4]> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut out = [0u8; 4];
    for (o, p) in out.iter_mut().zip(parts) {
        let v = parse_java_int(p)?;
        *o = u8::try_from(v).ok()?;
    }
    Some(out)
}

/// Splits an `ip` ACL expression into address bytes and prefix bits (Apache's rules).
fn ip_expr(expr: &str) -> Option<([u8; 4], i32)> {
    let mut parts = expr.splitn(2, '/');
    let addr = v4_bytes(parts.next().unwrap_or(""))?;
    let bits = match parts.next() {
        Some(b) => parse_java_int(b)?,
        None => 32,
    };
    if !(0..=32).contains(&bits) {
        return None;
    }
    Some((addr, bits))
}

fn mask(b: &mut [u8; 4], bits: i32) {
    let start = (bits / 8) as usize;
    let mut m: i32 = !((1 << (8 - bits % 8)) - 1);
    for byte in b.iter_mut().skip(start) {
        *byte &= m as u8;
        m = 0;
    }
}

/// `IPAuthenticationProvider.matches(id, aclExpr)`.
pub(crate) fn ip_matches(client: &str, expr: &str) -> bool {
    let Some((mut acl, bits)) = ip_expr(expr) else {
        return false;
    };
    let Some(mut remote) = v4_bytes(client) else {
        return false;
    };
    mask(&mut acl, bits);
    mask(&mut remote, bits);
    acl == remote
}

/// `DigestAuthenticationProvider.isValid`: Java's `id.split(":").length == 2` (trailing empty
/// strings dropped).
fn digest_valid(id: &str) -> bool {
    let mut parts: Vec<&str> = id.split(':').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts.len() == 2
}

/// Whether `scheme` has a server provider and `id` is valid for it.
fn provider_valid(scheme: &str, id: &str) -> bool {
    match scheme {
        "digest" => digest_valid(id),
        "ip" => ip_expr(id).is_some(),
        _ => false,
    }
}

/// Apache's `fixupACL`: duplicates removed, the list must be non-empty, `world` only with
/// `anyone`, `auth` expanded to the connection's authenticated ids (`digest`; `ip` is not
/// "authenticated", `super` has no provider) and invalid if there are none, other schemes must
/// have a provider that accepts the id.
///
/// # Errors
/// [`ErrorCode::InvalidAcl`].
pub(crate) fn fixup_acl(acl: &[Acl], auth: &[AuthId]) -> Result<Vec<Acl>, ErrorCode> {
    let mut uniq: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    if uniq.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        let (scheme, id) = (a.id.scheme.as_str(), a.id.id.as_str());
        if scheme == "world" && id == "anyone" {
            out.push(a.clone());
        } else if scheme == "auth" {
            let mut any = false;
            for cid in auth.iter().filter(|c| c.scheme == "digest") {
                any = true;
                out.push(Acl {
                    perms: a.perms,
                    id: Id::new(cid.scheme.clone(), cid.id.clone()),
                });
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if provider_valid(scheme, id) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// Who is asking, for ACL checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asker<'a> {
    pub auth: &'a [AuthId],
    pub super_digest: Option<&'a str>,
    pub skip_acl: bool,
}

impl Asker<'_> {
    /// Whether the connection is a super user.
    fn is_super(&self) -> bool {
        self.auth.iter().any(|a| {
            a.scheme == "super"
                || (a.scheme == "digest" && Some(a.id.as_str()) == self.super_digest)
        })
    }

    /// Apache's `checkACL`.
    ///
    /// # Errors
    /// [`ErrorCode::NoAuth`].
    pub(crate) fn check(&self, acl: &[Acl], perm: i32) -> Result<(), ErrorCode> {
        if self.skip_acl || acl.is_empty() || self.is_super() {
            return Ok(());
        }
        for a in acl.iter().filter(|a| a.perms & perm != 0) {
            let (scheme, id) = (a.id.scheme.as_str(), a.id.id.as_str());
            if scheme == "world" && id == "anyone" {
                return Ok(());
            }
            let matched = match scheme {
                "digest" => self.auth.iter().any(|c| c.scheme == "digest" && c.id == id),
                "ip" => self
                    .auth
                    .iter()
                    .any(|c| c.scheme == "ip" && ip_matches(&c.id, id)),
                _ => false,
            };
            if matched {
                return Ok(());
            }
        }
        Err(ErrorCode::NoAuth)
    }
}

/// getACL without ADMIN: digest ids shown as `user:x` (Java's `replaceAll(":.*", ":x")`).
pub(crate) fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let id = match a.id.id.find(':') {
                    Some(i) => format!("{}:x", &a.id.id[..i]),
                    None => a.id.id.clone(),
                };
                Acl {
                    perms: a.perms,
                    id: Id::new("digest", id),
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_core::proto::perms;

    fn auth(scheme: &str, id: &str) -> AuthId {
        AuthId {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    fn asker(a: &[AuthId]) -> Asker<'_> {
        Asker {
            auth: a,
            super_digest: None,
            skip_acl: false,
        }
    }

    // Verified against Apache 3.8.0 by creating nodes with each ACL (see the tree tests).
    #[test]
    fn fixup_acl_rejects_what_apache_rejects() {
        let bad = [
            vec![],
            vec![Acl::new(31, "world", "foo")],
            vec![Acl::new(31, "auth", "")],
            vec![Acl::new(31, "digest", "user")],
            vec![Acl::new(31, "digest", "user:")],
            vec![Acl::new(31, "digest", "a:b:c")],
            vec![Acl::new(31, "ip", "1.2.3")],
            vec![Acl::new(31, "ip", "1.2.3.4/33")],
            vec![Acl::new(31, "ip", "::1")],
            vec![Acl::new(31, "ip", "1.2.3.4/")],
            vec![Acl::new(31, "sasl", "x")],
            vec![Acl::new(31, "x509", "x")],
            vec![Acl::new(31, "super", "")],
        ];
        for acl in bad {
            assert_eq!(fixup_acl(&acl, &[]), Err(ErrorCode::InvalidAcl), "{acl:?}");
        }
        let good = [
            vec![Acl::new(31, "digest", ":b")],
            vec![Acl::new(31, "ip", "1.2.3.4/8")],
            vec![Acl::new(31, "ip", "+1.2.3.4")],
            vec![Acl::new(0, "world", "anyone")],
            vec![Acl::new(99, "world", "anyone")],
        ];
        for acl in good {
            assert_eq!(fixup_acl(&acl, &[]), Ok(acl.clone()));
        }
    }

    #[test]
    fn fixup_acl_removes_duplicates_and_expands_auth_to_digest_ids_only() {
        let acl = vec![
            Acl::new(31, "world", "anyone"),
            Acl::new(31, "world", "anyone"),
        ];
        assert_eq!(fixup_acl(&acl, &[]), Ok(Acl::open_unsafe()));
        let ids = [
            auth("super", ""),
            auth("ip", "127.0.0.1"),
            auth("digest", "u:h"),
        ];
        let acl = vec![
            Acl::new(31, "auth", "ignored"),
            Acl::new(1, "world", "anyone"),
        ];
        assert_eq!(
            fixup_acl(&acl, &ids),
            Ok(vec![
                Acl::new(31, "digest", "u:h"),
                Acl::new(1, "world", "anyone")
            ])
        );
        assert_eq!(
            fixup_acl(&[Acl::new(31, "auth", "")], &ids[..2]),
            Err(ErrorCode::InvalidAcl)
        );
    }

    #[test]
    fn check_acl_matches_world_digest_ip_and_super() {
        let acl = vec![
            Acl::new(perms::READ, "digest", "u:h"),
            Acl::new(perms::WRITE, "ip", "10.1.0.0/16"),
        ];
        assert_eq!(asker(&[]).check(&acl, perms::READ), Err(ErrorCode::NoAuth));
        assert_eq!(
            asker(&[auth("digest", "u:h")]).check(&acl, perms::READ),
            Ok(())
        );
        assert_eq!(
            asker(&[auth("digest", "u:h")]).check(&acl, perms::WRITE),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            asker(&[auth("ip", "10.1.200.3")]).check(&acl, perms::WRITE),
            Ok(())
        );
        assert_eq!(
            asker(&[auth("ip", "10.2.0.1")]).check(&acl, perms::WRITE),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            asker(&[auth("super", "")]).check(&acl, perms::ADMIN),
            Ok(())
        );
        let sd = [auth("digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU=")];
        let a = Asker {
            super_digest: Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
            ..asker(&sd)
        };
        assert_eq!(a.check(&acl, perms::ADMIN), Ok(()));
        // An empty ACL allows everything (Apache's checkACL).
        assert_eq!(asker(&[]).check(&[], perms::ADMIN), Ok(()));
        // READ|ADMIN is satisfied by either bit (getACL).
        let admin_only = vec![Acl::new(perms::ADMIN, "world", "anyone")];
        assert_eq!(
            asker(&[]).check(&admin_only, perms::READ | perms::ADMIN),
            Ok(())
        );
    }

    #[test]
    fn ip_masks_like_apache() {
        assert!(ip_matches("192.168.1.77", "192.168.1.0/24"));
        assert!(ip_matches("192.168.1.77", "192.168.1.64/26"));
        assert!(!ip_matches("192.168.1.77", "192.168.1.0/26"));
        assert!(ip_matches("1.2.3.4", "0.0.0.0/0"));
        assert!(ip_matches("1.2.3.4", "1.2.3.4"));
        assert!(!ip_matches("1.2.3.5", "1.2.3.4"));
        assert!(!ip_matches("::1", "1.2.3.4/0"));
    }

    #[test]
    fn get_acl_masks_digest_hashes() {
        let acl = vec![
            Acl::new(31, "digest", "u1:abc="),
            Acl::new(1, "world", "anyone"),
        ];
        assert_eq!(
            mask_digests(&acl),
            vec![
                Acl::new(31, "digest", "u1:x"),
                Acl::new(1, "world", "anyone")
            ]
        );
    }

    #[test]
    fn acl_table_interns_and_frees() {
        let mut t = AclTable::default();
        let a = t.intern(&Acl::open_unsafe());
        let b = t.intern(&Acl::open_unsafe());
        assert_eq!(a, b);
        let c = t.intern(&Acl::read_unsafe());
        assert_ne!(a, c);
        t.release(a);
        assert_eq!(t.get(a), Acl::open_unsafe().as_slice());
        t.release(a);
        assert_eq!(t.len(), 1);
        let d = t.intern(&Acl::creator_all());
        assert_eq!(d, a, "freed index reused");
    }
}
