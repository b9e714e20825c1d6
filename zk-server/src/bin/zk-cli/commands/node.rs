//! Writing commands: `create`, `set`, `delete`, `deleteall`.

use zk_core::proto::path::validate_create_path;
use zk_core::{Acl, CreateMode, CreateOptions, Error};

use super::{int_option, need, parse};
use crate::cli_options::{flag, valued};
use crate::errors::{keeper_message, CliError, OnPath};
use crate::output::err;
use crate::session::Session;
use crate::{acl, stat, tree};

/// The largest TTL a node may have (Java's `EphemeralType.MAX_TTL`).
const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

pub async fn create(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[flag('e'), flag('s'), flag('c'), valued('t')], args)?;
    need(&cl, 2)?;
    let (e, s, c, t) = (cl.has('e'), cl.has('s'), cl.has('c'), cl.has('t'));
    if c && (e || s) {
        return Err(CliError::new(
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.",
        ));
    }
    let ttl = match cl.value('t') {
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| CliError::new("-t argument must be a long value"))?,
        ),
        None => None,
    };
    if t && e {
        return Err(CliError::new("TTLs cannot be used with Ephemeral znodes"));
    }
    if t && c {
        return Err(CliError::new("TTLs cannot be used with Container znodes"));
    }
    let mode = match (e, s, c, t) {
        (true, true, _, _) => CreateMode::EphemeralSequential,
        (true, false, _, _) => CreateMode::Ephemeral,
        (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
        (false, true, _, false) => CreateMode::PersistentSequential,
        (false, false, true, _) => CreateMode::Container,
        (false, false, false, true) => CreateMode::PersistentWithTtl,
        (false, false, false, false) => CreateMode::Persistent,
    };
    if let Some(ttl) = ttl {
        if ttl <= 0 || ttl > MAX_TTL {
            return Err(CliError::new(format!(
                "ttl must be positive and cannot be larger than: {MAX_TTL}"
            )));
        }
    }
    let path = cl.args[1].as_str();
    let data = cl.args.get(2).map_or(&[][..], |d| d.as_bytes());
    let acl = match cl.args.get(3) {
        Some(a) => acl::parse(a),
        None => Acl::open_unsafe(),
    };
    if acl.is_empty() {
        // Java's client validates the path, then refuses an empty ACL before sending.
        validate_create_path(path, mode.is_sequential())
            .map_err(|pe| CliError::keeper(&Error::from(pe), path))?;
        err(&keeper_message(&Error::InvalidAcl, None));
        return Err(CliError::keeper_no_path(&Error::InvalidAcl));
    }
    let mut opts = CreateOptions::new(mode).acl(acl);
    if let Some(ttl) = ttl {
        opts = opts.ttl(ttl);
    }
    let client = session.client().await.on(path)?;
    match client.create(path, data, &opts).await {
        Ok(created) => {
            err(&format!("Created {created}"));
            Ok(())
        }
        Err(e) => {
            match e {
                Error::EphemeralOnLocalSession => {
                    err("Unable to create ephemeral node on a local session");
                }
                Error::InvalidAcl => err(&keeper_message(&e, Some(path))),
                _ => {}
            }
            Err(CliError::keeper(&e, path))
        }
    }
}

pub async fn set(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[flag('s'), valued('v')], args)?;
    need(&cl, 3)?;
    let path = cl.args[1].as_str();
    let version = int_option(&cl, 'v', -1)?;
    let client = session.client().await.on(path)?;
    let st = client
        .set_data(path, cl.args[2].as_bytes(), Some(version))
        .await
        .on(path)?;
    if cl.has('s') {
        stat::print(&st);
    }
    Ok(())
}

pub async fn delete(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[valued('v')], args)?;
    need(&cl, 2)?;
    if cl.args.len() > 2 {
        // zkCli warns but, having re-parsed the same words, ignores the legacy version.
        err("'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.");
    }
    let path = cl.args[1].as_str();
    let version = int_option(&cl, 'v', -1)?;
    let client = session.client().await.on(path)?;
    client.delete(path, Some(version)).await.on(path)
}

pub async fn delete_all(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[valued('b')], args)?;
    need(&cl, 2)?;
    let batch = int_option(&cl, 'b', 1000)?;
    let path = cl.args[1].as_str();
    let client = session.client().await.on(path)?;
    if !tree::delete_recursive(&client, path, batch).await? {
        err("Failed to delete some node(s) in the subtree!");
    }
    Ok(())
}
