//! Quotas, as Apache 3.8.0 keeps them: a `zookeeper_limits` node under
//! `/zookeeper/quota/<path>` marks `<path>` in a trie; a `zookeeper_stats` node next to it holds
//! `count=N,bytes=M` for the subtree, recomputed when the stats node is created and then kept up
//! to date on every create/delete/setData below the deepest quota'd prefix (its data changes
//! without a version, mzxid or watch). With `enforce_quota`, creates and setData that would pass
//! a hard limit fail with QuotaExceeded (soft limits only log in Apache).
//!
//! Apache quirks kept: `StatsTrack.toString` writes `=` before extra keys
//! (`count=1,bytes=0=;countHardLimit=3`); a malformed limits/stats record makes the request a
//! MarshallingError (Apache throws while parsing). Where Apache crashes the server (a limits
//! node right under `/zookeeper/quota`, a malformed stats node while applying), nothing happens
//! here. Unlike Apache, stats are not recomputed when a snapshot is loaded, so replicas that
//! loaded a snapshot and replicas that applied the log stay identical.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use zk_core::proto::ErrorCode;

use super::node::NodeId;
use super::DataTree;

pub(crate) const QUOTA_ROOT: &str = "/zookeeper/quota";
const LIMIT_NODE: &str = "zookeeper_limits";
const STAT_NODE: &str = "zookeeper_stats";

