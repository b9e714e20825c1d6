//! Reading commands: `ls`, `get`, `stat`, `getAllChildrenNumber`, `getEphemerals`, `sync`.

use zk_core::Error;

use super::{need, parse};
use crate::cli_options::{flag, CommandLine, Spec};
use crate::errors::{CliError, OnPath};
use crate::output::{err, out};
use crate::session::Session;
use crate::stat;
use crate::tree::{self, Visit};
use crate::watch_hub::Kind;

/// Parses, then applies zkCli's backward compatibility for `cmd path watch`: a third argument
/// turns into `-w` (by overwriting the raw token at index 2, as zkCli does) with a warning.
fn parse_with_legacy_watch(
    specs: &[Spec],
    args: &mut [String],
    legacy: &str,
    usage: &str,
    check_args: bool,
) -> Result<CommandLine, CliError> {
    let cl = parse(specs, args)?;
    if check_args {
        need(&cl, 2)?;
    }
    if cl.args.len() <= 2 {
        return Ok(cl);
    }
    args[2] = "-w".into();
    err(&format!(
        "'{legacy}' has been deprecated. Please use '{usage}' instead."
    ));
    parse(specs, args)
}

pub async fn ls(session: &mut Session, args: &mut [String]) -> Result<(), CliError> {
    let specs = [flag('?'), flag('s'), flag('w'), flag('R')];
    let first = parse(&specs, args)?;
    if first.has('?') {
        out("usage: ls [options] path\n -?   help\n -R   recurse\n -s   stat\n -w   watch");
    }
    let cl = parse_with_legacy_watch(&specs, args, "ls path [watch]", "ls [-w] path", false)?;
    need(&cl, 2)?;
    let path = cl.args[1].as_str();
    let watch = cl.has('w');
    let client = session.client().await.on(path)?;
    if cl.has('R') {
        let visit = Visit::Print {
            watch,
            hub: &session.watches,
        };
        return tree::visit_dfs(&client, path, &visit)
            .await
            .map_err(|(e, p)| CliError::keeper(&e, &p));
    }
    let (mut children, st) = match (cl.has('s'), watch) {
        (true, true) => {
            let (c, s, w) = client.get_children2_w(path).await.on(path)?;
            session.watches.add_once(Kind::Child, path, w);
            (c, Some(s))
        }
        (true, false) => {
            let (c, s) = client.get_children2(path).await.on(path)?;
            (c, Some(s))
        }
        (false, true) => {
            let (c, w) = client.get_children_w(path).await.on(path)?;
            session.watches.add_once(Kind::Child, path, w);
            (c, None)
        }
        (false, false) => (client.get_children(path).await.on(path)?, None),
    };
    children.sort();
    out(&format!("[{}]", children.join(", ")));
    if let Some(s) = st {
        stat::print(&s);
    }
    Ok(())
}

pub async fn get(session: &mut Session, args: &mut [String]) -> Result<(), CliError> {
    let specs = [flag('s'), flag('w')];
    let cl = parse_with_legacy_watch(&specs, args, "get path [watch]", "get [-s] [-w] path", true)?;
    let path = cl.args[1].as_str();
    let client = session.client().await.on(path)?;
    let (data, st) = if cl.has('w') {
        let (d, s, w) = client.get_data_w(path).await.on(path)?;
        session.watches.add_once(Kind::Data, path, w);
        (d, s)
    } else {
        client.get_data(path).await.on(path)?
    };
    // zk-core cannot tell null data from empty data; both print as an empty line.
    out(&String::from_utf8_lossy(&data));
    if cl.has('s') {
        stat::print(&st);
    }
    Ok(())
}

pub async fn stat(session: &mut Session, args: &mut [String]) -> Result<(), CliError> {
    let specs = [flag('w')];
    let cl = parse_with_legacy_watch(&specs, args, "stat path [watch]", "stat [-w] path", true)?;
    let path = cl.args[1].as_str();
    let client = session.client().await.on(path)?;
    let st = if cl.has('w') {
        // Like Java's exists(path, true): the watch stays even when the node does not exist.
        let (s, w) = client.exists_w(path).await.on(path)?;
        let kind = if s.is_some() { Kind::Data } else { Kind::Exist };
        session.watches.add_once(kind, path, w);
        s
    } else {
        client.exists(path).await.on(path)?
    };
    let st = st.ok_or_else(|| CliError::keeper(&Error::NoNode, path))?;
    stat::print(&st);
    Ok(())
}

pub async fn all_children_number(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[], args)?;
    need(&cl, 2)?;
    let path = cl.args[1].as_str();
    let client = session.client().await.on(path)?;
    let n = client.get_all_children_number(path).await.on(path)?;
    out(&n.to_string());
    Ok(())
}

pub async fn ephemerals(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[], args)?;
    let path = cl.args.get(1).map_or("/", String::as_str);
    let client = session.client().await.on(path)?;
    let list = client.get_ephemerals(path).await.on(path)?;
    out(&format!("[{}]", list.join(", ")));
    Ok(())
}

pub async fn sync(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[], args)?;
    need(&cl, 2)?;
    let path = cl.args[1].as_str();
    // zkCli reports every failure but a bad path through the sync callback's result code.
    let synced = match session.client().await {
        Ok(client) => client.sync(path).await,
        Err(e) => Err(e),
    };
    match synced {
        Ok(()) => out("Sync is OK"),
        Err(e @ Error::InvalidPath(_)) => return Err(CliError::keeper(&e, path)),
        Err(e) => out(&format!("Sync has failed. rc={}", e.code().unwrap_or(-4))),
    }
    Ok(())
}
