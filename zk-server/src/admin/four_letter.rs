//! Four-letter words: `ruok`, `srvr`, `stat`, `mntr`, `conf`, `cons`, `envi`, `wchs`, `wchc`,
//! `wchp`, `dump`, `isro`, `srst`, `crst`, `dirs`, answered in Apache's formats and honouring
//! `4lw.commands.whitelist` (`gtmk`, `stmk` and `hash` are recognised but not supported).

use std::fmt::Write;

use crate::net::gate::NOT_SERVING;
use crate::server::Shared;
use crate::watch::WatchTableKind;

/// The version this server reports (the protocol level it implements).
pub const VERSION: &str = concat!("3.9.0-zk-rs-", env!("CARGO_PKG_VERSION"));

const COMMANDS: &[&str] = &[
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "wchc", "wchp", "dump", "isro",
    "srst", "crst", "dirs", "gtmk", "stmk", "hash",
];

/// The command if the first four bytes of a connection are one.
pub fn sniff(first: &[u8; 4]) -> Option<&'static str> {
    COMMANDS.iter().copied().find(|c| c.as_bytes() == first)
}

/// Runs a command and returns its output.
pub fn run(cmd: &str, shared: &Shared) -> String {
    if !shared.config.four_letter_enabled(cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    let mut o = String::new();
    let serving = shared.gate.is_open();
    match cmd {
        "ruok" => o.push_str("imok"),
        "isro" if !serving => o.push_str("null"),
        "isro" => o.push_str("rw"),
        // As Apache: only ruok, envi and isro answer while the server is not serving.
        c if !serving && !matches!(c, "envi" | "gtmk" | "stmk" | "hash") => o.push_str(NOT_SERVING),
        "srvr" => server_lines(shared, &mut o, false),
        "stat" => server_lines(shared, &mut o, true),
        "mntr" => mntr(shared, &mut o),
        "conf" => conf(shared, &mut o),
        "envi" => envi(shared, &mut o),
        "cons" => {
            let _ = writeln!(o, " connections: {}", shared.state.conn_count());
            o.push('\n');
        }
        "wchs" => {
            let (conns, paths, total) = shared.state.watches().counts();
            let _ = writeln!(o, "{conns} connections watching {paths} paths");
            let _ = writeln!(o, "Total watches:{total}");
        }
        "wchc" => wchc(shared, &mut o),
        "wchp" => wchp(shared, &mut o),
        "dump" => dump(shared, &mut o),
        "srst" => {
            shared.stats.reset();
            o.push_str("Server stats reset.\n");
        }
        "crst" => o.push_str("Connection stats reset.\n"),
        "dirs" => {
            let _ = writeln!(o, "datadir_size: {}", dir_size(&shared.config.data_dir));
            let _ = writeln!(o, "logdir_size: {}", dir_size(shared.config.log_dir()));
        }
        other => {
            let _ = writeln!(o, "{other} is not supported by this server.");
        }
    }
    o
}

fn mode(shared: &Shared) -> &'static str {
    if shared.config.peers.len() <= 1 {
        "standalone"
    } else if shared.consensus.is_leader() {
        "leader"
    } else {
        "follower"
    }
}

fn server_lines(shared: &Shared, o: &mut String, with_clients: bool) {
    let _ = writeln!(o, "Zookeeper version: {VERSION}, built on unknown");
    if with_clients {
        let _ = writeln!(o, "Clients:");
        let _ = writeln!(o, " ({} connections)", shared.state.conn_count());
        o.push('\n');
    }
    let _ = writeln!(o, "Latency min/avg/max: 0/0.0/0");
    let _ = writeln!(o, "Received: {}", shared.stats.received());
    let _ = writeln!(o, "Sent: {}", shared.stats.sent());
    let _ = writeln!(o, "Connections: {}", shared.state.conn_count());
    let _ = writeln!(o, "Outstanding: 0");
    let _ = writeln!(o, "Zxid: {:#x}", shared.state.last_zxid());
    let _ = writeln!(o, "Mode: {}", mode(shared));
    let _ = writeln!(o, "Node count: {}", shared.state.read().znode_count());
}

