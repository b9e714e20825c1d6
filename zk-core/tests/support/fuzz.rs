//! A seeded mutational fuzzer for every decoder in `zk_core::proto`.
//!
//! Inputs start from the Apache golden fixtures and from encodings of random valid records, and
//! are mutated (bit flips, byte inserts and deletes, truncation, length fields set to huge,
//! negative and −1 values, splicing with another input). Every input is fed to every decoder:
//! `decode_request`, `Request::decode` and `Response::decode` for every opcode (with and
//! without a reply header), `WatcherEvent`, `ConnectRequest`/`ConnectResponse`,
//! `MultiRequest`/`MultiResponse`, and `FrameCodec` over a chunked stream.
//!
//! What must hold, on any input:
//! - no decoder panics (each runs under `catch_unwind`; the input is reported in hex);
//! - a decoded value re-encodes to exactly the bytes it consumed (so it is never larger than
//!   the frame), and decoding that re-encoding gives the same value back;
//! - nothing in a decoded value is over-allocated: every `Vec` and `String` has a capacity of
//!   at most twice its length, buffers are slices of the frame (not copies), and the total heap
//!   is bounded by the frame size times the in-memory representation factor;
//! - an unmutated valid record decodes to exactly itself;
//! - the frame codec splits a stream exactly as a simple model of the format does, never yields
//!   a frame over its maximum, and never holds more than the maximum plus what it was fed.
//!
//! (A counting global allocator would bound allocations directly, but needs `unsafe`, which the
//! workspace forbids; `tests/decode_alloc.rs` measures the hostile-count case instead.)
//!
//! Shared by `tests/fuzz_decode.rs` and `examples/fuzz_decode.rs`. Each case has its own RNG,
//! seeded from (seed, case number), so any failure is replayed by its seed and case alone.

use std::fmt;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::codec::Decoder;
use zk_core::proto::{
    decode_request, ConnectRequest, ConnectResponse, Decode, Encode, FrameCodec, FrameError,
    JuteError, MultiRequest, MultiResponse, OpCode, Reader, ReplyHeader, Request, Response,
    WatcherEvent, DEFAULT_MAX_FRAME,
};

#[path = "fuzz_values.rs"]
mod values;

use values::{Audit, Heap, Sample};

/// The seed used when `ZK_FUZZ_SEED` is not set.
pub const DEFAULT_SEED: u64 = 0x5eed_2c00_6b65_7065;

/// Heap of a decoded value ≤ this × frame length + [`HEAP_SLACK`]: the worst in-memory to wire
/// ratio of an element (a 9-byte multi result is a 112-byte `MultiResult`) times 2 for a
/// vector's growth, rounded up.
const HEAP_PER_FRAME_BYTE: usize = 32;
const HEAP_SLACK: usize = 256;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base seed; case `i` uses an RNG seeded from (seed, i).
    pub seed: u64,
    /// First case number (to replay one case: `start` = that case, `cases` = 1).
    pub start: u64,
    /// How many cases.
    pub cases: u64,
    /// Print progress to stderr every this many cases (0 = never).
    pub progress_every: u64,
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim().replace('_', "");
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => v.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={v:?}: {e}")))
}

impl Config {
    /// `ZK_FUZZ_CASES` (default `default_cases`), `ZK_FUZZ_SEED` (decimal or 0x-hex, default
    /// [`DEFAULT_SEED`]), `ZK_FUZZ_START` (default 0).
    pub fn from_env(default_cases: u64) -> Self {
        Self {
            seed: env_u64("ZK_FUZZ_SEED").unwrap_or(DEFAULT_SEED),
            start: env_u64("ZK_FUZZ_START").unwrap_or(0),
            cases: env_u64("ZK_FUZZ_CASES").unwrap_or(default_cases),
            progress_every: 0,
        }
    }
}

