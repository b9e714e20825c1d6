//! A child process that can never outlive the test process.
//!
//! `Drop` kills the child, which covers normal returns and panics that unwind. To also cover an
//! abort, a `SIGKILL` of the test binary or a test-runner timeout, every child gets a tiny `sh`
//! watchdog whose stdin is a pipe held open by this process: when the test process dies for any
//! reason the kernel closes the pipe, the watchdog's `read` returns and it `kill -9`s the child.
//! (`prctl(PR_SET_PDEATHSIG)` would need `unsafe`, which the workspace forbids.)

use std::io;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A spawned child plus its watchdog.
#[derive(Debug)]
pub(crate) struct GuardedChild {
    child: Child,
    watchdog: Option<(Child, ChildStdin)>,
    status: Option<ExitStatus>,
}

impl GuardedChild {
    /// Spawns `command` and its watchdog.
    pub(crate) fn spawn(command: &mut Command) -> io::Result<Self> {
        let mut child = command.spawn()?;
        let watchdog = match spawn_watchdog(child.id()) {
            Ok(w) => w,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(Self {
            child,
            watchdog: Some(watchdog),
            status: None,
        })
    }

    /// The OS process id of the child.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the child has exited (reaping it), `None` while it runs.
    pub(crate) fn try_status(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
            if self.status.is_some() {
                self.disarm_watchdog();
            }
        }
        Ok(self.status)
    }

    /// Sends `SIGKILL` and reaps the child.
    pub(crate) fn kill(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_status()? {
            return Ok(status);
        }
        // Ignore "already exited" races: wait() below tells the truth.
        let _ = self.child.kill();
        let status = self.child.wait()?;
        self.status = Some(status);
        self.disarm_watchdog();
        Ok(status)
    }

    /// Sends `SIGTERM`, waits up to `grace` for the child to exit, then falls back to `SIGKILL`.
    pub(crate) async fn terminate(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_status()? {
            return Ok(status);
        }
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if sent.is_ok_and(|s| s.success()) {
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Some(status) = self.try_status()? {
                    return Ok(status);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        self.kill()
    }

    /// Stops the watchdog without letting it fire. Must run while the child is still unreaped or
    /// already reaped by us, never after dropping the pipe, so the watchdog cannot hit a reused pid.
    fn disarm_watchdog(&mut self) {
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            // SIGKILL first (stdin still open, so the watchdog is blocked in `read` and never
            // reaches its `kill`), then close the pipe.
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            drop(stdin);
        }
    }
}

impl Drop for GuardedChild {
    fn drop(&mut self) {
        let _ = self.kill();
        self.disarm_watchdog();
    }
}

fn spawn_watchdog(pid: u32) -> io::Result<(Child, ChildStdin)> {
    let mut watchdog = Command::new("sh")
        .arg("-c")
        .arg(r#"read -r _; kill -KILL "$1" 2>/dev/null"#)
        .arg("zk-watchdog")
        .arg(pid.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    match watchdog.stdin.take() {
        Some(stdin) => Ok((watchdog, stdin)),
        None => {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            Err(io::Error::other("watchdog stdin was not captured"))
        }
    }
}
