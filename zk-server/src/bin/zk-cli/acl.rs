//! ACLs as zkCli reads and prints them: `scheme:id:perms` entries separated by commas
//! (`AclParser`), and `'scheme,'id` + `: perms` lines (`GetAclCommand`).

use zk_core::{perms, Acl, Id};

use crate::output::err;

/// Java's `String.split(",")`: trailing empty pieces dropped; no comma gives the whole string.
fn java_split(s: &str) -> Vec<&str> {
    if !s.contains(',') {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(',').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// Parses an ACL string as `AclParser.parse`, warning on stderr about malformed entries (which
/// are skipped) and unknown permission letters (which are ignored).
pub fn parse(s: &str) -> Vec<Acl> {
    let mut acl = Vec::new();
    for a in java_split(s) {
        let (Some(first), Some(last)) = (a.find(':'), a.rfind(':')) else {
            err(&format!("{a} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            err(&format!("{a} does not have the form scheme:id:perm"));
            continue;
        }
        acl.push(Acl {
            perms: perms_from(&a[last + 1..]),
            id: Id::new(&a[..first], &a[first + 1..last]),
        });
    }
    acl
}

fn perms_from(s: &str) -> i32 {
    let mut p = 0;
    for c in s.chars() {
        match c {
            'r' => p |= perms::READ,
            'w' => p |= perms::WRITE,
            'c' => p |= perms::CREATE,
            'd' => p |= perms::DELETE,
            'a' => p |= perms::ADMIN,
            other => err(&format!("Unknown perm type: {other}")),
        }
    }
    p
}

/// Permission letters in zkCli's order: `cdrwa`.
pub fn perm_string(p: i32) -> String {
    [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| p & bit != 0)
    .map(|&(_, c)| c)
    .collect()
}

/// jute's `ToStringOutputArchive` escaping of a string field.
fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 1);
    o.push('\'');
    for c in s.chars() {
        match c {
            '\0' => o.push_str("%00"),
            '\n' => o.push_str("%0A"),
            '\r' => o.push_str("%0D"),
            ',' => o.push_str("%2C"),
            '}' => o.push_str("%7D"),
            '%' => o.push_str("%25"),
            c => o.push(c),
        }
    }
    o
}

/// What `getAcl` prints for one entry: `'scheme,'id` newline `: perms`.
pub fn entry_string(a: &Acl) -> String {
    format!(
        "{},{}\n: {}",
        escape(&a.id.scheme),
        escape(&a.id.id),
        perm_string(a.perms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_zkcli() {
        let acl = parse("world:anyone:cdrwa,digest:u:h=:r,ip:1.2.3.4:rw");
        assert_eq!(acl.len(), 3);
        assert_eq!(acl[0], Acl::new(perms::ALL, "world", "anyone"));
        assert_eq!(acl[1].id, Id::new("digest", "u:h="));
        assert_eq!(perm_string(acl[2].perms), "rw");
        assert_eq!(entry_string(&acl[0]), "'world,'anyone\n: cdrwa");
        assert!(parse("bogus").is_empty());
        assert_eq!(parse("auth::cdrwa")[0].id, Id::new("auth", ""));
        assert_eq!(java_split("a,b,,"), ["a", "b"]);
        assert_eq!(java_split(""), [""]);
        assert!(java_split(",").is_empty());
        assert_eq!(escape("a,b%"), "'a%2Cb%25");
    }
}
