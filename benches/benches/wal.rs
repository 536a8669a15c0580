//! Group commit against one sync per record: synced records per second
//! with 1, 2 and 8 writer threads, each thread appending 100-byte records
//! and waiting for each to be durable before the next.
//!
//! - `mwsr::record::Wal::append_sync`: one write + `sync_data` per batch,
//!   whatever the threads appended while the last sync ran, into space
//!   zero-filled ahead of the log.
//! - Peer: a `Mutex<record::Writer<File>>`, each writer framing its record,
//!   writing it and calling `sync_data` under the lock: one sync per record.
//! - Peer, unlocked: the same, but each writer calls `sync_data` after
//!   releasing the lock, so that syncs overlap and the kernel can fold them
//!   into one journal commit: still one sync per record, and often much
//!   faster. (Its syncs share one open file description, through which
//!   Linux reports a writeback error to one `fsync` only: a concurrent one
//!   may return `Ok` for a record whose write failed.)
//! - Peer, zero-filled: the locked peer on a file zero-filled ahead (a
//!   megabyte at a time, synced with the record), as `Wal` writes its
//!   own, so that its syncs need not make a new file size durable either:
//!   the ratio against it is group commit's share alone.
//!
//! Contenders alternate (A B A B ...) for `--reps` rounds of `--ms` each;
//! prints the medians and the median of the per-round ratios, records per
//! sync, and the process's context switches per sync (a count, which a
//! busy host moves far less than the rates; NaN where `getrusage` is
//! missing). Every round's file is read back and checked.
//!
//! ```text
//! cargo bench --bench wal [-- --reps 5 --ms 500]
//! ```

#[path = "../../examples/support/mod.rs"]
mod support;

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mwsr::record::{Reader, Wal, Writer};
use support::{Steal, median, min_max, setting};

const SIZE: usize = 100;

/// A way to make records durable, one at a time per thread.
trait Durable: Sync {
    fn append_sync(&self, record: &[u8]);
}

impl Durable for Wal {
    fn append_sync(&self, record: &[u8]) {
        Wal::append_sync(self, record).expect("wal append");
    }
}

/// The peer: one `sync_data` per record, under a lock.
struct SyncEach(Mutex<Writer<File>>);

impl Durable for SyncEach {
    fn append_sync(&self, record: &[u8]) {
        let mut log = self.0.lock().unwrap();
        log.write_record(record).expect("write");
        log.get_mut().sync_data().expect("sync");
    }
}

/// The unlocked peer: one `sync_data` per record, outside the lock.
struct SyncEachUnlocked {
    log: Mutex<Writer<File>>,
    file: File,
}

impl SyncEachUnlocked {
    fn create(path: &Path) -> Self {
        let file = File::create(path).unwrap();
        let clone = file.try_clone().unwrap();
        Self {
            log: Mutex::new(Writer::new(file)),
            file: clone,
        }
    }
}

impl Durable for SyncEachUnlocked {
    fn append_sync(&self, record: &[u8]) {
        self.log
            .lock()
            .unwrap()
            .write_record(record)
            .expect("write");
        self.file.sync_data().expect("sync");
    }
}

/// The locked peer on a file zero-filled ahead, as `Wal` writes its own
/// (zeros written with a record and synced with it, a megabyte at a time):
/// its syncs need not make a new file size durable either, so what is left
/// of `Wal`'s lead over it is group commit's alone.
struct SyncEachZeroed(Mutex<(Writer<File>, u64)>);

impl SyncEachZeroed {
    fn create(path: &Path) -> Self {
        Self(Mutex::new((Writer::new(File::create(path).unwrap()), 0)))
    }
}

impl Durable for SyncEachZeroed {
    fn append_sync(&self, record: &[u8]) {
        use std::io::{Seek, SeekFrom, Write};
        let mut guard = self.0.lock().unwrap();
        let (log, zeroed_to) = &mut *guard;
        log.write_record(record).expect("write");
        let end = log.offset();
        let mut file = log.get_ref();
        if end + 32 * 1024 > *zeroed_to {
            let to = (end + 32 * 1024).next_multiple_of(1 << 20);
            file.write_all(&vec![0; (to - end) as usize]).unwrap();
            file.seek(SeekFrom::Start(end)).unwrap();
            *zeroed_to = to;
        }
        file.sync_data().expect("sync");
    }
}

impl Drop for SyncEachZeroed {
    fn drop(&mut self) {
        let (log, _) = &*self.0.lock().unwrap();
        log.get_ref().set_len(log.offset()).unwrap();
    }
}

