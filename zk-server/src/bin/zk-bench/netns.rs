//! Separate hosts on one machine for `failover --fault partition`: every server of an ensemble
//! in its own network namespace, joined by a bridge in the root namespace (which zk-bench's
//! clients use), so the links between servers can be cut with iptables inside one namespace
//! while clients still reach every server. Needs root; everything is removed on drop.
//!
//! Addresses: 10.213.N.1..n for the servers, 10.213.N.254 for the bridge (N from the pid, so
//! two zk-bench runs do not collide).

use std::net::Ipv4Addr;
use std::process::Command;

/// The namespaces, veth pairs and bridge of one ensemble.
#[derive(Debug)]
pub struct Hosts {
    tag: String,
    subnet: u8,
    n: usize,
}

fn ip(args: &[&str]) -> Result<(), String> {
    run(Command::new("ip").args(args))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let what = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Hosts {
    /// Creates `n` hosts.
    ///
    /// # Errors
    /// When not root, or `ip` fails.
    pub fn create(n: usize) -> Result<Self, String> {
        let pid = std::process::id();
        let hosts = Hosts {
            tag: format!("zkb{}", pid % 100_000),
            subnet: u8::try_from(pid % 200).unwrap_or(0) + 20,
            n,
        };
        hosts
            .setup()
            .map_err(|e| format!("network namespaces (needs root and iproute2/iptables): {e}"))?;
        Ok(hosts)
    }

    fn bridge(&self) -> String {
        format!("{}br", self.tag)
    }

    /// The namespace of host `i` (0-based).
    pub fn ns(&self, i: usize) -> String {
        format!("{}n{i}", self.tag)
    }

    /// The address of host `i` (0-based).
    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, u8::try_from(i + 1).unwrap_or(250))
    }

    fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, 254)
    }

    fn setup(&self) -> Result<(), String> {
        let br = self.bridge();
        ip(&["link", "add", &br, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{}/24", self.gateway()), "dev", &br])?;
        ip(&["link", "set", &br, "up"])?;
        // With bridge netfilter on (Docker turns it on, and sets FORWARD's policy to DROP),
        // bridged packets pass the root namespace's FORWARD chain: let ours through.
        run(Command::new("iptables").args(["-I", "FORWARD", "-i", &br, "-o", &br, "-j", "ACCEPT"]))?;
        for i in 0..self.n {
            let ns = self.ns(i);
            let (outer, inner) = (format!("{}h{i}", self.tag), format!("{}v{i}", self.tag));
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "master", &br])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", self.addr(i)),
                "dev",
                &inner,
            ])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// Cuts host `i` from every other host (packets dropped both ways inside its namespace);
    /// the bridge address (the clients) still reaches it.
    ///
    /// # Errors
    /// When iptables fails.
    pub fn isolate(&self, i: usize) -> Result<(), String> {
        let ns = self.ns(i);
        for j in (0..self.n).filter(|&j| j != i) {
            let peer = self.addr(j).to_string();
            for (chain, dir) in [("INPUT", "-s"), ("OUTPUT", "-d")] {
                run(Command::new("ip").args([
                    "netns", "exec", &ns, "iptables", "-A", chain, dir, &peer, "-j", "DROP",
                ]))?;
            }
        }
        Ok(())
    }

    /// Removes [`Hosts::isolate`]'s rules from host `i`.
    ///
    /// # Errors
    /// When iptables fails.
    pub fn heal(&self, i: usize) -> Result<(), String> {
        let ns = self.ns(i);
        for chain in ["INPUT", "OUTPUT"] {
            run(Command::new("ip").args(["netns", "exec", &ns, "iptables", "-F", chain]))?;
        }
        Ok(())
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for i in 0..self.n {
            let _ = ip(&["netns", "del", &self.ns(i)]);
            let _ = ip(&["link", "del", &format!("{}h{i}", self.tag)]);
        }
        let br = self.bridge();
        let _ =
            run(Command::new("iptables")
                .args(["-D", "FORWARD", "-i", &br, "-o", &br, "-j", "ACCEPT"]));
        let _ = ip(&["link", "del", &br]);
    }
}
