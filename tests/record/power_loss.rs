//! `Wal` after a power loss, simulated on its file: every 4 KiB page the
//! last (unacknowledged) batch wrote may or may not have reached the disk,
//! and the file's growth may or may not have, as a test double that drops
//! unsynced data would leave it. Whatever survives, `open` finds every
//! acknowledged record, in order, and what is appended after it is read
//! back after them. Each case prints its seed on failure.

use std::fs::File;

use mwsr::record::{Reader, Wal};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const CASES: u64 = 40;
const PAGE: usize = 4096;

fn random_record(rng: &mut SmallRng, id: usize) -> Vec<u8> {
    let len = match rng.random_range(0..4) {
        0 => rng.random_range(0..100),
        1 => rng.random_range(0..5000),
        2 => rng.random_range(0..40_000),
        _ => rng.random_range(0..300_000),
    };
    let mut r = format!("{id} ").into_bytes();
    r.resize(r.len() + len, b'a' + (id % 26) as u8);
    r
}

/// Every record of the file at `path`, read as after a crash.
fn read_tolerant(path: &std::path::Path) -> Vec<Vec<u8>> {
    let mut reader = Reader::tolerant(File::open(path).unwrap());
    reader.records().collect::<Result<_, _>>().unwrap()
}

#[test]
fn acknowledged_records_survive_any_loss_of_an_unsynced_batch() {
    for seed in 0..CASES {
        let mut rng = SmallRng::seed_from_u64(seed);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let wal = Wal::create(&path).unwrap();
        let acked: Vec<_> = (0..rng.random_range(0..12))
            .map(|id| random_record(&mut rng, id))
            .collect();
        acked.iter().for_each(|r| wal.append_sync(r).unwrap());
        let synced = std::fs::read(&path).unwrap(); // what the disk holds
        let acked_end = wal.stats().bytes as usize;
        // The batch whose sync the power loss interrupts.
        for id in 100..100 + rng.random_range(1..6) {
            wal.append(&random_record(&mut rng, id)).unwrap();
        }
        wal.sync().unwrap();
        let written = std::fs::read(&path).unwrap(); // what the cache held
        std::mem::forget(wal); // the power is gone: no close

        let len = if rng.random_bool(0.5) {
            written.len()
        } else {
            synced.len()
        };
        let mut image = vec![0; len];
        for (p, page) in image.chunks_mut(PAGE).enumerate() {
            let range = p * PAGE..(p * PAGE + page.len());
            let from = if range.end <= acked_end || rng.random_bool(0.5) {
                &written
            } else {
                &synced
            };
            for (i, byte) in range.zip(page.iter_mut()) {
                *byte = from.get(i).copied().unwrap_or(0);
            }
        }
        let path = dir.path().join("after-power-loss.log");
        std::fs::write(&path, &image).unwrap();

        let wal = Wal::open(&path).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(
            wal.recovery().intact_len >= acked_end as u64,
            "seed {seed}: {:?} cuts acknowledged records",
            wal.recovery()
        );
        wal.append_sync(b"after").unwrap();
        // As a second crash would leave it, then closed.
        for stage in ["open", "closed"] {
            let read = read_tolerant(&path);
            assert_eq!(read[..acked.len()], acked[..], "seed {seed}, {stage}");
            assert_eq!(read.last().unwrap(), b"after", "seed {seed}, {stage}");
            wal.close().unwrap();
        }
    }
}

/// A small batch written where the zeroed space ahead is about to run out
/// (here 40 KiB before the first megabyte ends), then cut short by a crash
/// 30 KiB in, with the file's growth lost: there are zeros after it still,
/// so it reads as a torn write, and `open` keeps every synced record.
#[test]
fn a_batch_torn_near_the_end_of_the_zeroed_space_reads_as_a_torn_write() {
    const MIB: u64 = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let wal = Wal::create(&path).unwrap();
    let mut acked = 0;
    while MIB - wal.stats().bytes > 128 * 1024 {
        wal.append_sync(&vec![b'a'; 60_000]).unwrap();
        acked += 1;
    }
    // Framing adds a header per chunk: land within a few bytes of the mark.
    let fill = MIB - wal.stats().bytes - 40 * 1024 - 2 * 7;
    wal.append_sync(&vec![b'b'; fill as usize]).unwrap();
    acked += 1;
    let end = wal.stats().bytes;
    assert!(
        (MIB - 40 * 1024 - 7..=MIB - 40 * 1024).contains(&end),
        "{end}"
    );
    let synced = std::fs::read(&path).unwrap();

    wal.append(&vec![b'c'; 50 * 1024]).unwrap();
    wal.sync().unwrap();
    let written = std::fs::read(&path).unwrap();
    std::mem::forget(wal); // the crash: no close
    let torn_at = end as usize + 30 * 1024;
    let mut image = written[..torn_at].to_vec();
    image.extend_from_slice(&synced[torn_at.min(synced.len())..]);
    assert!(
        image.len() == synced.len().max(torn_at),
        "the growth was lost"
    );
    let path = dir.path().join("after-crash.log");
    std::fs::write(&path, &image).unwrap();

    let log_end = Reader::tolerant(&image[..]).skip_to_end().unwrap();
    assert!(log_end.torn && !log_end.damaged, "{log_end:?}");
    assert_eq!(log_end.intact_len, end);
    let wal = Wal::open(&path).unwrap();
    assert!(!wal.recovery().damaged, "{:?}", wal.recovery());
    assert_eq!(read_tolerant(&path).len(), acked);
    wal.close().unwrap();
}
