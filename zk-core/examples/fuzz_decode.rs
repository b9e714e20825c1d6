//! The long-running decoder fuzzer: the same checks as `tests/fuzz_decode.rs`, a million cases
//! by default.
//!
//! ```text
//! cargo run --release -p zk-core --example fuzz_decode
//! ZK_FUZZ_CASES=10_000_000 ZK_FUZZ_SEED=0x1234 cargo run --release -p zk-core --example fuzz_decode
//! ```
//!
//! `ZK_FUZZ_CASES` (default 1,000,000), `ZK_FUZZ_SEED` (decimal or 0x-hex), `ZK_FUZZ_START`
//! (first case number). On failure it panics with the seed, the case number (enough to replay
//! it alone) and the offending input in hex.

#[path = "../tests/support/fuzz.rs"]
mod fuzz;

fn main() {
    let mut cfg = fuzz::Config::from_env(1_000_000);
    cfg.progress_every = (cfg.cases / 10).max(1);
    println!(
        "fuzzing the zk-core decoders: seed {:#x}, cases {}..{}",
        cfg.seed,
        cfg.start,
        cfg.start.saturating_add(cfg.cases)
    );
    let stats = fuzz::run(&cfg);
    println!("ok: {stats}");
}
