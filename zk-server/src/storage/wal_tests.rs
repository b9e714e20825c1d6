//! WAL tests on real files with real fsync.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use super::segment;
use super::snapshot::SnapshotStore;
use super::wal::{Wal, WalError, WalOptions};

fn small() -> WalOptions {
    WalOptions {
        segment_bytes: 2048,
        max_record_bytes: 1 << 20,
        cache_bytes: 512,
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!("entry-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes()
}

fn append_range(wal: &Wal, r: std::ops::RangeInclusive<u64>) {
    let entries: Vec<_> = r.map(|i| (i, payload(i))).collect();
    let (tx, rx) = mpsc::channel();
    wal.append(
        entries,
        Some(Box::new(move |res| {
            let _ = tx.send(res.is_ok());
        })),
    )
    .expect("append");
    assert!(rx.recv().expect("completion"), "append not durable");
}

fn read_all(wal: &Wal) -> Vec<(u64, Vec<u8>)> {
    let (Some(a), Some(b)) = (wal.first_index(), wal.last_index()) else {
        return vec![];
    };
    wal.read(a, b + 1, usize::MAX)
        .expect("read")
        .into_iter()
        .map(|(i, d)| (i, d.to_vec()))
        .collect()
}

fn segments(dir: &Path) -> Vec<(u64, PathBuf)> {
    segment::list(dir).expect("list")
}

#[test]
fn storage_wal_append_read_back_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), WalOptions::default()).expect("open");
    append_range(&wal, 0..=99);
    assert_eq!(wal.first_index(), Some(0));
    assert_eq!(wal.last_index(), Some(99));
    let got = wal.read(10, 20, usize::MAX).expect("read");
    assert_eq!(got.len(), 10);
    assert_eq!(got[0].0, 10);
    assert_eq!(*got[0].1, payload(10));
    // A byte budget stops early but returns at least one entry.
    assert_eq!(wal.read(10, 20, 1).expect("read").len(), 1);
    // Out-of-range reads return what exists.
    assert_eq!(wal.read(95, 200, usize::MAX).expect("read").len(), 5);
    wal.save_vote(b"vote-1", None).expect("vote");
    wal.save_committed(b"c-50").expect("committed");
    wal.sync_blocking().expect("sync");
    wal.close();

    let wal = Wal::open(dir.path(), WalOptions::default()).expect("reopen");
    let all = read_all(&wal);
    assert_eq!(all.len(), 100);
    for (i, d) in all {
        assert_eq!(d, payload(i));
    }
    assert_eq!(wal.vote().as_deref(), Some(&b"vote-1"[..]));
    assert_eq!(wal.committed().as_deref(), Some(&b"c-50"[..]));
    // Non-consecutive appends are refused.
    assert!(matches!(
        wal.append(vec![(200, vec![1])], None),
        Err(WalError::Invalid(_))
    ));
    wal.close();
}

#[test]
fn storage_wal_segments_roll_and_entries_survive_from_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), small()).expect("open");
    for i in 0..300 {
        append_range(&wal, i..=i);
    }
    assert!(segments(dir.path()).len() > 5, "expected several segments");
    // The cache is tiny, so most of these come from disk.
    let all = read_all(&wal);
    assert_eq!(all.len(), 300);
    for (i, d) in &all {
        assert_eq!(*d, payload(*i));
    }
    wal.close();
    let wal = Wal::open(dir.path(), small()).expect("reopen");
    assert_eq!(read_all(&wal), all);
    wal.close();
}