/// Java's `Long.parseLong` on ASCII input.
fn parse_java_long(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

/// Apache's `StatsTrack`: `key=value` pairs separated by `,` or `;`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StatsTrack(BTreeMap<String, i64>);

impl StatsTrack {
    /// Parses node data; `None` where Java throws (null data, a pair without value, a bad
    /// number).
    pub(crate) fn parse(data: Option<&[u8]>) -> Option<Self> {
        let s = String::from_utf8_lossy(data?);
        let mut map = BTreeMap::new();
        if s.is_empty() {
            return Some(Self(map));
        }
        // Pattern.split("[,;]+"): a leading separator gives a leading "", trailing ones nothing.
        let mut pairs: Vec<&str> = s.split([',', ';']).collect();
        while pairs.last() == Some(&"") {
            pairs.pop();
        }
        let mut first = true;
        for p in pairs {
            let leading = first;
            first = false;
            if p.is_empty() && !leading {
                continue; // a run of separators
            }
            // String.split("="): trailing empty strings dropped.
            let mut kv: Vec<&str> = p.split('=').collect();
            while kv.last() == Some(&"") {
                kv.pop();
            }
            let key = *kv.first()?;
            let value = kv.get(1)?;
            let value = if value.is_empty() { "-1" } else { value };
            map.insert(key.to_string(), parse_java_long(value)?);
        }
        Some(Self(map))
    }

    pub(crate) fn get(&self, key: &str) -> i64 {
        self.0.get(key).copied().unwrap_or(-1)
    }

    fn set(&mut self, key: &str, v: i64) {
        self.0.insert(key.to_string(), v);
    }

    /// `count=C,bytes=B`, then (3.8.0's stray `=`) `=;k=v...` for other keys, sorted.
    pub(crate) fn render(&self) -> String {
        let mut s = format!("count={},bytes={}", self.get("count"), self.get("bytes"));
        let others: Vec<(&String, &i64)> = self
            .0
            .iter()
            .filter(|(k, _)| k.as_str() != "count" && k.as_str() != "bytes")
            .collect();
        if !others.is_empty() {
            s.push('=');
            for (k, v) in others {
                s.push_str(&format!(";{k}={v}"));
            }
        }
        s
    }
}

/// The quota'd paths (Apache's `PathTrie`).
#[derive(Debug, Default, Clone)]
pub(crate) struct QuotaTrie {
    root: TrieNode,
}

#[derive(Debug, Default, Clone)]
struct TrieNode {
    property: bool,
    children: HashMap<String, TrieNode>,
}

fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

impl QuotaTrie {
    pub(crate) fn is_empty(&self) -> bool {
        self.root.children.is_empty()
    }

    pub(crate) fn add_path(&mut self, path: &str) {
        let mut node = &mut self.root;
        for c in components(path) {
            node = node.children.entry(c.to_string()).or_default();
        }
        node.property = true;
    }

    pub(crate) fn delete_path(&mut self, path: &str) {
        let comps: Vec<&str> = components(path).collect();
        let Some((last, init)) = comps.split_last() else {
            return;
        };
        let mut parent = &mut self.root;
        for c in init {
            match parent.children.get_mut(*c) {
                Some(n) => parent = n,
                None => return,
            }
        }
        let leaf = match parent.children.get_mut(*last) {
            Some(n) => {
                n.property = false;
                n.children.is_empty()
            }
            None => return,
        };
        if leaf {
            parent.children.remove(*last);
        }
    }

    /// The deepest marked prefix of `path`, `/` if none.
    pub(crate) fn find_max_prefix(&self, path: &str) -> String {
        let mut node = &self.root;
        let mut walked = Vec::new();
        let mut deepest = 0;
        for c in components(path) {
            match node.children.get(c) {
                Some(n) => {
                    walked.push(c);
                    node = n;
                    if n.property {
                        deepest = walked.len();
                    }
                }
                None => break,
            }
        }
        format!("/{}", walked[..deepest].join("/"))
    }
}

impl DataTree {
    /// Apache's `getMaxPrefixWithQuota`.
    pub(crate) fn max_prefix_with_quota(&self, path: &str) -> Option<String> {
        if self.quotas.is_empty() {
            return None;
        }
        let p = self.quotas.find_max_prefix(path);
        (p != "/" && !p.is_empty()).then_some(p)
    }

    fn stats_of(&self, path: &str) -> Option<(NodeId, Option<StatsTrack>)> {
        let id = self.nodes.lookup(path)?;
        let n = self.nodes.get(id)?;
        Some((id, StatsTrack::parse(self.nodes.data(n))))
    }

    /// Replaces a node's data without touching its stat (quota bookkeeping).
    fn put_stats(&mut self, id: NodeId, s: &StatsTrack) {
        self.nodes.set_data(id, Some(s.render().as_bytes()));
    }

    /// Apache's `updateQuotaStat`.
    fn update_quota_stat(&mut self, prefix: &str, bytes: i64, count: i64) {
        let stat_path = format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}");
        // A missing or malformed stats node: Apache logs, or crashes; nothing here.
        if let Some((id, Some(mut s))) = self.stats_of(&stat_path) {
            s.set("count", s.get("count").wrapping_add(count));
            s.set("bytes", s.get("bytes").wrapping_add(bytes));
            self.put_stats(id, &s);
        }
    }

    /// Apache's `updateQuotaForPath`: the stats node of `path` gets the subtree's counts.
    fn update_quota_for_path(&mut self, path: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        if let Some(top) = self.nodes.lookup(path) {
            let mut stack = vec![top];
            while let Some(id) = stack.pop() {
                count += 1;
                bytes += self
                    .nodes
                    .get(id)
                    .map_or(0, |n| self.nodes.data_len(n) as i64);
                stack.extend(self.nodes.children(id));
            }
        }
        let stat_path = format!("{QUOTA_ROOT}{path}/{STAT_NODE}");
        if let Some(id) = self.nodes.lookup(&stat_path) {
            let mut s = StatsTrack::default();
            s.set("count", count);
            s.set("bytes", bytes);
            self.put_stats(id, &s);
        }
    }

    /// Quota bookkeeping after a create.
    pub(crate) fn quota_on_create(&mut self, path: &str, parent: &str, name: &str, len: i64) {
        if let Some(trimmed) = parent.strip_prefix(QUOTA_ROOT) {
            if name == LIMIT_NODE && !trimmed.is_empty() {
                self.quotas.add_path(trimmed);
            }
            if name == STAT_NODE {
                self.update_quota_for_path(trimmed);
            }
        }
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, len, 1);
        }
    }

    /// Quota bookkeeping after a delete.
    pub(crate) fn quota_on_delete(&mut self, path: &str, parent: &str, name: &str, len: i64) {
        if parent.starts_with("/zookeeper") && name == LIMIT_NODE {
            if let Some(trimmed) = parent.get(QUOTA_ROOT.len()..).filter(|t| !t.is_empty()) {
                self.quotas.delete_path(trimmed);
            }
        }
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, -len, -1);
        }
    }

    /// Quota bookkeeping after a setData.
    pub(crate) fn quota_on_set(&mut self, path: &str, diff: i64) {
        if let Some(prefix) = self.max_prefix_with_quota(path) {
            self.update_quota_stat(&prefix, diff, 0);
        }
    }

    /// Rebuilds the trie from the limits nodes (after loading a snapshot).
    pub(crate) fn rebuild_quota_trie(&mut self) {
        self.quotas = QuotaTrie::default();
        let Some(top) = self.nodes.lookup(QUOTA_ROOT) else {
            return;
        };
        let mut stack = vec![top];
        let mut marked = Vec::new();
        while let Some(id) = stack.pop() {
            stack.extend(self.nodes.children(id));
            if self
                .nodes
                .get(id)
                .is_some_and(|n| self.nodes.name(n) == LIMIT_NODE)
            {
                let path = self.nodes.path_of(id);
                let parent = super::parent_path(&path);
                if let Some(t) = parent.strip_prefix(QUOTA_ROOT).filter(|t| !t.is_empty()) {
                    marked.push(t.to_string());
                }
            }
        }
        for m in marked {
            self.quotas.add_path(&m);
        }
    }

    /// Apache's `checkQuota` (only with `enforce_quota`): creates count 1 and their data;
    /// setData the data difference. Soft limits pass.
    ///
    /// # Errors
    /// QuotaExceeded past a hard limit; MarshallingError for a malformed limits/stats node.
    pub(crate) fn check_quota(
        &self,
        path: &str,
        count_diff: i64,
        bytes_diff: i64,
    ) -> Result<(), ErrorCode> {
        if !self.config.enforce_quota {
            return Ok(());
        }
        let Some(prefix) = self.max_prefix_with_quota(path) else {
            return Ok(());
        };
        let Some((_, limit)) = self.stats_of(&format!("{QUOTA_ROOT}{prefix}/{LIMIT_NODE}")) else {
            return Ok(());
        };
        let limit = limit.ok_or(ErrorCode::MarshallingError)?;
        let check_count =
            count_diff != 0 && (limit.get("count") > -1 || limit.get("countHardLimit") > -1);
        let check_bytes =
            bytes_diff != 0 && (limit.get("bytes") > -1 || limit.get("byteHardLimit") > -1);
        if !check_count && !check_bytes {
            return Ok(());
        }
        let Some((_, current)) = self.stats_of(&format!("{QUOTA_ROOT}{prefix}/{STAT_NODE}")) else {
            return Ok(());
        };
        let current = current.ok_or(ErrorCode::MarshallingError)?;
        for (on, diff, soft, hard, now) in [
            (check_count, count_diff, "count", "countHardLimit", "count"),
            (check_bytes, bytes_diff, "bytes", "byteHardLimit", "bytes"),
        ] {
            if !on {
                continue;
            }
            let hard_limit = limit.get(hard);
            if hard_limit > -1 && current.get(now).wrapping_add(diff) > hard_limit {
                return Err(ErrorCode::QuotaExceeded);
            }
            let _ = soft; // a soft limit only logs in Apache
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_parses_and_renders_like_3_8() {
        let s = StatsTrack::parse(Some(b"count=-1,bytes=-1,countHardLimit=3,byteHardLimit=-1"));
        let s = s.unwrap_or_default();
        assert_eq!(s.get("countHardLimit"), 3);
        assert_eq!(s.get("missing"), -1);
        assert_eq!(
            s.render(),
            "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3"
        );
        assert_eq!(StatsTrack::parse(Some(b"")), Some(StatsTrack::default()));
        assert_eq!(
            StatsTrack::parse(Some(b"count=2;;bytes=3,")).map(|s| s.render()),
            Some("count=2,bytes=3".into())
        );
        assert_eq!(
            StatsTrack::parse(Some(b"count==1")).map(|s| s.get("count")),
            Some(-1)
        );
        for bad in [
            &b"count"[..],
            b"count=",
            b",count=1",
            b"count=x",
            b"count=1.5",
        ] {
            assert_eq!(
                StatsTrack::parse(Some(bad)),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(StatsTrack::parse(None), None);
    }

    #[test]
    fn trie_finds_the_deepest_marked_prefix() {
        let mut t = QuotaTrie::default();
        assert!(t.is_empty());
        t.add_path("/a");
        t.add_path("/a/b/c");
        assert_eq!(t.find_max_prefix("/a/b/c/d"), "/a/b/c");
        assert_eq!(t.find_max_prefix("/a/b/x"), "/a");
        assert_eq!(t.find_max_prefix("/ab"), "/");
        t.delete_path("/a");
        assert_eq!(t.find_max_prefix("/a/x"), "/");
        assert_eq!(t.find_max_prefix("/a/b/c"), "/a/b/c");
        t.delete_path("/a/b/c");
        assert_eq!(t.find_max_prefix("/a/b/c"), "/");
    }
}