/// Counts from a run.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Cases run.
    pub cases: u64,
    /// Decoder calls.
    pub decodes: u64,
    /// Decoder calls that returned a value (each one re-encoded and audited).
    pub accepted: u64,
    /// `decode_request` calls that returned a request.
    pub requests_accepted: u64,
    /// Reply bodies (after a reply header) that decoded.
    pub replies_accepted: u64,
    /// Multi and multiRead bodies (request or reply) that decoded with at least one op.
    pub multis_accepted: u64,
    /// Unmutated random records checked to decode to themselves.
    pub round_trips: u64,
    /// Frames split by the frame codec, and streams it rejected.
    pub frames: u64,
    /// Streams the frame codec rejected with a bad length.
    pub frame_errors: u64,
    /// Largest heap / frame length ratio seen in a decoded value.
    pub max_heap_ratio: f64,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "{} cases in {:.2?} ({:.0} cases/s): {} decoder calls, {} accepted \
             ({} requests, {} reply bodies, {} non-empty multis), {} exact round trips, \
             {} frames split, {} streams rejected, max heap/frame ratio {:.2}",
            self.cases,
            self.elapsed,
            self.cases as f64 / secs,
            self.decodes,
            self.accepted,
            self.requests_accepted,
            self.replies_accepted,
            self.multis_accepted,
            self.round_trips,
            self.frames,
            self.frame_errors,
            self.max_heap_ratio
        )
    }
}

/// Runs the cases; panics on the first failure with the seed, the case, the decoder and the
/// input in hex.
pub fn run(cfg: &Config) -> Stats {
    let corpus = golden_corpus();
    assert!(!corpus.is_empty(), "no golden fixtures found");
    let started = Instant::now();
    let mut stats = Stats::default();
    for case in cfg.start..cfg.start.saturating_add(cfg.cases) {
        if let Err(f) = one_case(cfg.seed, case, &corpus, &mut stats) {
            panic!(
                "fuzz failure: seed {:#x}, case {case} (replay: ZK_FUZZ_SEED={:#x} \
                 ZK_FUZZ_START={case} ZK_FUZZ_CASES=1)\n{}: {}\ninput ({} bytes): {}",
                cfg.seed,
                cfg.seed,
                f.decoder,
                f.message,
                f.input.len(),
                hex(&f.input)
            );
        }
        stats.cases += 1;
        if cfg.progress_every > 0 && stats.cases % cfg.progress_every == 0 {
            eprintln!(
                "  {} cases, {:.1?}, {:.0} cases/s",
                stats.cases,
                started.elapsed(),
                stats.cases as f64 / started.elapsed().as_secs_f64().max(1e-9)
            );
        }
    }
    stats.elapsed = started.elapsed();
    stats
}

/// The `.bin` fixtures, the seed corpus.
pub fn golden_corpus() -> Vec<Bytes> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| Bytes::from(std::fs::read(p).unwrap_or_else(|e| panic!("{p:?}: {e}"))))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A check that did not hold.
#[derive(Debug)]
struct Failure {
    decoder: String,
    message: String,
    input: Bytes,
}

fn fail<T>(
    decoder: impl fmt::Display,
    input: &Bytes,
    message: impl Into<String>,
) -> Result<T, Failure> {
    Err(Failure {
        decoder: decoder.to_string(),
        message: message.into(),
        input: input.clone(),
    })
}

/// Runs `f`, turning a panic into a failure that names the decoder and the input.
fn guarded<T>(
    decoder: &dyn fmt::Display,
    input: &Bytes,
    f: impl FnOnce() -> T,
) -> Result<T, Failure> {
    catch_unwind(AssertUnwindSafe(f)).or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "non-string panic payload".into());
        fail(decoder, input, format!("panicked: {msg}"))
    })
}

