//! Curator's protected mode and the helpers every lock-like recipe shares: container parents,
//! protected ephemeral-sequential creation with connection-loss recovery, sorting by sequence
//! and guaranteed deletes.

use std::sync::atomic::{AtomicBool, Ordering};

use rand::RngCore;
use zk_core::{Client, CreateMode, CreateOptions, Error, Stat};

use crate::retry::RetryPolicy;

/// Curator's protected-name prefix.
pub const PROTECTED_PREFIX: &str = "_c_";

/// A random (version 4) UUID, lowercase and hyphenated like Java's `UUID.toString()`.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// The last path component.
pub fn node_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Curator's `standardFixForSorting`: the text after the last `lock_name`, or the whole name.
pub fn sort_key<'a>(name: &'a str, lock_name: &str) -> &'a str {
    match name.rfind(lock_name) {
        Some(i) => &name[i + lock_name.len()..],
        None => name,
    }
}

/// Sorts child names the way Curator does (by the text after the last `lock_name`).
pub fn sort_children(children: &mut [String], lock_name: &str) {
    children.sort_by(|a, b| sort_key(a, lock_name).cmp(sort_key(b, lock_name)));
}

/// Whether the server lacks container nodes (learned once, then persistent parents are made).
static NO_CONTAINERS: AtomicBool = AtomicBool::new(false);

/// Creates `path` and its missing ancestors as containers (persistent on servers without
/// containers), like Curator's `creatingParentContainersIfNeeded`.
///
/// # Errors
/// Any create error other than NodeExists.
pub async fn ensure_containers(client: &Client, path: &str) -> Result<(), Error> {
    let mut at = 0;
    while at < path.len() {
        let end = path[at + 1..].find('/').map_or(path.len(), |i| at + 1 + i);
        let prefix = &path[..end];
        at = end;
        let mode = if NO_CONTAINERS.load(Ordering::Relaxed) {
            CreateMode::Persistent
        } else {
            CreateMode::Container
        };
        match client.create(prefix, b"", &CreateOptions::new(mode)).await {
            Ok(_) | Err(Error::NodeExists) => {}
            Err(Error::Unimplemented) if mode == CreateMode::Container => {
                NO_CONTAINERS.store(true, Ordering::Relaxed);
                match client
                    .create(prefix, b"", &CreateOptions::new(CreateMode::Persistent))
                    .await
                {
                    Ok(_) | Err(Error::NodeExists) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates `{dir}/_c_<uuid>-{lock_name}<seq>` EPHEMERAL_SEQUENTIAL with `data` (protected
/// mode), creating `dir` as a container if needed. After a retryable error the node is looked
/// for by its `_c_<uuid>-` prefix; a found node whose ephemeralOwner is not our session is
/// deleted and creation starts again with a new UUID. Returns the full path and the stat.
///
/// # Errors
/// A non-retryable error, or the last error once `retry` gives up.
pub async fn create_protected(
    client: &Client,
    dir: &str,
    lock_name: &str,
    data: &[u8],
    retry: &RetryPolicy,
) -> Result<(String, Stat), Error> {
    let mut delays = retry.delays();
    let mut uuid = uuid_v4();
    let mut maybe_created = false;
    loop {
        let prefix = format!("{PROTECTED_PREFIX}{uuid}-");
        let err = if maybe_created {
            // A previous try may have been applied: look for our node first.
            match find_protected(client, dir, &prefix).await {
                Ok(Some((path, stat))) if stat.ephemeral_owner == client.session_id() => {
                    return Ok((path, stat))
                }
                Ok(Some((path, _))) => {
                    tracing::debug!(%path, "protected node of another session; deleting");
                    let _ = guaranteed_delete(client, &path, retry).await;
                    uuid = uuid_v4();
                    maybe_created = false;
                    continue;
                }
                Ok(None) => {
                    maybe_created = false;
                    continue;
                }
                Err(e) => e,
            }
        } else {
            let path = join(dir, &format!("{prefix}{lock_name}"));
            let opts = CreateOptions::new(CreateMode::EphemeralSequential);
            match client.create2(&path, data, &opts).await {
                Ok(r) => return Ok(r),
                Err(Error::NoNode) => {
                    ensure_containers(client, dir).await?;
                    continue;
                }
                Err(e) => {
                    if e.is_retryable() {
                        maybe_created = true;
                    }
                    e
                }
            }
        };
        if !err.is_retryable() {
            return Err(err);
        }
        match delays.next() {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                // Give up; remove an orphan if the create did go through.
                if maybe_created {
                    let c = client.clone();
                    let dir = dir.to_string();
                    let retry = retry.clone();
                    tokio::spawn(async move {
                        if let Ok(Some((p, _))) = find_protected(&c, &dir, &prefix).await {
                            let _ = guaranteed_delete(&c, &p, &retry).await;
                        }
                    });
                }
                return Err(err);
            }
        }
    }
}

/// The child of `dir` whose name starts with `prefix`, with its stat.
async fn find_protected(
    client: &Client,
    dir: &str,
    prefix: &str,
) -> Result<Option<(String, Stat)>, Error> {
    let children = match client.get_children(dir).await {
        Ok(c) => c,
        Err(Error::NoNode) => return Ok(None),
        Err(e) => return Err(e),
    };
    for c in children.iter().filter(|c| c.starts_with(prefix)) {
        let path = join(dir, c);
        if let Some(stat) = client.exists(&path).await? {
            return Ok(Some((path, stat)));
        }
    }
    Ok(None)
}

/// Deletes `path`, retrying retryable errors until the delete is confirmed (or the node is
/// gone), or the session is gone (expired or closed: the server removes ephemerals itself).
/// `retry` only paces the retries; it never makes this give up while the session lives.
///
/// # Errors
/// A non-retryable error other than NoNode (e.g. NoAuth, NotEmpty), or the terminal session
/// error.
pub async fn guaranteed_delete(
    client: &Client,
    path: &str,
    retry: &RetryPolicy,
) -> Result<(), Error> {
    let mut delays = retry.delays();
    loop {
        match client.delete(path, None).await {
            Ok(()) | Err(Error::NoNode) => return Ok(()),
            Err(e) if e.is_retryable() => {
                if client.state().is_terminal() {
                    return Err(e);
                }
                let d = delays
                    .next()
                    .unwrap_or(std::time::Duration::from_millis(500));
                tracing::debug!(%path, error = %e, "delete failed; retrying");
                tokio::time::sleep(d).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Deletes `path` in the background with [`guaranteed_delete`] (needs a tokio runtime; without
/// one the node is left to the session's end).
pub fn spawn_guaranteed_delete(client: Client, path: String, retry: RetryPolicy) {
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        h.spawn(async move {
            if let Err(e) = guaranteed_delete(&client, &path, &retry).await {
                tracing::warn!(%path, error = %e, "could not delete recipe node");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_looks_like_java() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert!(matches!(u.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(u.matches('-').count(), 4);
        assert!(u
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_uppercase()));
    }

    #[test]
    fn sorts_by_text_after_last_lock_name() {
        let mut v = vec![
            "_c_bbbb-lock-0000000003".to_string(),
            "_c_aaaa-lock-0000000010".to_string(),
            "_c_cccc-lock-0000000001".to_string(),
        ];
        sort_children(&mut v, "lock-");
        assert_eq!(v[0], "_c_cccc-lock-0000000001");
        assert_eq!(v[2], "_c_aaaa-lock-0000000010");
        assert_eq!(sort_key("x-lock-y-lock-05", "lock-"), "05");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(node_name("/a/b"), "b");
    }
}
