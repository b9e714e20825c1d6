//! zkCli's command loop (`ZooKeeperMain.processZKCmd`): history, `redo`, `printwatches`,
//! `connect`, `quit`, the "Not connected" guard, and the exit code of the last command.

use std::collections::BTreeMap;

use crate::commands;
use crate::errors::CliError;
use crate::output::{err, out};
use crate::session::Session;
use crate::tokenize::tokenize;

/// What the loop does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// `quit`: exit with the current exit code.
    Quit,
}

/// The shell state: session, history and the exit code of the last command.
#[derive(Debug)]
pub struct Shell {
    /// The connection.
    pub session: Session,
    history: BTreeMap<usize, String>,
    count: usize,
    exit_code: i32,
}

impl Shell {
    /// A shell on `session`.
    pub fn new(session: Session) -> Self {
        Self {
            session,
            history: BTreeMap::new(),
            count: 0,
            exit_code: 0,
        }
    }

    /// The exit code zkCli would exit with now (that of the last command).
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// zkCli's prompt: `[zk: host(STATE) N] `.
    pub fn prompt(&self) -> String {
        format!(
            "[zk: {}({}) {}] ",
            self.session.host(),
            self.session.state_name(),
            self.count
        )
    }

    /// Runs one interactive line. Blank lines are skipped and not counted (zkCli runs a
    /// line of blanks as a command named by its last blank, and fails).
    pub async fn execute_line(&mut self, line: &str) -> Flow {
        if line.trim_matches(is_java_space).is_empty() {
            return Flow::Continue;
        }
        let args = tokenize(line);
        self.history.insert(self.count, line.to_string());
        let flow = self.process(args).await;
        self.count += 1;
        flow
    }

    /// Runs one command, printing its failure; sets the exit code.
    pub async fn process(&mut self, args: Vec<String>) -> Flow {
        match Box::pin(self.process_zk(args)).await {
            Ok(Flow::Quit) => Flow::Quit,
            Ok(Flow::Continue) => {
                self.exit_code = 0;
                Flow::Continue
            }
            Err(e) => {
                self.exit_code = e.exit_code;
                err(&e.message);
                Flow::Continue
            }
        }
    }

    async fn process_zk(&mut self, mut args: Vec<String>) -> Result<Flow, CliError> {
        let cmd = args[0].clone();
        if !commands::is_known(&cmd) {
            err(&commands::usage());
            return Err(CliError::command_not_found(&cmd));
        }
        match cmd.as_str() {
            "quit" => {
                self.session.close().await;
                return Ok(Flow::Quit);
            }
            "redo" if args.len() >= 2 => self.redo(&args[1]).await?,
            "history" => {
                for i in self.count.saturating_sub(10)..=self.count {
                    let line = self.history.get(&i).map_or("null", String::as_str);
                    out(&format!("{i} - {line}"));
                }
            }
            "printwatches" => match args.get(1) {
                None => out(&format!(
                    "printwatches is {}",
                    if self.session.printer().enabled() {
                        "on"
                    } else {
                        "off"
                    }
                )),
                Some(v) => self.session.printer().set_enabled(v == "on"),
            },
            "connect" => self.session.connect(args.get(1).map(String::as_str)).await,
            "help" => {
                err(&commands::usage());
                return Ok(Flow::Continue);
            }
            _ => {}
        }
        // The ZooKeeper commands need a live session (zkCli checks this for every command).
        if !self.session.alive() {
            out("Not connected");
            return Ok(Flow::Continue);
        }
        commands::run(&mut self.session, &mut args).await?;
        Ok(Flow::Continue)
    }

    /// `redo N`: runs history entry N again (it replaces the `redo` in the history).
    async fn redo(&mut self, n: &str) -> Result<(), CliError> {
        let i = java_decode(n)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < self.count)
            .ok_or_else(|| CliError::new("Command index out of range"))?;
        let line = self.history.get(&i).cloned().unwrap_or_default();
        let args = tokenize(&line);
        if args.is_empty() || args[0] == "redo" {
            return Err(CliError::new("No redoing redos"));
        }
        self.history.insert(self.count, line);
        self.process(args).await;
        Ok(())
    }
}

fn is_java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// Java's `Integer.decode`: decimal, `0x`/`#` hex or `0` octal, with an optional sign.
fn java_decode(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .or_else(|| digits.strip_prefix('#'))
    {
        i64::from_str_radix(h, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::java_decode;

    #[test]
    fn decodes_like_java() {
        assert_eq!(java_decode("12"), Some(12));
        assert_eq!(java_decode("0x1f"), Some(31));
        assert_eq!(java_decode("#10"), Some(16));
        assert_eq!(java_decode("010"), Some(8));
        assert_eq!(java_decode("-3"), Some(-3));
        assert_eq!(java_decode("x"), None);
    }
}