#[test]
fn storage_wal_truncate_after_replaces_the_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), small()).expect("open");
    append_range(&wal, 1..=40);
    wal.truncate_after(Some(25)).expect("truncate");
    assert_eq!(wal.last_index(), Some(25));
    wal.append(
        vec![(26, b"new-26".to_vec()), (27, b"new-27".to_vec())],
        None,
    )
    .expect("append");
    wal.sync_blocking().expect("sync");
    wal.close();
    let wal = Wal::open(dir.path(), small()).expect("reopen");
    let all = read_all(&wal);
    assert_eq!(all.len(), 27);
    assert_eq!(all[25], (26, b"new-26".to_vec()));
    assert_eq!(all[26], (27, b"new-27".to_vec()));
    assert_eq!(all[24], (25, payload(25)));
    // Truncating everything.
    wal.truncate_after(None).expect("truncate all");
    assert_eq!(wal.last_index(), None);
    wal.append(vec![(0, b"zero".to_vec())], None)
        .expect("append");
    wal.sync_blocking().expect("sync");
    wal.close();
    let wal = Wal::open(dir.path(), small()).expect("reopen");
    assert_eq!(read_all(&wal), vec![(0, b"zero".to_vec())]);
    wal.close();
}

#[test]
fn storage_wal_purge_deletes_old_segments_and_keeps_the_vote() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), small()).expect("open");
    wal.save_vote(b"the-vote", None).expect("vote");
    for i in 0..200 {
        append_range(&wal, i..=i);
    }
    let before = segments(dir.path());
    wal.purge(150, b"id-150").expect("purge");
    wal.sync_blocking().expect("sync");
    // Deletion happens on the writer thread right after the purge record is durable.
    wal.sync_blocking().expect("sync");
    let after = segments(dir.path());
    assert!(
        after.len() < before.len(),
        "{} -> {}",
        before.len(),
        after.len()
    );
    assert_eq!(
        after[0].0,
        before[before.len() - after.len()].0,
        "a prefix was deleted"
    );
    assert_eq!(wal.first_index(), Some(151));
    wal.close();
    let wal = Wal::open(dir.path(), small()).expect("reopen");
    assert_eq!(wal.first_index(), Some(151));
    assert_eq!(wal.last_index(), Some(199));
    assert_eq!(wal.purged(), Some((150, b"id-150".to_vec())));
    assert_eq!(wal.vote().as_deref(), Some(&b"the-vote"[..]));
    // Purging beyond the last entry empties the log; the next append continues after it.
    wal.purge(300, b"id-300").expect("purge");
    assert_eq!(wal.last_index(), None);
    assert!(wal.append(vec![(5, vec![])], None).is_err());
    wal.append(vec![(301, b"a".to_vec())], None)
        .expect("append");
    wal.sync_blocking().expect("sync");
    wal.close();
    let wal = Wal::open(dir.path(), small()).expect("reopen");
    assert_eq!(read_all(&wal), vec![(301, b"a".to_vec())]);
    wal.close();
}

/// Returns the path and length of the segment holding the entries of a one-session WAL.
fn first_segment(dir: &Path) -> (PathBuf, u64) {
    let segs = segments(dir);
    let p = segs[0].1.clone();
    let len = std::fs::metadata(&p).expect("meta").len();
    (p, len)
}

#[test]
fn storage_wal_torn_tail_is_truncated_with_warning_and_earlier_records_survive() {
    for cut in [1u64, 5, 13] {
        let dir = tempfile::tempdir().expect("tempdir");
        let wal = Wal::open(dir.path(), WalOptions::default()).expect("open");
        append_range(&wal, 0..=9);
        wal.close();
        // Remove the segment created by the next open so the entries' segment is the last.
        let (p, len) = first_segment(dir.path());
        let f = OpenOptions::new().write(true).open(&p).expect("open seg");
        f.set_len(len - cut).expect("cut");
        drop(f);
        for (seq, path) in segments(dir.path()) {
            if seq > 1 {
                std::fs::remove_file(path).expect("rm");
            }
        }
        let wal = Wal::open(dir.path(), WalOptions::default()).expect("reopen after torn tail");
        let stats = wal.stats();
        assert_eq!(
            stats.repaired_on_open.len(),
            1,
            "{:?}",
            stats.repaired_on_open
        );
        assert!(stats.repaired_on_open[0].contains("torn tail"));
        let all = read_all(&wal);
        assert_eq!(
            all.len(),
            9,
            "cut {cut}: the last entry is gone, the rest intact"
        );
        for (i, d) in all {
            assert_eq!(d, payload(i));
        }
        // The log continues after the repaired tail.
        append_range(&wal, 9..=9);
        wal.close();
        let wal = Wal::open(dir.path(), WalOptions::default()).expect("reopen");
        assert_eq!(read_all(&wal).len(), 10);
        wal.close();
    }
}

