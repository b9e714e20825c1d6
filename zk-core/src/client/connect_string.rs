//! Connect strings: `host1:2181,host2:2181/optional/chroot`.

use crate::error::Error;
use crate::proto::Chroot;

/// A parsed connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// `host:port` entries (port 2181 when omitted; IPv6 as `[addr]:port`).
    pub hosts: Vec<String>,
    /// The chroot, if any.
    pub chroot: Chroot,
}

impl ConnectString {
    /// Parses a connect string.
    ///
    /// # Errors
    /// [`Error::BadConnectString`] for an empty host list or a bad port, [`Error::InvalidPath`]
    /// for a bad chroot.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let (hosts_part, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let chroot = Chroot::new(chroot)?;
        let mut hosts = Vec::new();
        for h in hosts_part
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            hosts.push(normalize_host(h)?);
        }
        if hosts.is_empty() {
            return Err(Error::BadConnectString(format!("no hosts in {s:?}")));
        }
        Ok(Self { hosts, chroot })
    }
}

fn normalize_host(h: &str) -> Result<String, Error> {
    let bad = || Error::BadConnectString(format!("bad host {h:?}"));
    if let Some(rest) = h.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or_else(bad)?;
        return match after.strip_prefix(':') {
            None if after.is_empty() => Ok(format!("[{addr}]:2181")),
            Some(p) => p
                .parse::<u16>()
                .map(|p| format!("[{addr}]:{p}"))
                .map_err(|_| bad()),
            None => Err(bad()),
        };
    }
    match h.rsplit_once(':') {
        None => Ok(format!("{h}:2181")),
        Some((host, port)) if !host.is_empty() && !host.contains(':') => port
            .parse::<u16>()
            .map(|p| format!("{host}:{p}"))
            .map_err(|_| bad()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_chroot() {
        let c = ConnectString::parse("a:1, b ,[::1]:3,[::1]/app/x").expect("parses");
        assert_eq!(c.hosts, ["a:1", "b:2181", "[::1]:3", "[::1]:2181"]);
        assert_eq!(c.chroot.root(), Some("/app/x"));
        assert!(ConnectString::parse("/app").is_err());
        assert!(ConnectString::parse("a:x").is_err());
        assert!(ConnectString::parse("a:1/app/").is_err());
        assert_eq!(
            ConnectString::parse("a:1/").expect("parses").chroot.root(),
            None
        );
    }
}
