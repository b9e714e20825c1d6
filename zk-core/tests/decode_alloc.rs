//! Hostile vector counts never make a decoder reserve more memory than the frame holds, and
//! valid frames cost at most their in-memory representation (measured, not assumed).
//!
//! A counting `#[global_allocator]` would be the direct way to see this, but it needs `unsafe`
//! and the workspace forbids `unsafe_code` (a `forbid` cannot be lifted by a test target). So
//! this test watches the process's peak virtual size (`VmPeak` in `/proc/self/status`) around
//! each decode, one case per child process (this test binary re-run with `ZK_ALLOC_CASE`):
//!
//! - `MALLOC_MMAP_THRESHOLD_=65536` makes glibc serve every allocation of 64 KiB or more with
//!   its own `mmap`, so it shows in the virtual size the moment it is made;
//! - `MALLOC_ARENA_MAX=1` keeps the test thread on the main arena (a new thread arena maps
//!   128 MiB for a moment, which would hide everything below it in the peak);
//! - a fresh process per case means one case's peak cannot hide the next one's.
//!
//! An up-front reservation of tens of MiB then shows up as a jump of the peak, while a decoder
//! that stays within the frame moves it by at most about the frame's size. Linux only; where
//! `/proc/self/status` is missing the cases only check that every hostile frame is rejected.

use bytes::{BufMut, Bytes, BytesMut};
use tokio_util::codec::Decoder;
use zk_core::proto::{
    decode_request, Decode, Encode, FrameCodec, MultiResult, OpCode, Reader, ReplyHeader, Response,
    DEFAULT_MAX_FRAME,
};

/// A field of `/proc/self/status` in bytes, `None` off Linux.
fn vm(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A frame of `DEFAULT_MAX_FRAME` bytes: `prefix`, then a vector count as large as the decoder
/// can accept (every remaining byte), then filler that makes the first element fail
/// (0x7f7f7f7f is an impossible string length), so nothing legitimately needs to be kept.
fn hostile(prefix: &[u8]) -> Bytes {
    let total = DEFAULT_MAX_FRAME;
    let mut b = BytesMut::with_capacity(total);
    b.put_slice(prefix);
    let remaining = total - prefix.len() - 4;
    b.put_i32(i32::try_from(remaining).expect("fits"));
    b.resize(total, 0x7f);
    b.freeze()
}

fn request_prefix(op: OpCode, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&1_i32.to_be_bytes());
    v.extend_from_slice(&op.code().to_be_bytes());
    v.extend_from_slice(body);
    v
}

const EMPTY_PATH: [u8; 4] = [0, 0, 0, 0];
const NULL_DATA: [u8; 4] = [0xff; 4];

/// A frame and how to decode it (`true` when the decoder answered as it should: hostile
/// frames rejected, valid ones accepted), and how many times the frame's size the decode may
/// take.
struct Case {
    what: &'static str,
    frame: Bytes,
    decode: Box<dyn Fn(Bytes) -> bool>,
    /// 2 for hostile frames: a string copied out, a vector reserved within the frame.
    times_frame: u64,
}

fn case(what: &'static str, frame: Bytes, decode: impl Fn(Bytes) -> bool + 'static) -> Case {
    Case {
        what,
        frame,
        decode: Box::new(decode),
        times_frame: 2,
    }
}

fn reply_frame(body: &[u8]) -> BytesMut {
    let mut p = BytesMut::new();
    ReplyHeader {
        xid: 1,
        zxid: 1,
        err: 0,
    }
    .encode(&mut p);
    p.put_slice(body);
    p
}

fn decodes_reply(op: OpCode, f: Bytes) -> bool {
    let mut r = Reader::new(f);
    ReplyHeader::decode(&mut r).is_ok()
        && Response::decode(op, &mut r).is_ok()
        && r.finish().is_ok()
}