#[test]
fn storage_wal_checksum_mismatch_in_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), WalOptions::default()).expect("open");
    append_range(&wal, 0..=9);
    wal.close();
    for (seq, path) in segments(dir.path()) {
        if seq > 1 {
            std::fs::remove_file(path).expect("rm");
        }
    }
    let (p, len) = first_segment(dir.path());
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .expect("open");
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, len - 2).expect("read");
    b[0] ^= 0x5a;
    f.write_all_at(&b, len - 2).expect("write");
    // A zero-filled tail after it (as ext4 may leave) is part of the torn tail.
    f.write_all_at(&[0u8; 100], len).expect("zeros");
    drop(f);
    let wal = Wal::open(dir.path(), WalOptions::default()).expect("reopen");
    assert_eq!(read_all(&wal).len(), 9);
    assert_eq!(wal.stats().repaired_on_open.len(), 1);
    wal.close();
}

#[test]
fn storage_wal_corruption_before_the_tail_refuses_to_open_naming_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), WalOptions::default()).expect("open");
    append_range(&wal, 0..=9);
    wal.close();
    let (p, _) = first_segment(dir.path());
    // Header (16) + checkpoint record; damage a byte well inside the first entries.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .expect("open");
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, 60).expect("read");
    b[0] ^= 0xff;
    f.write_all_at(&b, 60).expect("write");
    drop(f);
    let err = Wal::open(dir.path(), WalOptions::default()).expect_err("must refuse");
    match &err {
        WalError::Corrupt { path, offset, .. } => {
            assert_eq!(path, &p);
            assert!(*offset <= 60 && *offset >= 16, "offset {offset}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("wal-00000000000000000001.log") && msg.contains("byte offset"),
        "{msg}"
    );
    // This was the last segment: damage followed by more records is not a torn tail.
    assert_eq!(segments(dir.path()).len(), 1);
}

#[test]
fn storage_wal_missing_or_garbage_segments_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), small()).expect("open");
    for i in 0..300 {
        append_range(&wal, i..=i);
    }
    wal.close();
    let segs = segments(dir.path());
    assert!(segs.len() > 3);
    // Garbage in a middle segment.
    std::fs::write(&segs[1].1, b"garbage that is not a segment at all").expect("write");
    assert!(matches!(
        Wal::open(dir.path(), small()),
        Err(WalError::Corrupt { .. })
    ));
    // A missing middle segment.
    std::fs::remove_file(&segs[1].1).expect("rm");
    let err = Wal::open(dir.path(), small()).expect_err("gap");
    assert!(err.to_string().contains("segment missing"), "{err}");
}

#[test]
fn storage_wal_group_commit_shares_fsyncs_between_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), WalOptions::default()).expect("open");
    let base = wal.stats();
    let (tx, rx) = mpsc::channel();
    let n = 2000u64;
    for i in 0..n {
        let tx = tx.clone();
        wal.append(
            vec![(i, payload(i))],
            Some(Box::new(move |r| {
                let _ = tx.send(r.is_ok());
            })),
        )
        .expect("append");
    }
    for _ in 0..n {
        assert!(rx.recv().expect("done"));
    }
    let s = wal.stats();
    let fsyncs = s.fsyncs - base.fsyncs;
    eprintln!(
        "group commit: {n} appends, {fsyncs} fsyncs, {:.1} entries per fsync",
        n as f64 / fsyncs.max(1) as f64
    );
    assert!(fsyncs < n / 2, "{fsyncs} fsyncs for {n} appends");
    wal.close();
}

