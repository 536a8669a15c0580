//! A write-ahead log with group commit: many threads append records that
//! must be durable before they go on, as a database's writers do.
//!
//! Each `append_sync` returns once its record is written and synced; the
//! log's flusher syncs once per batch, so while one sync is under way the
//! next batch gathers every thread's records. Prints records/s and records
//! per sync; then reads the log back (every record, whole, in each thread's
//! order) and shows what a crash in the middle of a batch leaves: a torn
//! tail that a tolerant reader treats as the end.
//!
//! ```text
//! cargo run --release --example wal [-- --threads 8 --records 500 --size 100]
//! ```

mod support;

use std::error::Error;
use std::fs::File;
use std::io::ErrorKind;
use std::time::Instant;

use mwsr::record::{Reader, Wal};
use support::{rate, ratio, setting};

/// Thread `t`'s `n`-th record: an id, then filler up to `size` bytes.
fn record(t: usize, n: usize, size: usize) -> Vec<u8> {
    let mut r = format!("t{t} n{n} ").into_bytes();
    r.resize(size.max(r.len()), b'.');
    r
}

fn main() -> Result<(), Box<dyn Error>> {
    let threads = setting("threads", 8);
    let per_thread = setting("records", 500);
    let size = setting("size", 100);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("000001.log");

    let wal = Wal::create(&path)?;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let wal = &wal;
            s.spawn(move || {
                for n in 0..per_thread {
                    // Durable before the next one, as a synced database
                    // write is.
                    wal.append_sync(&record(t, n, size)).expect("append");
                }
            });
        }
    });
    let elapsed = start.elapsed();
    wal.close()?;
    let stats = wal.stats();
    let total = (threads * per_thread) as u64;
    println!(
        "{threads} threads appended {total} synced records of {size} B: {} ({} syncs, {:.1} records per sync)",
        rate(total, elapsed),
        stats.syncs,
        ratio(stats.records, stats.syncs),
    );
    assert_eq!(stats.records, total);

    // Every record is there, whole, and in its thread's order.
    let mut reader = Reader::new(File::open(&path)?);
    let mut next = vec![0; threads];
    let mut buf = Vec::new();
    while reader.read_record(&mut buf)? {
        let text = String::from_utf8(buf.clone())?;
        let mut ids = text.split(' ');
        let t: usize = ids
            .next()
            .and_then(|s| s[1..].parse().ok())
            .ok_or("bad record")?;
        assert_eq!(
            buf,
            record(t, next[t], size),
            "thread {t}'s records out of order"
        );
        next[t] += 1;
    }
    assert!(
        next.iter().all(|&n| n == per_thread),
        "records missing: {next:?}"
    );
    println!("read back: all {total} records, in each thread's order");

    // A crash in the middle of a write leaves a torn last record: the
    // tolerant reader (LevelDB's recovery) ends cleanly before it, the
    // strict one says the log ends inside a record.
    let bytes = std::fs::read(&path)?;
    let torn = &bytes[..bytes.len() - size / 2];
    let mut tolerant = Reader::tolerant(torn);
    let recovered = tolerant.records().collect::<Result<Vec<_>, _>>()?;
    assert_eq!(recovered.len() as u64, total - 1);
    assert_eq!(tolerant.corruptions(), 0);
    let strict = Reader::new(torn).records().last().ok_or("no records")?;
    assert_eq!(strict.map_err(|e| e.kind()), Err(ErrorKind::UnexpectedEof));
    println!(
        "torn tail: a tolerant reader recovers {} of {total} records and reports no damage; a strict one fails with UnexpectedEof",
        recovered.len()
    );
    Ok(())
}
