//! The ZooKeeper commands (zkCli's `CliCommand`s): their usage strings, option parsing and
//! execution. Shell commands (`connect`, `history`, ...) live in the shell.

mod acl;
mod node;
mod read;
mod watch;

use crate::cli_options::{self, CommandLine, Spec};
use crate::errors::CliError;
use crate::session::Session;

/// Every command zk-cli knows, with zkCli's option strings (shown by the usage text).
pub const ALL: &[(&str, &str)] = &[
    (
        "addWatch",
        "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
    ),
    ("addauth", "scheme auth"),
    ("close", ""),
    ("connect", "host:port"),
    ("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "[-v version] path"),
    ("deleteall", "path [-b batch size]"),
    ("get", "[-s] [-w] path"),
    ("getAcl", "[-s] path"),
    ("getAllChildrenNumber", "path"),
    ("getEphemerals", "path"),
    ("help", ""),
    ("history", ""),
    ("ls", "[-s] [-w] [-R] path"),
    ("printwatches", "on|off"),
    ("quit", ""),
    ("redo", "cmdno"),
    ("removewatches", "path [-c|-d|-a] [-l]"),
    ("set", "[-s] [-v version] path data"),
    ("setAcl", "[-s] [-v version] [-R] path acl"),
    ("stat", "[-w] path"),
    ("sync", "path"),
    ("version", ""),
    ("whoami", ""),
];

/// Whether `cmd` is a known command.
pub fn is_known(cmd: &str) -> bool {
    ALL.iter().any(|(c, _)| *c == cmd)
}

/// `<cmd> <options>`, zkCli's `getUsageStr`.
pub fn usage_str(cmd: &str) -> String {
    let opts = ALL.iter().find(|(c, _)| *c == cmd).map_or("", |(_, o)| o);
    format!("{cmd} {opts}")
}

/// The usage text zkCli prints on stderr for an unknown command.
pub fn usage() -> String {
    let mut s =
        String::from("ZooKeeper -server host:port -client-configuration properties-file cmd args");
    for (cmd, opts) in ALL {
        s.push_str(&format!("\n\t{cmd} {opts}"));
    }
    s
}

/// Parses the options of `args` (the command name first).
fn parse(specs: &[Spec], args: &[String]) -> Result<CommandLine, CliError> {
    cli_options::parse(specs, args).map_err(CliError::new)
}

/// Fails with the command's usage unless at least `n` arguments (the name included) remain.
fn need(cl: &CommandLine, n: usize) -> Result<(), CliError> {
    if cl.args.len() < n {
        return Err(CliError::new(usage_str(&cl.args[0])));
    }
    Ok(())
}

/// Parses an `int` option value as Java's `Integer.parseInt`.
fn int_option(cl: &CommandLine, name: char, default: i32) -> Result<i32, CliError> {
    match cl.value(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| CliError::new(format!("-{name} argument must be an int value"))),
    }
}

/// Runs a ZooKeeper command; `false` if `args[0]` is not one (a shell command).
///
/// # Errors
/// The command's failure, worded as zkCli.
pub async fn run(session: &mut Session, args: &mut [String]) -> Result<bool, CliError> {
    match args[0].as_str() {
        "ls" => read::ls(session, args).await?,
        "get" => read::get(session, args).await?,
        "stat" => read::stat(session, args).await?,
        "getAllChildrenNumber" => read::all_children_number(session, args).await?,
        "getEphemerals" => read::ephemerals(session, args).await?,
        "sync" => read::sync(session, args).await?,
        "create" => node::create(session, args).await?,
        "set" => node::set(session, args).await?,
        "delete" => node::delete(session, args).await?,
        "deleteall" => node::delete_all(session, args).await?,
        "getAcl" => acl::get_acl(session, args).await?,
        "setAcl" => acl::set_acl(session, args).await?,
        "addauth" => acl::add_auth(session, args).await?,
        "whoami" => acl::who_am_i(session).await?,
        "addWatch" => watch::add_watch(session, args).await?,
        "removewatches" => watch::remove_watches(session, args).await?,
        "close" => session.close().await,
        "version" => crate::output::out(&format!(
            "ZooKeeper CLI version: zk-cli {} (zk-rs)",
            env!("CARGO_PKG_VERSION")
        )),
        _ => return Ok(false),
    }
    Ok(true)
}