#[test]
fn storage_snapshot_write_rename_verify_retain_and_detect_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    assert_eq!(store.latest().expect("latest"), None);
    for idx in [10u64, 20, 30, 40] {
        let mut w = store.create().expect("create");
        std::io::Write::write_all(&mut w, format!("state at {idx}").as_bytes()).expect("write");
        let f = w.finish(idx, b"meta").expect("finish");
        assert_eq!(f.index, idx);
        f.verify().expect("verify");
    }
    let latest = store.latest().expect("latest").expect("some");
    assert_eq!(latest.index, 40);
    assert_eq!(latest.meta, b"meta");
    let mut s = String::new();
    std::io::Read::read_to_string(&mut latest.data_reader().expect("reader"), &mut s)
        .expect("read");
    assert_eq!(s, "state at 40");
    assert_eq!(store.retain(3).expect("retain"), 1);
    assert_eq!(store.list().expect("list").len(), 3);

    // Import (what a follower receives) round-trips.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let store2 = SnapshotStore::open(dir2.path()).expect("open");
    let mut imp = store2.import().expect("import");
    let raw = std::fs::read(&latest.path).expect("raw");
    for chunk in raw.chunks(7) {
        imp.write_chunk(chunk).expect("chunk");
    }
    let pending = imp.finish().expect("verified");
    let installed = store2.install(pending).expect("install");
    assert_eq!(installed.index, 40);
    assert_eq!(store2.latest().expect("latest").map(|f| f.index), Some(40));

    // A flipped byte is caught by the CRC; a truncated file by the trailer.
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&installed.path)
        .expect("open");
    f.write_all_at(b"X", 9).expect("damage");
    drop(f);
    let err = store2
        .latest()
        .expect("trailer ok")
        .expect("some")
        .verify()
        .expect_err("crc");
    assert!(err.to_string().contains("CRC"), "{err}");
    let f = OpenOptions::new()
        .write(true)
        .open(&installed.path)
        .expect("open");
    f.set_len(20).expect("cut");
    drop(f);
    assert!(store2.latest().is_err());
    // Damaged imports are refused and leave no temporary file behind.
    let mut imp = store2.import().expect("import");
    imp.write_chunk(b"not a snapshot").expect("chunk");
    assert!(imp.finish().is_err());
    let parts = std::fs::read_dir(dir2.path())
        .expect("ls")
        .filter(|e| {
            e.as_ref()
                .map(|e| e.path().extension().is_some_and(|x| x == "part"))
                .unwrap_or(false)
        })
        .count();
    assert_eq!(parts, 0);
}

#[test]
fn storage_wal_random_damage_never_panics_and_never_loses_records_silently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::open(dir.path(), WalOptions::default()).expect("open");
    append_range(&wal, 0..=49);
    wal.close();
    let (seg, _) = first_segment(dir.path());
    let pristine = std::fs::read(&seg).expect("read");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..80 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut bytes = pristine.clone();
        let off = (x as usize) % bytes.len();
        bytes[off] ^= 1 + (x >> 32) as u8 % 255;
        if round % 3 == 0 {
            bytes.truncate(off.max(1));
        }
        let case = tempfile::tempdir().expect("tempdir");
        std::fs::write(case.path().join(seg.file_name().expect("name")), &bytes).expect("write");
        match Wal::open(case.path(), WalOptions::default()) {
            Ok(w) => {
                // Whatever opened must be a prefix of what was written, and anything dropped
                // was reported as a repaired torn tail.
                let got = read_all(&w);
                for (i, d) in &got {
                    assert_eq!(*d, payload(*i), "round {round}: entry {i} altered");
                }
                if got.len() < 50 {
                    assert!(
                        !w.stats().repaired_on_open.is_empty(),
                        "round {round}: silent loss"
                    );
                }
                w.close();
            }
            Err(WalError::Corrupt { .. }) => {}
            Err(e) => panic!("round {round}: unexpected error {e}"),
        }
    }
}
