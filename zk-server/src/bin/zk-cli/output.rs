//! Writing to stdout and stderr as zkCli does (`println` on `System.out` / `System.err`),
//! ignoring closed pipes so `zk-cli ... | head` never panics.

use std::io::Write;

/// Prints a line on stdout.
pub fn out(line: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

/// Prints text on stdout without a line break (zkCli's `out.print`).
pub fn out_raw(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = write!(o, "{text}");
    let _ = o.flush();
}

/// Prints a line on stderr.
pub fn err(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
    let _ = e.flush();
}