fn cases() -> Vec<Case> {
    let path_null_data: Vec<u8> = [EMPTY_PATH, NULL_DATA].concat();
    let multi_create: Vec<u8> = [
        &OpCode::Create.code().to_be_bytes()[..],
        &[0],
        &(-1_i32).to_be_bytes(),
        &path_null_data,
    ]
    .concat();
    let multi_children: Vec<u8> = [
        &OpCode::GetChildren.code().to_be_bytes()[..],
        &[0],
        &0_i32.to_be_bytes(),
    ]
    .concat();
    let mut out: Vec<Case> = Vec::new();
    for (what, op, body) in [
        ("create acl", OpCode::Create, path_null_data.clone()),
        ("createTTL acl", OpCode::CreateTtl, path_null_data.clone()),
        ("setACL acl", OpCode::SetAcl, EMPTY_PATH.to_vec()),
        ("setWatches dataWatches", OpCode::SetWatches, vec![0; 8]),
        ("setWatches2 dataWatches", OpCode::SetWatches2, vec![0; 8]),
        ("multi create acl", OpCode::Multi, multi_create),
    ] {
        out.push(case(what, hostile(&request_prefix(op, &body)), |f| {
            decode_request(f).is_err()
        }));
    }
    for (what, op, body) in [
        ("getACL acl", OpCode::GetAcl, vec![]),
        ("getChildren children", OpCode::GetChildren, vec![]),
        ("getChildren2 children", OpCode::GetChildren2, vec![]),
        ("getEphemerals", OpCode::GetEphemerals, vec![]),
        ("whoAmI clientInfo", OpCode::WhoAmI, vec![]),
        ("multi getChildren", OpCode::Multi, multi_children.clone()),
        (
            "multiRead getChildren",
            OpCode::MultiRead,
            multi_children.clone(),
        ),
    ] {
        out.push(case(what, hostile(&reply_frame(&body)), move |f| {
            let mut r = Reader::new(f);
            ReplyHeader::decode(&mut r).is_ok() && Response::decode(op, &mut r).is_err()
        }));
    }
    // The frame codec reserves what a frame announces, but never more than its maximum.
    for (what, len) in [("frame length i32::MAX", i32::MAX), ("frame length -1", -1)] {
        out.push(case(
            what,
            Bytes::copy_from_slice(&len.to_be_bytes()),
            |f| {
                FrameCodec::default()
                    .decode(&mut BytesMut::from(&f[..]))
                    .is_err()
            },
        ));
    }
    let max = i32::try_from(DEFAULT_MAX_FRAME).expect("fits");
    out.push(case(
        "frame of the maximum length, announced",
        // Sized like the frame it announces, so the limit allows the reservation.
        hostile(&max.to_be_bytes()),
        // Incomplete is not an error: "waits for more" is the right answer.
        |f| {
            let mut buf = BytesMut::from(&f[..4]);
            matches!(FrameCodec::default().decode(&mut buf), Ok(None))
        },
    ));

    // Valid frames packed with the smallest possible elements: here the decoded value itself
    // is larger than the frame (a 4-byte empty name becomes a 24-byte String, a 9-byte
    // delete result a MultiResult), so these are bounded by the in-memory representation:
    // size_of::<T>() / wire size, times 2 for the vector's growth.
    let names = (DEFAULT_MAX_FRAME - 16 - 4) / 4;
    let mut p = reply_frame(&i32::try_from(names).expect("fits").to_be_bytes());
    p.resize(16 + 4 + 4 * names, 0);
    out.push(Case {
        what: "valid getChildren of empty names (dense)",
        frame: p.freeze(),
        decode: Box::new(|f| decodes_reply(OpCode::GetChildren, f)),
        times_frame: 2 * (std::mem::size_of::<String>() / 4) as u64,
    });
    let deletes = (DEFAULT_MAX_FRAME - 16 - 9) / 9;
    let mut p = reply_frame(&[]);
    for _ in 0..deletes {
        p.put_i32(OpCode::Delete.code());
        p.put_u8(0);
        p.put_i32(0);
    }
    p.put_i32(-1);
    p.put_u8(1);
    p.put_i32(-1);
    out.push(Case {
        what: "valid multi of delete results (dense)",
        frame: p.freeze(),
        decode: Box::new(|f| decodes_reply(OpCode::Multi, f)),
        times_frame: 2 * (std::mem::size_of::<MultiResult>() / 9 + 1) as u64,
    });
    out
}

/// The most a decode may raise the peak, plus room for small bookkeeping.
fn limit(c: &Case) -> u64 {
    c.times_frame * c.frame.len() as u64 + (256 << 10)
}

/// Runs one case in this process; `Err` with what went wrong.
fn run_case(i: usize) -> Result<String, String> {
    let all = cases();
    let c = all.get(i).ok_or(format!("no case {i}"))?;
    let (what, n) = (c.what, c.frame.len());
    let size0 = vm("VmSize:");
    let peak0 = vm("VmPeak:");
    let as_expected = (c.decode)(c.frame.clone());
    let peak1 = vm("VmPeak:");
    if !as_expected {
        return Err(format!("{what}: wrong verdict from the decoder"));
    }
    let (Some(size0), Some(peak0), Some(peak1)) = (size0, peak0, peak1) else {
        return Ok(format!(
            "{what}: as expected (allocation not measured: no /proc)"
        ));
    };
    // The peak only shows growth above its earlier value: make sure that was close enough.
    if peak0 - size0 > (256 << 10) {
        return Err(format!(
            "{what}: inconclusive, the peak was already {} KiB above the current size",
            (peak0 - size0) >> 10
        ));
    }
    let rise = peak1.saturating_sub(size0);
    if rise > limit(c) {
        return Err(format!(
            "{what}: reserved about {} KiB decoding a {} KiB frame (limit {} KiB)",
            rise >> 10,
            n >> 10,
            limit(c) >> 10
        ));
    }
    Ok(format!(
        "{what}: as expected, peak rise {} KiB for a {} KiB frame (limit {} KiB, \
         headroom before {} KiB)",
        rise >> 10,
        n >> 10,
        limit(c) >> 10,
        (peak0 - size0) >> 10
    ))
}

const CASE_ENV: &str = "ZK_ALLOC_CASE";
const MARK: &str = "zk-alloc-case-result:";

#[test]
fn decode_memory_is_bounded_by_the_frame() {
    if let Ok(i) = std::env::var(CASE_ENV) {
        // Child: one case, result on stdout for the parent.
        let i: usize = i.parse().expect("case number");
        match run_case(i) {
            Ok(msg) => println!("{MARK} ok {msg}"),
            Err(msg) => println!("{MARK} FAIL {msg}"),
        }
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let mut failures = Vec::new();
    for i in 0..cases().len() {
        let out = std::process::Command::new(&exe)
            .args([
                "--exact",
                "decode_memory_is_bounded_by_the_frame",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CASE_ENV, i.to_string())
            .env("MALLOC_MMAP_THRESHOLD_", "65536")
            .env("MALLOC_ARENA_MAX", "1")
            .output()
            .expect("run the case in a child process");
        let stdout = String::from_utf8_lossy(&out.stdout);
        match stdout
            .lines()
            .find_map(|l| l.split_once(MARK).map(|(_, r)| r))
        {
            Some(line) if line.starts_with(" ok ") && out.status.success() => {
                eprintln!("{}", &line[4..]);
            }
            Some(line) => failures.push(line.trim().to_string()),
            None => failures.push(format!(
                "case {i}: child exited with {} and no result\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
