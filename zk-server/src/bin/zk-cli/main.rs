//! `zk-cli`: a Rust equivalent of Apache ZooKeeper's `zkCli.sh` (3.8), built on zk-core.
//!
//! ```text
//! zk-cli [-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [cmd args...]
//! ```
//!
//! With a command it runs that command and exits (status 0, or 1 on failure, 127 for an
//! unknown command). Without one it reads commands: with line editing, completion and
//! history (`~/.zk_cli_history`) on a terminal, line by line from a pipe otherwise. Output,
//! error messages and watch notifications follow zkCli's formats.

mod acl;
mod args;
mod cli_options;
mod commands;
mod completer;
mod errors;
mod java_date;
mod line_reader;
mod output;
mod session;
mod shell;
mod stat;
mod tokenize;
mod tree;
mod tz;
mod watch_hub;
mod watcher;

use std::time::Duration;

use args::ProcessArgs;
use line_reader::LineReader;
use output::{err, out};
use session::Session;
use shell::{Flow, Shell};
use watcher::EventPrinter;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match args::parse(&argv) {
        Ok(a) => a,
        Err(e) => {
            err(&e);
            std::process::exit(2);
        }
    };
    if args.help {
        err(&commands::usage());
        std::process::exit(0);
    }
    // One thread: watch events reach the printer before the reply that follows them on the
    // wire reaches the command (see watch_hub).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            err(&format!("cannot start the runtime: {e}"));
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(run(args));
    // The line reader thread may still wait on stdin; do not wait for it.
    runtime.shutdown_background();
    std::process::exit(code);
}

async fn run(args: ProcessArgs) -> i32 {
    if let Some(file) = &args.client_configuration {
        err(&format!(
            "-client-configuration is not supported by zk-cli; ignoring {file}"
        ));
    }
    out(&format!("Connecting to {}", args.server));
    let interactive = args.command.is_none();
    if interactive {
        out("Welcome to ZooKeeper!");
        out(if line_reader::interactive() {
            "JLine support is enabled"
        } else {
            "JLine support is disabled"
        });
    }
    let session = Session::new(
        &args.server,
        Duration::from_millis(args.timeout_ms),
        args.read_only,
        EventPrinter::new(),
    );
    let mut shell = Shell::new(session);
    shell.session.connect(None).await;
    if let Some(cmd) = args.command {
        shell.process(cmd).await;
    } else {
        let mut reader = LineReader::start(shell.session.shared_client());
        while let Some(line) = reader.read(&shell.prompt()).await {
            if shell.execute_line(&line).await == Flow::Quit {
                return shell.exit_code();
            }
        }
    }
    // zkCli exits without closing; closing ends the session's ephemerals at once instead of
    // after the session timeout, and prints nothing.
    shell.session.shutdown().await;
    shell.exit_code()
}
