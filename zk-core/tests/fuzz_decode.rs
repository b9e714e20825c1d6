//! Decoding never panics and never allocates beyond the frame, on random and mutated frames.
//!
//! `cargo test` runs a few thousand cases; set `ZK_FUZZ_CASES` (and `ZK_FUZZ_SEED`,
//! `ZK_FUZZ_START`) for more, or run the release-mode example:
//! `ZK_FUZZ_CASES=1000000 cargo run --release -p zk-core --example fuzz_decode`.
//! See `support/fuzz.rs` for what is checked.

#[path = "support/fuzz.rs"]
mod fuzz;

#[test]
fn decoders_never_panic_or_overallocate_on_mutated_frames() {
    let cfg = fuzz::Config::from_env(5_000);
    let stats = fuzz::run(&cfg);
    eprintln!("seed {:#x}: {stats}", cfg.seed);
    assert_eq!(stats.cases, cfg.cases);
    // The fuzzer must reach past the first field: a run where (almost) nothing decodes
    // would prove nothing.
    if cfg.cases >= 1_000 {
        assert!(stats.requests_accepted * 50 > stats.cases, "{stats}");
        assert!(stats.replies_accepted * 10 > stats.cases, "{stats}");
        assert!(stats.multis_accepted * 50 > stats.cases, "{stats}");
        assert!(stats.round_trips * 50 > stats.cases, "{stats}");
        assert!(stats.frames * 2 > stats.cases, "{stats}");
        assert!(stats.frame_errors * 10 > stats.cases, "{stats}");
    }
}
