//! Watch commands: `addWatch` and `removewatches`.

use zk_core::{AddWatchMode, Error, WatcherType};

use super::{parse, usage_str};
use crate::cli_options::{flag, valued};
use crate::errors::{CliError, OnPath};
use crate::session::Session;
use crate::watch_hub::Kind;

pub async fn add_watch(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[valued('m')], args)?;
    let usage = || CliError::new(usage_str("addWatch"));
    if cl.args.len() != 2 {
        return Err(usage());
    }
    let (mode, kind) = match cl.value('m').map(str::to_uppercase).as_deref() {
        None | Some("PERSISTENT_RECURSIVE") => (AddWatchMode::PersistentRecursive, Kind::Recursive),
        Some("PERSISTENT") => (AddWatchMode::Persistent, Kind::Persistent),
        Some(_) => return Err(usage()),
    };
    let path = cl.args[1].as_str();
    let client = session.client().await.on(path)?;
    let w = client.add_watch(path, mode).await.on(path)?;
    session.watches.add_stream(kind, path, w);
    Ok(())
}

pub async fn remove_watches(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    // -l (remove locally without a connection) is accepted; zk-core always asks the server.
    let cl = parse(&[flag('c'), flag('d'), flag('a'), flag('l')], args)?;
    if cl.args.len() < 2 {
        return Err(CliError::new(usage_str("removewatches")));
    }
    let (kind, local): (_, &[Kind]) = if cl.has('c') {
        (WatcherType::Children, &[Kind::Child])
    } else if cl.has('d') {
        (WatcherType::Data, &[Kind::Data, Kind::Exist])
    } else {
        (
            WatcherType::Any,
            &[
                Kind::Child,
                Kind::Data,
                Kind::Exist,
                Kind::Persistent,
                Kind::Recursive,
            ],
        )
    };
    let path = cl.args[1].as_str();
    let client = session.client().await.on(path)?;
    // Java's client removes its own watches of that kind after the server's answer and fails
    // when it had none, even if the server removed something (e.g. `-c` on a path with only a
    // persistent watch removes that watch's child part on the server).
    let had_local = session.watches.has(path, local);
    client.remove_watches(path, kind).await.on(path)?;
    if !had_local {
        return Err(CliError::keeper(&Error::NoWatcher, path));
    }
    // The removed watches' events are printed by the hub; let it run before the next command.
    tokio::task::yield_now().await;
    Ok(())
}