fn case_rng(seed: u64, case: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ case.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn one_case(seed: u64, case: u64, corpus: &[Bytes], stats: &mut Stats) -> Result<(), Failure> {
    let mut rng = case_rng(seed, case);
    let input = match rng.gen_range(0..20) {
        0..=1 => random_bytes(&mut rng, 0..96),
        2..=10 => {
            let seed_input = corpus[rng.gen_range(0..corpus.len())].clone();
            mutate(&mut rng, seed_input, corpus)
        }
        _ => {
            let sample = Sample::gen(&mut rng);
            let bytes = sample.encode();
            if rng.gen_bool(0.25) {
                let label = "round trip of a random valid record";
                guarded(&label, &bytes, || sample.check(&bytes))?
                    .or_else(|m| fail(label, &bytes, format!("{m}\nvalue: {sample:?}")))?;
                stats.round_trips += 1;
                bytes
            } else {
                mutate(&mut rng, bytes, corpus)
            }
        }
    };
    check_decoders(&mut rng, &input, stats)?;
    check_frames(&mut rng, &input, corpus, stats)
}

// ---------------------------------------------------------------------------------------------
// Decoders

/// Names a decoder call without allocating unless it is printed.
enum Label {
    Named(&'static str),
    Op(&'static str, OpCode),
    Code(&'static str, i32),
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Named(s) => f.write_str(s),
            Label::Op(s, op) => write!(f, "{s}({op:?})"),
            Label::Code(s, c) => write!(f, "{s}({c})"),
        }
    }
}

/// Checks a decoded value: it re-encodes to exactly the `consumed` bytes, decodes back to
/// itself, and is not over-allocated.
fn audit<T: Heap + fmt::Debug + PartialEq>(
    label: &Label,
    input: &Bytes,
    consumed: usize,
    v: &T,
    encode: impl FnOnce(&T) -> Bytes,
    redecode: impl FnOnce(Bytes) -> Result<T, JuteError>,
    stats: &mut Stats,
) -> Result<(), Failure> {
    stats.accepted += 1;
    let re = encode(v);
    if re.len() != consumed {
        return fail(
            label,
            input,
            format!(
                "decoded value re-encodes to {} bytes but consumed {consumed}: {v:?}",
                re.len()
            ),
        );
    }
    match redecode(re.clone()) {
        Ok(back) if &back == v => {}
        other => {
            return fail(
                label,
                input,
                format!(
                    "decode(encode(v)) != v\nv:    {v:?}\nback: {other:?}\nre-encoded: {}",
                    hex(&re)
                ),
            )
        }
    }
    let mut a = Audit::new(input);
    v.heap(&mut a);
    if let Some(p) = a.problems.first() {
        return fail(label, input, format!("{p}: {v:?}"));
    }
    let bound = HEAP_PER_FRAME_BYTE * input.len() + HEAP_SLACK;
    if a.heap > bound {
        return fail(
            label,
            input,
            format!("decoded value holds {} heap bytes (bound {bound})", a.heap),
        );
    }
    if !input.is_empty() {
        stats.max_heap_ratio = stats.max_heap_ratio.max(a.heap as f64 / input.len() as f64);
    }
    Ok(())
}

fn to_bytes_with(parts: &[&dyn Encode]) -> Bytes {
    let mut w = BytesMut::new();
    for p in parts {
        p.encode(&mut w);
    }
    w.freeze()
}

/// Request body for `op` from `body`; checks what it decodes to.
fn request_body(label: &Label, op: i32, body: &Bytes, stats: &mut Stats) -> Result<(), Failure> {
    stats.decodes += 1;
    let mut r = Reader::new(body.clone());
    let Ok(req) = guarded(label, body, || Request::decode(op, &mut r))? else {
        return Ok(());
    };
    if req.op_code().code() != op {
        return fail(
            label,
            body,
            format!("decoded {:?} for opcode {op}", req.op_code()),
        );
    }
    if let Request::Multi(m) | Request::MultiRead(m) = &req {
        stats.multis_accepted += u64::from(!m.ops.is_empty());
    }
    let consumed = body.len() - r.remaining();
    audit(
        label,
        body,
        consumed,
        &req,
        |v| v.to_bytes(),
        |b| Request::decode(op, &mut Reader::new(b)),
        stats,
    )
}

/// Reply body for `op` from `body`; checks what it decodes to.
fn response_body(
    label: &Label,
    op: OpCode,
    body: &Bytes,
    stats: &mut Stats,
) -> Result<bool, Failure> {
    stats.decodes += 1;
    let mut r = Reader::new(body.clone());
    let Ok(resp) = guarded(label, body, || Response::decode(op, &mut r))? else {
        return Ok(false);
    };
    if resp.op_code() != op {
        return fail(
            label,
            body,
            format!("decoded {:?} for {op:?}", resp.op_code()),
        );
    }
    if let Response::Multi(m) | Response::MultiRead(m) = &resp {
        stats.multis_accepted += u64::from(!m.results.is_empty());
    }
    let consumed = body.len() - r.remaining();
    audit(
        label,
        body,
        consumed,
        &resp,
        |v| v.to_bytes(),
        |b| Response::decode(op, &mut Reader::new(b)),
        stats,
    )?;
    Ok(true)
}

/// A whole-frame decoder (`from_bytes`): the value must use every byte.
fn whole<T: Decode + Encode + Heap + fmt::Debug + PartialEq>(
    name: &'static str,
    input: &Bytes,
    stats: &mut Stats,
) -> Result<Option<T>, Failure> {
    let label = Label::Named(name);
    stats.decodes += 1;
    let Ok(v) = guarded(&label, input, || T::from_bytes(input.clone()))? else {
        return Ok(None);
    };
    audit(
        &label,
        input,
        input.len(),
        &v,
        |v| v.to_bytes(),
        T::from_bytes,
        stats,
    )?;
    Ok(Some(v))
}

fn check_decoders(rng: &mut StdRng, input: &Bytes, stats: &mut Stats) -> Result<(), Failure> {
    // A server reading a request frame.
    let label = Label::Named("decode_request");
    stats.decodes += 1;
    if let Ok((h, req)) = guarded(&label, input, || decode_request(input.clone()))? {
        stats.requests_accepted += 1;
        if h.op_type != req.op_code().code() {
            return fail(
                &label,
                input,
                format!("header {h:?} but decoded {:?}", req.op_code()),
            );
        }
        let value = (h, req);
        audit(
            &label,
            input,
            input.len(),
            &value,
            |(h, r)| to_bytes_with(&[h, r]),
            decode_request,
            stats,
        )?;
    }
    // Every request and reply body decoder, on the raw input.
    for &op in OpCode::ALL {
        request_body(&Label::Op("Request::decode", op), op.code(), input, stats)?;
        response_body(&Label::Op("Response::decode", op), op, input, stats)?;
    }
    // An opcode we do not know is an error, whatever follows.
    let unknown = loop {
        let c: i32 = if rng.gen_bool(0.5) {
            rng.gen_range(-20..120)
        } else {
            rng.gen()
        };
        if OpCode::from_code(c).is_none() {
            break c;
        }
    };
    let label = Label::Code("Request::decode", unknown);
    stats.decodes += 1;
    if guarded(&label, input, || {
        Request::decode(unknown, &mut Reader::new(input.clone()))
    })?
    .is_ok()
    {
        return fail(&label, input, "an unknown opcode decoded");
    }
    // A client reading a reply frame: header, then a notification or a body by opcode.
    let label = Label::Named("ReplyHeader");
    stats.decodes += 1;
    let mut r = Reader::new(input.clone());
    if guarded(&label, input, || ReplyHeader::decode(&mut r))?.is_ok() {
        let body = input.slice(input.len() - r.remaining()..);
        whole::<WatcherEvent>("ReplyHeader + WatcherEvent", &body, stats)?;
        for &op in OpCode::ALL {
            if response_body(
                &Label::Op("ReplyHeader + Response::decode", op),
                op,
                &body,
                stats,
            )? {
                stats.replies_accepted += 1;
            }
        }
    }
    whole::<ConnectRequest>("ConnectRequest", input, stats)?;
    whole::<ConnectResponse>("ConnectResponse", input, stats)?;
    whole::<MultiRequest>("MultiRequest", input, stats)?;
    whole::<MultiResponse>("MultiResponse", input, stats)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The frame codec

/// What a stream should split into, by a direct reading of the format.
fn model_frames(stream: &[u8], max: usize) -> (Vec<Range<usize>>, Option<i32>) {
    let mut frames = Vec::new();
    let mut pos = 0;
    while pos + 4 <= stream.len() {
        let len = i32::from_be_bytes([
            stream[pos],
            stream[pos + 1],
            stream[pos + 2],
            stream[pos + 3],
        ]);
        match usize::try_from(len) {
            Ok(n) if n <= max => {
                if pos + 4 + n > stream.len() {
                    break;
                }
                frames.push(pos + 4..pos + 4 + n);
                pos += 4 + n;
            }
            _ => return (frames, Some(len)),
        }
    }
    (frames, None)
}

fn check_frames(
    rng: &mut StdRng,
    input: &Bytes,
    corpus: &[Bytes],
    stats: &mut Stats,
) -> Result<(), Failure> {
    let max = match rng.gen_range(0..6) {
        0 => DEFAULT_MAX_FRAME,
        1 => 0,
        2 => 8,
        3 => 64,
        4 => 300,
        _ => rng.gen_range(0..600),
    };
    let mut stream = BytesMut::new();
    for i in 0..rng.gen_range(1..=4) {
        let frame = match (i, rng.gen_range(0..3)) {
            (0, _) => input.clone(),
            (_, 0) => random_bytes(rng, 0..40),
            _ => corpus[rng.gen_range(0..corpus.len())].clone(),
        };
        let len = if rng.gen_bool(0.15) {
            interesting_i32(rng, frame.len())
        } else {
            i32::try_from(frame.len()).unwrap_or(i32::MAX)
        };
        stream.put_i32(len);
        stream.put_slice(&frame);
    }
    if rng.gen_bool(0.3) {
        let cut = rng.gen_range(0..=stream.len());
        stream.truncate(cut);
    }
    let stream = stream.freeze();
    let (want, want_err) = model_frames(&stream, max);

    let label = Label::Named("FrameCodec");
    let mut codec = FrameCodec::new(max);
    let mut buf = BytesMut::new();
    let mut got: Vec<Bytes> = Vec::new();
    let mut err: Option<FrameError> = None;
    let mut fed = 0;
    'feed: while fed < stream.len() {
        let n = if rng.gen_bool(0.3) {
            stream.len() - fed
        } else {
            rng.gen_range(1..=64).min(stream.len() - fed)
        };
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        loop {
            stats.decodes += 1;
            match guarded(&label, &stream, || codec.decode(&mut buf))? {
                Ok(Some(f)) => {
                    if f.len() > max {
                        return fail(
                            &label,
                            &stream,
                            format!("a {}-byte frame over the maximum {max}", f.len()),
                        );
                    }
                    got.push(f);
                }
                Ok(None) => break,
                Err(e) => {
                    err = Some(e);
                    break 'feed;
                }
            }
            let bound = 2 * (fed + 4 + max) + 4096;
            if buf.capacity() > bound {
                return fail(
                    &label,
                    &stream,
                    format!(
                        "buffer capacity {} after {fed} bytes fed (max frame {max})",
                        buf.capacity()
                    ),
                );
            }
        }
    }
    if err.is_none() {
        // End of stream: leftovers are an error, never a panic.
        let eof = guarded(&label, &stream, || codec.decode_eof(&mut buf))?;
        let leftover = fed != want.last().map_or(0, |r| r.end);
        match (eof, leftover) {
            (Ok(None), false) | (Err(FrameError::Io(_)), true) => {}
            (Err(e), _) if want_err.is_some() => err = Some(e),
            (other, _) => {
                return fail(
                    &label,
                    &stream,
                    format!("decode_eof: {other:?} (leftover bytes: {leftover})"),
                )
            }
        }
    }
    let want_frames: Vec<&[u8]> = want.iter().map(|r| &stream[r.clone()]).collect();
    let got_frames: Vec<&[u8]> = got.iter().map(|b| &b[..]).collect();
    if got_frames != want_frames {
        return fail(
            &label,
            &stream,
            format!(
                "max {max}: split into {} frames, the model into {}",
                got.len(),
                want.len()
            ),
        );
    }
    match (&err, want_err) {
        (None, None) => {}
        (Some(FrameError::BadLength { len, .. }), Some(w)) if *len == w => stats.frame_errors += 1,
        (e, w) => {
            return fail(
                &label,
                &stream,
                format!("max {max}: codec error {e:?}, model error {w:?}"),
            )
        }
    }
    stats.frames += got.len() as u64;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Mutations

fn random_bytes(rng: &mut StdRng, len: Range<usize>) -> Bytes {
    let n = rng.gen_range(len);
    (0..n).map(|_| rng.gen::<u8>()).collect::<Vec<u8>>().into()
}

/// A value for a 4-byte length or count field at a position with `left` bytes after it.
fn interesting_i32(rng: &mut StdRng, left: usize) -> i32 {
    let left = i32::try_from(left).unwrap_or(i32::MAX);
    match rng.gen_range(0..14) {
        0 => -1,
        1 => -2,
        2 => i32::MIN,
        3 => i32::MAX,
        4 => 0,
        5 => 1,
        6 => left,
        7 => left.saturating_add(1),
        8 => left.saturating_sub(1),
        9 => 0x1000_0000,
        10 => 0x00ff_ffff,
        11 => rng.gen_range(-16..64),
        12 => -rng.gen_range(1..=i32::MAX),
        _ => rng.gen(),
    }
}

fn mutate(rng: &mut StdRng, input: Bytes, corpus: &[Bytes]) -> Bytes {
    let mut b = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let len = b.len();
        match rng.gen_range(0..12) {
            // Flip a few bits.
            0 if len > 0 => {
                for _ in 0..rng.gen_range(1..=4) {
                    let i = rng.gen_range(0..len);
                    b[i] ^= 1 << rng.gen_range(0..8);
                }
            }
            // Set a byte to a boundary or random value.
            1 if len > 0 => {
                let i = rng.gen_range(0..len);
                b[i] = [0, 1, 0x7f, 0x80, 0xfe, 0xff, rng.gen()][rng.gen_range(0..7)];
            }
            // Insert random bytes.
            2 => {
                let at = rng.gen_range(0..=len);
                let extra = random_bytes(rng, 1..9);
                b.splice(at..at, extra.iter().copied());
            }
            // Delete a range.
            3 if len > 0 => {
                let at = rng.gen_range(0..len);
                let end = (at + rng.gen_range(1..9)).min(len);
                b.drain(at..end);
            }
            // Truncate.
            4 => b.truncate(rng.gen_range(0..=len)),
            // Overwrite a 4-byte field with a hostile length (twice as likely: it is the
            // interesting one).
            5 | 6 if len >= 4 => {
                let at = rng.gen_range(0..=len - 4);
                let v = interesting_i32(rng, len - at - 4);
                b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
            // Overwrite an 8-byte field (zxids, session ids, TTLs).
            7 if len >= 8 => {
                let at = rng.gen_range(0..=len - 8);
                let v: i64 = [0, -1, i64::MIN, i64::MAX, rng.gen()][rng.gen_range(0..5)];
                b[at..at + 8].copy_from_slice(&v.to_be_bytes());
            }
            // Duplicate a range somewhere else.
            8 if len > 0 => {
                let from = rng.gen_range(0..len);
                let end = (from + rng.gen_range(1..17)).min(len);
                let chunk = b[from..end].to_vec();
                let at = rng.gen_range(0..=len);
                b.splice(at..at, chunk);
            }
            // Splice: our head with another input's tail.
            9 => {
                let other = &corpus[rng.gen_range(0..corpus.len())];
                let cut = rng.gen_range(0..=len);
                let from = rng.gen_range(0..=other.len());
                b.truncate(cut);
                b.extend_from_slice(&other[from..]);
            }
            // Append random bytes.
            10 => b.extend_from_slice(&random_bytes(rng, 1..9)),
            // Swap two bytes.
            11 if len > 1 => {
                let (i, j) = (rng.gen_range(0..len), rng.gen_range(0..len));
                b.swap(i, j);
            }
            _ => {}
        }
    }
    b.into()
}