/// Runs `threads` writers for `time`; returns the records made durable.
fn round(log: &impl Durable, threads: usize, time: Duration) -> u64 {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..threads)
            .map(|t| {
                let stop = &stop;
                s.spawn(move || {
                    let mut record = [b'.'; SIZE];
                    let mut n = 0u64;
                    // ORDERING: Relaxed: only tells the loop to end.
                    while !stop.load(Ordering::Relaxed) {
                        record[..16]
                            .copy_from_slice(&((t as u64) << 48 | n).to_le_bytes().repeat(2));
                        log.append_sync(&record);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(time);
        // ORDERING: Relaxed: the joins below order everything after it.
        stop.store(true, Ordering::Relaxed);
        writers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}

/// The context switches of the whole process so far (every thread's,
/// exited ones included), voluntary or not.
#[cfg(unix)]
fn context_switches() -> f64 {
    // SAFETY: `getrusage` only writes the `rusage` it is given, which is
    // plain data and valid zeroed.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    (usage.ru_nvcsw + usage.ru_nivcsw) as f64
}

#[cfg(not(unix))]
fn context_switches() -> f64 {
    f64::NAN
}

/// Every record of the file at `path` is whole; returns how many.
fn verify(path: &Path) -> u64 {
    let mut reader = Reader::new(File::open(path).unwrap());
    let mut count = 0;
    for record in reader.records() {
        assert_eq!(record.unwrap().len(), SIZE);
        count += 1;
    }
    count
}

/// One peer's round of `threads` writers on a new file `path`: records
/// per second and context switches per record.
fn peer_round<D: Durable>(
    path: &Path,
    create: fn(&Path) -> D,
    threads: usize,
    time: Duration,
) -> (f64, f64) {
    let peer = create(path);
    let (start, switched) = (Instant::now(), context_switches());
    let n = round(&peer, threads, time);
    let rate = n as f64 / start.elapsed().as_secs_f64();
    let switches = (context_switches() - switched) / n as f64;
    drop(peer);
    assert_eq!(verify(path), n);
    (rate, switches)
}

fn main() {
    let reps = setting("reps", 5);
    let time = Duration::from_millis(setting("ms", 500) as u64);
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let steal = Steal::start();
    println!("wal: synced {SIZE}-byte records/s; {reps} alternating rounds of {time:?}\n");
    println!(
        "| writers | Wal (group commit) | sync per record, locked | ratio (min-max) | unlocked | ratio (min-max) | locked, zero-filled | ratio (min-max) | records per sync | context switches per sync: Wal / locked / unlocked |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for threads in [1, 2, 8] {
        let (mut ours, mut locked, mut unlocked) = (vec![], vec![], vec![]);
        let (mut vs_locked, mut vs_unlocked) = (vec![], vec![]);
        let (mut per_sync, mut switches) = (vec![], vec![]);
        let (mut locked_switches, mut unlocked_switches) = (vec![], vec![]);
        let (mut zeroed, mut vs_zeroed) = (vec![], vec![]);
        for rep in 0..reps {
            let path = dir.path().join(format!("wal-{threads}-{rep}.log"));
            let wal = Wal::create(&path).unwrap();
            let (start, switched) = (Instant::now(), context_switches());
            let n = round(&wal, threads, time);
            let a = n as f64 / start.elapsed().as_secs_f64();
            wal.close().unwrap();
            let switched = context_switches() - switched;
            assert_eq!(verify(&path), n);
            let stats = wal.stats();
            per_sync.push(stats.records as f64 / stats.syncs as f64);
            switches.push(switched / stats.syncs as f64);

            let path = dir.path().join(format!("locked-{threads}-{rep}.log"));
            let create = |p: &Path| SyncEach(Mutex::new(Writer::new(File::create(p).unwrap())));
            let (b, sw) = peer_round(&path, create, threads, time);
            locked_switches.push(sw);
            let path = dir.path().join(format!("unlocked-{threads}-{rep}.log"));
            let (c, sw) = peer_round(&path, SyncEachUnlocked::create, threads, time);
            unlocked_switches.push(sw);
            let path = dir.path().join(format!("zeroed-{threads}-{rep}.log"));
            let (d, _) = peer_round(&path, SyncEachZeroed::create, threads, time);

            ours.push(a);
            locked.push(b);
            unlocked.push(c);
            vs_locked.push(a / b);
            vs_unlocked.push(a / c);
            zeroed.push(d);
            vs_zeroed.push(a / d);
        }
        let (lo, hi) = min_max(&vs_locked);
        let (ulo, uhi) = min_max(&vs_unlocked);
        let (zlo, zhi) = min_max(&vs_zeroed);
        println!(
            "| {threads} | {:.1} k/s | {:.1} k/s | {:.2}x ({lo:.2}-{hi:.2}) | {:.1} k/s | {:.2}x ({ulo:.2}-{uhi:.2}) | {:.1} k/s | {:.2}x ({zlo:.2}-{zhi:.2}) | {:.1} | {:.1} / {:.1} / {:.1} |",
            median(&mut ours) / 1e3,
            median(&mut locked) / 1e3,
            median(&mut vs_locked),
            median(&mut unlocked) / 1e3,
            median(&mut vs_unlocked),
            median(&mut zeroed) / 1e3,
            median(&mut vs_zeroed),
            median(&mut per_sync),
            median(&mut switches),
            median(&mut locked_switches),
            median(&mut unlocked_switches),
        );
    }
    println!("{}", steal.note());
}
