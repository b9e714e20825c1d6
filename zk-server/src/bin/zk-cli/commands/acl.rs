//! ACL and identity commands: `getAcl`, `setAcl`, `addauth`, `whoami`.

use zk_core::proto::validate_path;
use zk_core::Error;

use super::{int_option, need, parse};
use crate::cli_options::{flag, valued};
use crate::errors::{CliError, OnPath};
use crate::output::out;
use crate::session::Session;
use crate::tree::{self, Visit};
use crate::{acl, stat};

pub async fn get_acl(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[flag('s')], args)?;
    need(&cl, 2)?;
    let path = cl.args[1].as_str();
    let client = session.client().await.on(path)?;
    let (entries, st) = client.get_acl(path).await.on(path)?;
    for a in &entries {
        out(&acl::entry_string(a));
    }
    if cl.has('s') {
        stat::print(&st);
    }
    Ok(())
}

pub async fn set_acl(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[flag('s'), valued('v'), flag('R')], args)?;
    need(&cl, 3)?;
    let path = cl.args[1].as_str();
    let entries = acl::parse(&cl.args[2]);
    let version = int_option(&cl, 'v', -1)?;
    let client = session.client().await.on(path)?;
    if cl.has('R') {
        let visit = Visit::SetAcl {
            acl: &entries,
            version,
        };
        return tree::visit_dfs(&client, path, &visit)
            .await
            .map_err(|(e, p)| CliError::keeper(&e, &p));
    }
    if entries.is_empty() {
        // Java's client validates the path, then refuses an empty ACL before sending.
        validate_path(path).map_err(|pe| CliError::keeper(&Error::from(pe), path))?;
        return Err(CliError::keeper_no_path(&Error::InvalidAcl));
    }
    let st = client
        .set_acl(path, entries, Some(version))
        .await
        .on(path)?;
    if cl.has('s') {
        stat::print(&st);
    }
    Ok(())
}

pub async fn add_auth(session: &mut Session, args: &[String]) -> Result<(), CliError> {
    let cl = parse(&[], args)?;
    need(&cl, 2)?;
    let auth = cl.args.get(2).map_or(&[][..], |a| a.as_bytes());
    // zkCli hands the credentials over without waiting and prints nothing; a refusal ends the
    // session, which the session printer reports as an AuthFailed event.
    let _ = session.add_auth(&cl.args[1], auth).await;
    tokio::task::yield_now().await;
    Ok(())
}

pub async fn who_am_i(session: &mut Session) -> Result<(), CliError> {
    let client = session
        .client()
        .await
        .map_err(|e| CliError::keeper_no_path(&e))?;
    let ids = client
        .who_am_i()
        .await
        .map_err(|e| CliError::keeper_no_path(&e))?;
    out("Auth scheme: User");
    for id in ids {
        out(&format!("{}: {}", id.auth_scheme, id.user));
    }
    Ok(())
}
