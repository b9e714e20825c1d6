//! Reading command lines on a dedicated thread, so watch events keep printing while the
//! user types: with line editing and a history file (`~/.zk_cli_history`) on a terminal,
//! plain lines from a pipe or file otherwise.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;

use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use tokio::sync::mpsc;

use crate::completer::ZkHelper;
use crate::output::err;
use crate::session::SharedClient;

/// Entries kept in the history file (jline's default).
const HISTORY_SIZE: usize = 500;

/// Requests lines from the reader thread.
#[derive(Debug)]
pub struct LineReader {
    prompts: std_mpsc::Sender<String>,
    lines: mpsc::UnboundedReceiver<Option<String>>,
}

/// Whether stdin is a terminal (interactive line editing).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

impl LineReader {
    /// Starts the reader thread; `client` feeds path completion on a terminal.
    pub fn start(client: SharedClient) -> Self {
        let (prompts, prompt_rx) = std_mpsc::channel::<String>();
        let (line_tx, lines) = mpsc::unbounded_channel();
        let handle = tokio::runtime::Handle::current();
        let tty = interactive();
        std::thread::spawn(move || {
            if tty {
                match editor(ZkHelper::new(client, handle)) {
                    Ok(ed) => return edit_loop(ed, &prompt_rx, &line_tx),
                    Err(e) => err(&format!("line editing unavailable: {e}")),
                }
            }
            plain_loop(&prompt_rx, &line_tx);
        });
        Self { prompts, lines }
    }

    /// The next line (without its line break) after showing `prompt` on a terminal; `None`
    /// at end of input.
    pub async fn read(&mut self, prompt: &str) -> Option<String> {
        self.prompts.send(prompt.to_string()).ok()?;
        self.lines.recv().await.flatten()
    }
}

fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".zk_cli_history"))
}

fn editor(helper: ZkHelper) -> rustyline::Result<Editor<ZkHelper, DefaultHistory>> {
    let config = Config::builder()
        .max_history_size(HISTORY_SIZE)?
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .build();
    let mut ed = Editor::with_config(config)?;
    ed.set_helper(Some(helper));
    if let Some(f) = history_file() {
        let _ = ed.load_history(&f);
    }
    Ok(ed)
}

fn edit_loop(
    mut ed: Editor<ZkHelper, DefaultHistory>,
    prompts: &std_mpsc::Receiver<String>,
    lines: &mpsc::UnboundedSender<Option<String>>,
) {
    let file = history_file();
    while let Ok(prompt) = prompts.recv() {
        let line = loop {
            match ed.readline(&prompt) {
                Ok(l) => break Some(l),
                // Ctrl-C drops the line being typed, as a shell does.
                Err(ReadlineError::Interrupted) => continue,
                Err(_) => break None,
            }
        };
        if let Some(l) = &line {
            if !l.trim().is_empty() && ed.add_history_entry(l.as_str()).unwrap_or(false) {
                if let Some(f) = &file {
                    let _ = ed.append_history(f);
                }
            }
        }
        if lines.send(line.clone()).is_err() || line.is_none() {
            return;
        }
    }
}

fn plain_loop(prompts: &std_mpsc::Receiver<String>, lines: &mpsc::UnboundedSender<Option<String>>) {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    while prompts.recv().is_ok() {
        let mut buf = Vec::new();
        let line = match input.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                }
                Some(String::from_utf8_lossy(&buf).into_owned())
            }
        };
        if lines.send(line.clone()).is_err() || line.is_none() {
            return;
        }
    }
}
