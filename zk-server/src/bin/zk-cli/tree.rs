//! Subtree walks of Java's `ZKUtil`, used by `ls -R`, `setAcl -R` and `deleteall`.

use zk_core::proto::validate_path;
use zk_core::{Acl, Client, Error};

use crate::errors::{keeper_message, CliError};
use crate::output::{out, out_raw};
use crate::watch_hub::{Kind, WatchHub};

/// A failure on one node of a walk.
pub type WalkError = (Error, String);

/// What `visit_dfs` does with each node.
#[derive(Debug)]
pub enum Visit<'a> {
    /// Print the path (`ls -R`); watch the root's data and every node's children if `watch`.
    Print {
        /// Leave watches.
        watch: bool,
        /// Where watches go.
        hub: &'a WatchHub,
    },
    /// Set the ACL, printing failures without a line break as zkCli does (`setAcl -R`).
    SetAcl {
        /// The new ACL.
        acl: &'a [Acl],
        /// The expected ACL version.
        version: i32,
    },
}

impl Visit<'_> {
    async fn node(&self, client: &Client, path: &str) {
        match self {
            Visit::Print { .. } => out(path),
            Visit::SetAcl { acl, version } => {
                let r = if acl.is_empty() {
                    // Java's client refuses an empty ACL before sending (no path in the error).
                    Err((Error::InvalidAcl, None))
                } else {
                    client
                        .set_acl(path, acl.to_vec(), Some(*version))
                        .await
                        .map_err(|e| (e, Some(path)))
                };
                if let Err((e, p)) = r {
                    out_raw(&keeper_message(&e, p));
                }
            }
        }
    }

    fn watch(&self) -> Option<&WatchHub> {
        match self {
            Visit::Print { watch: true, hub } => Some(hub),
            _ => None,
        }
    }
}

/// `ZKUtil.visitSubTreeDFS`: the root (after reading its data), then for each node its sorted
/// children, then each child's subtree. Nodes that vanish meanwhile are skipped.
///
/// # Errors
/// The first failure other than a vanished child, with the node it happened on.
pub async fn visit_dfs(client: &Client, root: &str, visit: &Visit<'_>) -> Result<(), WalkError> {
    validate_path(root).map_err(|e| (Error::from(e), root.to_string()))?;
    match visit.watch() {
        Some(hub) => {
            let (_, _, w) = client
                .get_data_w(root)
                .await
                .map_err(|e| (e, root.to_string()))?;
            hub.add_once(Kind::Data, root, w);
        }
        None => {
            client
                .get_data(root)
                .await
                .map_err(|e| (e, root.to_string()))?;
        }
    }
    visit.node(client, root).await;
    // An explicit stack gives the recursion's order: a node's children are visited (in sorted
    // order) before any grandchild, then each child's subtree in turn.
    let mut stack = vec![root.to_string()];
    while let Some(path) = stack.pop() {
        let listed = match visit.watch() {
            Some(hub) => client.get_children_w(&path).await.map(|(c, w)| {
                hub.add_once(Kind::Child, &path, w);
                c
            }),
            None => client.get_children(&path).await,
        };
        let mut children = match listed {
            Ok(c) => c,
            Err(Error::NoNode) => continue,
            Err(e) => return Err((e, path)),
        };
        children.sort();
        let prefix = if path == "/" { "" } else { path.as_str() };
        let paths: Vec<String> = children.iter().map(|c| format!("{prefix}/{c}")).collect();
        for p in &paths {
            visit.node(client, p).await;
        }
        stack.extend(paths.into_iter().rev());
    }
    Ok(())
}

/// `ZKUtil.listSubTreeBFS`: the root and every descendant, breadth first.
///
/// # Errors
/// The first failure, with the node it happened on.
pub async fn list_bfs(client: &Client, root: &str) -> Result<Vec<String>, WalkError> {
    let mut tree = vec![root.to_string()];
    let mut next = 0;
    while next < tree.len() {
        let node = tree[next].clone();
        next += 1;
        let children = client
            .get_children(&node)
            .await
            .map_err(|e| (e, node.clone()))?;
        let prefix = if node == "/" { "" } else { node.as_str() };
        tree.extend(children.iter().map(|c| format!("{prefix}/{c}")));
    }
    Ok(tree)
}

/// `ZKUtil.deleteRecursive`: deletes the subtree, leaves first, `batch` deletes per multi
/// (one by one when `batch <= 0`). Returns whether every batch succeeded.
///
/// # Errors
/// A failed listing, or a failed single delete when not batching.
pub async fn delete_recursive(client: &Client, root: &str, batch: i32) -> Result<bool, CliError> {
    validate_path(root).map_err(|e| CliError::keeper(&Error::from(e), root))?;
    let tree = list_bfs(client, root)
        .await
        .map_err(|(e, p)| CliError::keeper(&e, &p))?;
    let Ok(size) = usize::try_from(batch) else {
        return delete_one_by_one(client, &tree).await;
    };
    if size == 0 {
        return delete_one_by_one(client, &tree).await;
    }
    for chunk in tree.iter().rev().collect::<Vec<_>>().chunks(size) {
        let txn = chunk
            .iter()
            .fold(client.transaction(), |t, p| t.delete(p, None));
        if txn.commit().await.is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn delete_one_by_one(client: &Client, tree: &[String]) -> Result<bool, CliError> {
    for p in tree.iter().rev() {
        client
            .delete(p, None)
            .await
            .map_err(|e| CliError::keeper(&e, p))?;
    }
    Ok(true)
}
