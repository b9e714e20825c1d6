//! zkCli's `StatPrinter`: a node's stat, one field per line, zxids and the owner in hex.

use zk_core::Stat;

use crate::java_date;
use crate::output::out;

/// The lines `StatPrinter.print` writes for `s`.
pub fn lines(s: &Stat) -> [String; 11] {
    // Java's Long.toHexString: two's complement (as Rust's `{:x}` of an i64), no padding.
    let hex = |v: i64| format!("0x{v:x}");
    [
        format!("cZxid = {}", hex(s.czxid)),
        format!("ctime = {}", java_date::format(s.ctime)),
        format!("mZxid = {}", hex(s.mzxid)),
        format!("mtime = {}", java_date::format(s.mtime)),
        format!("pZxid = {}", hex(s.pzxid)),
        format!("cversion = {}", s.cversion),
        format!("dataVersion = {}", s.version),
        format!("aclVersion = {}", s.aversion),
        format!("ephemeralOwner = {}", hex(s.ephemeral_owner)),
        format!("dataLength = {}", s.data_length),
        format!("numChildren = {}", s.num_children),
    ]
}

/// Prints `s` on stdout.
pub fn print(s: &Stat) {
    for line in lines(s) {
        out(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_fields_match_java() {
        let s = Stat {
            czxid: 0x1f,
            ephemeral_owner: i64::MIN,
            ..Stat::default()
        };
        let l = lines(&s);
        assert_eq!(l[0], "cZxid = 0x1f");
        assert_eq!(l[8], "ephemeralOwner = 0x8000000000000000");
        assert_eq!(l[2], "mZxid = 0x0");
    }
}
