//! Tab completion in interactive mode, as zkCli's `JLineZNodeCompleter`: command names for the
//! first word, znode paths (from the server) for words starting with `/`.

use std::time::Duration;

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::commands;
use crate::session::SharedClient;

/// Bound for the `getChildren` behind one completion.
const LOOKUP_BOUND: Duration = Duration::from_secs(2);

/// The line editor helper.
#[derive(Debug)]
pub struct ZkHelper {
    client: SharedClient,
    runtime: tokio::runtime::Handle,
}

impl ZkHelper {
    /// A helper completing paths with `client`, on the (single-threaded) `runtime` that the
    /// main thread drives while a line is read.
    pub fn new(client: SharedClient, runtime: tokio::runtime::Handle) -> Self {
        Self { client, runtime }
    }

    fn children(&self, parent: &str) -> Vec<String> {
        let client = self
            .client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(client) = client else {
            return Vec::new();
        };
        let fut = client.get_children(parent);
        self.runtime
            .block_on(async { tokio::time::timeout(LOOKUP_BOUND, fut).await })
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

impl Completer for ZkHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &before[start..];
        if start == 0 {
            let cmds = commands::ALL
                .iter()
                .map(|(c, _)| *c)
                .filter(|c| c.starts_with(word))
                .map(str::to_string)
                .collect();
            return Ok((0, cmds));
        }
        if !word.starts_with('/') {
            return Ok((start, Vec::new()));
        }
        let slash = word.rfind('/').unwrap_or(0);
        let (dir, prefix) = (&word[..slash], &word[slash + 1..]);
        let parent = if dir.is_empty() { "/" } else { dir };
        let mut found: Vec<String> = self
            .children(parent)
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .map(|c| format!("{dir}/{c}"))
            .collect();
        found.sort();
        Ok((start, found))
    }
}

impl Hinter for ZkHelper {
    type Hint = String;
}

impl Highlighter for ZkHelper {}

impl Validator for ZkHelper {}

impl Helper for ZkHelper {}