fn mntr(shared: &Shared, o: &mut String) {
    let tree = shared.state.read();
    let (paths, total) = {
        let w = shared.state.watches();
        (w.counts().1, w.watch_count())
    };
    let lines: Vec<(&str, String)> = vec![
        ("zk_version", format!("{VERSION}, built on unknown")),
        ("zk_server_state", mode(shared).to_string()),
        ("zk_avg_latency", "0.0".into()),
        ("zk_max_latency", "0".into()),
        ("zk_min_latency", "0".into()),
        ("zk_packets_received", shared.stats.received().to_string()),
        ("zk_packets_sent", shared.stats.sent().to_string()),
        (
            "zk_num_alive_connections",
            shared.state.conn_count().to_string(),
        ),
        ("zk_outstanding_requests", "0".into()),
        ("zk_znode_count", tree.znode_count().to_string()),
        ("zk_watch_count", total.to_string()),
        ("zk_watched_paths", paths.to_string()),
        ("zk_ephemerals_count", tree.ephemeral_count().to_string()),
        (
            "zk_approximate_data_size",
            tree.approximate_data_size().to_string(),
        ),
        ("zk_global_sessions", tree.session_count().to_string()),
        ("zk_last_zxid", format!("{:#x}", shared.state.last_zxid())),
        ("zk_max_file_descriptor_count", "0".into()),
    ];
    for (k, v) in lines {
        let _ = writeln!(o, "{k}\t{v}");
    }
}

fn conf(shared: &Shared, o: &mut String) {
    let c = &shared.config;
    let (min, max) = c.session_timeout_bounds();
    let _ = writeln!(o, "clientPort={}", c.client_port);
    let _ = writeln!(o, "clientPortAddress={}", c.client_addr().ip());
    let _ = writeln!(o, "dataDir={}", c.data_dir.display());
    let _ = writeln!(o, "dataDirSize={}", dir_size(&c.data_dir));
    let _ = writeln!(o, "dataLogDir={}", c.log_dir().display());
    let _ = writeln!(o, "dataLogSize={}", dir_size(c.log_dir()));
    let _ = writeln!(o, "tickTime={}", c.tick_time_ms);
    let _ = writeln!(o, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(o, "minSessionTimeout={min}");
    let _ = writeln!(o, "maxSessionTimeout={max}");
    let _ = writeln!(o, "serverId={}", shared.server_id);
    for p in &c.peers {
        let _ = writeln!(
            o,
            "server.{}={}:{}:{}",
            p.id, p.host, p.quorum_port, p.election_port
        );
    }
}

fn envi(shared: &Shared, o: &mut String) {
    let _ = writeln!(o, "Environment:");
    let _ = writeln!(o, "zookeeper.version={VERSION}, built on unknown");
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let _ = writeln!(o, "host.name={}", host.trim());
    let _ = writeln!(o, "os.name={}", std::env::consts::OS);
    let _ = writeln!(o, "os.arch={}", std::env::consts::ARCH);
    let _ = writeln!(
        o,
        "user.dir={}",
        std::env::current_dir().unwrap_or_default().display()
    );
    let _ = writeln!(o, "zk-rs.server_id={}", shared.server_id);
}

/// Apache's `Long.toHexString` of a connection's session (0 once it is gone).
fn session_hex(shared: &Shared, conn: u64) -> String {
    format!("0x{:x}", shared.state.conn_session(conn).unwrap_or(0))
}

/// `wchc`: each watching connection's session, then its watched paths (data watches, as
/// Apache), and a closing empty line.
fn wchc(shared: &Shared, o: &mut String) {
    let by_conn = shared.state.watches().by_connection(WatchTableKind::Data);
    for (conn, paths) in by_conn {
        let _ = writeln!(o, "{}", session_hex(shared, conn));
        for p in paths {
            let _ = writeln!(o, "\t{p}");
        }
    }
    o.push('\n');
}

/// `wchp`: each watched path, then the sessions watching it, and a closing empty line.
fn wchp(shared: &Shared, o: &mut String) {
    let by_path = shared.state.watches().by_path(WatchTableKind::Data);
    for (path, conns) in by_path {
        let _ = writeln!(o, "{path}");
        for c in conns {
            let _ = writeln!(o, "\t{}", session_hex(shared, c));
        }
    }
    o.push('\n');
}

fn dump(shared: &Shared, o: &mut String) {
    let tree = shared.state.read();
    let _ = writeln!(o, "SessionTracker dump:");
    let _ = writeln!(o, "Global Sessions({}):", tree.session_count());
    for (id, timeout) in tree.sessions() {
        let _ = writeln!(o, "{id:#x}\t{timeout}ms");
    }
    let _ = writeln!(o, "ephemeral nodes dump:");
    for (id, _) in tree.sessions() {
        let eph = tree.ephemerals(id);
        if eph.is_empty() {
            continue;
        }
        let _ = writeln!(o, "Sessions with Ephemerals ({}):", 1);
        let _ = writeln!(o, "{id:#x}:");
        for p in eph {
            let _ = writeln!(o, "\t{p}");
        }
    }
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
