//! Workload 10, a mirrored file with a slow member: `mwsr::mirror::Mirror`
//! over a fast file (synchronous) and a slow one (write-behind: a file
//! behind a wrapper that sleeps `--delay-us` in every `write_at`, as a disk
//! far away would), against a sequential tee, the strongest simple
//! alternative: each write to each member in turn from the writing thread
//! (`write_all_at` to the fast file, then to the slow one), as Go's
//! `io.MultiWriter` does.
//!
//! Writes: the same blocks of `--block-kib` at disjoint offsets, from 1
//! writer and from 4 (each its own contiguous range, all released by a
//! barrier): `--mib` in offset order, and `--random-mib` of blocks spread
//! at random over `--span-mib` (each writer over its part of it), in a
//! random order, so that hardly any two are adjacent. Each round writes
//! fresh files. Two clocks per round: until the last write returned, and
//! until everything is on both members and synced (the mirror: `close()`,
//! which drains the write-behind queue and syncs both; the tee: `sync_all`
//! on both files). Every round reads both files back and compares them
//! with what was written; it also counts the slow member's `write_at`
//! calls (the write-behind flusher coalesces adjacent queued writes).
//!
//! Reads: `Mirror::read_at` (served by the fast member) against
//! `FileExt::read_at` on the same fast file, with the same buffer size,
//! `--read-mib` per round from the page cache; every round's last pass is
//! compared with the file's bytes.
//!
//! `--lag-kib 0` (the default) is `WriteBehind::new()`'s lag bound.
//!
//! Contenders alternate for `--reps` rounds, the order swapped every
//! round; prints the medians and the median of the per-round ratios with
//! their min-max.
//!
//! ```text
//! cargo bench --bench mirror [-- --reps 7 --mib 4 --random-mib 1 --span-mib 64 --read-mib 256
//!     --block-kib 4 --delay-us 1000 --lag-kib 0]
//! ```

#[path = "../../examples/support/mod.rs"]
mod support;

use std::cell::Cell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use mwsr::mirror::{Member, Mirror, WriteBehind};
use support::{median, setting};

/// A file that takes `delay` longer for every `write_at` (calls at once
/// wait at once, as requests to a remote disk do), and counts its calls.
struct Slow {
    file: File,
    delay: Duration,
    writes: AtomicU64,
    reads: AtomicU64,
}

impl Slow {
    fn create(path: &Path, delay: Duration) -> Self {
        Self {
            file: File::create_new(path).unwrap(),
            delay,
            writes: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        }
    }
}

impl Member for Slow {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        // ORDERING: statistics, read once the round is over.
        self.reads.fetch_add(1, Ordering::Relaxed);
        FileExt::read_at(&self.file, buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        thread::sleep(self.delay);
        FileExt::write_at(&self.file, buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

/// `len` bytes of xorshift64 output: nothing a bug could reproduce.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = vec![0; len];
    for word in out.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
    }
    out
}

/// One write workload: each writer's blocks in order, and the file they
/// leave.
struct Workload {
    name: String,
    block: usize,
    /// Per writer, the block numbers it writes, in the order it writes them.
    writers: Vec<Vec<usize>>,
    /// Bytes written.
    bytes: usize,
    /// The file once every block is written (zeros where none is).
    expected: Vec<u8>,
}

impl Workload {
    /// `bytes` in blocks of `block`, from `writers` threads, each writing
    /// its own contiguous range: in order (`span` `None`), or spread at
    /// random over a range `span / writers` long, in a random order.
    fn new(writers: usize, bytes: usize, span: Option<usize>, block: usize) -> Self {
        let per = bytes / block / writers;
        let slots = span.map_or(per * writers, |span| span / block) / writers;
        assert!(slots >= per, "the span is shorter than the writes");
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let orders: Vec<Vec<usize>> = (0..writers)
            .map(|t| {
                let mut order: Vec<usize> = (t * slots..(t + 1) * slots).collect();
                if span.is_some() {
                    // Fisher-Yates; the first `per` are the blocks written.
                    for i in (1..order.len()).rev() {
                        order.swap(i, (next() % (i as u64 + 1)) as usize);
                    }
                    order.truncate(per);
                }
                order
            })
            .collect();
        let end = orders
            .iter()
            .flatten()
            .max()
            .map_or(0, |&b| (b + 1) * block);
        let mut expected = vec![0; end];
        for &b in orders.iter().flatten() {
            let seed = (b as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            expected[b * block..(b + 1) * block].copy_from_slice(&data(block, seed));
        }
        let bytes = per * writers * block;
        let name = format!(
            "{}, {writers} writer{}, {} MiB{}",
            if span.is_some() {
                "random"
            } else {
                "sequential"
            },
            if writers == 1 { "" } else { "s" },
            bytes >> 20,
            span.map_or(String::new(), |span| format!(" in {} MiB", span >> 20))
        );
        Self {
            name,
            block,
            writers: orders,
            bytes,
            expected,
        }
    }

    fn len(&self) -> usize {
        self.bytes
    }

    /// Runs every writer on its own thread, `write(bytes, offset)` per
    /// block, all released at once by a barrier; calls `started` just
    /// before and returns once every writer is done.
    fn run(&self, started: impl FnOnce(), write: impl Fn(&[u8], u64) + Sync) {
        let go = Barrier::new(self.writers.len() + 1);
        thread::scope(|s| {
            for order in &self.writers {
                let (write, go) = (&write, &go);
                s.spawn(move || {
                    go.wait();
                    for &b in order {
                        let at = b * self.block;
                        write(&self.expected[at..at + self.block], at as u64);
                    }
                });
            }
            // Before the release: a writer may be done before this thread
            // runs again.
            started();
            go.wait();
        });
    }

    /// Both files hold exactly the workload's bytes (and are removed).
    fn check(&self, fast: &Path, slow: &Path) {
        for path in [fast, slow] {
            let got = std::fs::read(path).unwrap();
            assert!(
                got == self.expected,
                "{} differs from what was written",
                path.display()
            );
            std::fs::remove_file(path).unwrap();
        }
    }
}

/// One round of one contender.
struct Round {
    /// Until the last write returned.
    written: Duration,
    /// Until both members have everything, synced.
    synced: Duration,
    /// `write_at` calls the slow member got.
    slow_calls: u64,
}

struct Settings {
    delay: Duration,
    /// The lag bound in bytes; 0 for `WriteBehind::new()`'s.
    lag: u64,
}

impl Settings {
    fn write_behind(&self) -> WriteBehind {
        match self.lag {
            0 => WriteBehind::new(),
            bytes => WriteBehind::new().lag_bytes(bytes),
        }
    }
}

fn mirror_round(w: &Workload, dir: &Path, round: usize, s: &Settings) -> Round {
    let (fast_path, slow_path) = (
        dir.join(format!("m{round}-fast")),
        dir.join(format!("m{round}-slow")),
    );
    let slow = Arc::new(Slow::create(&slow_path, s.delay));
    let mirror = Mirror::builder()
        .synchronous(File::create_new(&fast_path).unwrap())
        .write_behind(slow.clone(), s.write_behind())
        .build()
        .unwrap();
    let start = Cell::new(Instant::now());
    w.run(
        || start.set(Instant::now()),
        |buf, at| mirror.write_all_at(buf, at).unwrap(),
    );
    let start = start.get();
    let written = start.elapsed();
    for outcome in mirror.close() {
        outcome.unwrap();
    }
    let synced = start.elapsed();
    assert!(mirror.health().iter().all(|h| h.is_healthy()));
    drop(mirror);
    w.check(&fast_path, &slow_path);
    Round {
        written,
        synced,
        slow_calls: slow.writes.load(Ordering::Relaxed),
    }
}

fn tee_round(w: &Workload, dir: &Path, round: usize, s: &Settings) -> Round {
    let (fast_path, slow_path) = (
        dir.join(format!("t{round}-fast")),
        dir.join(format!("t{round}-slow")),
    );
    let fast = File::create_new(&fast_path).unwrap();
    let slow = Slow::create(&slow_path, s.delay);
    let start = Cell::new(Instant::now());
    w.run(
        || start.set(Instant::now()),
        |buf, at| {
            FileExt::write_all_at(&fast, buf, at).unwrap();
            Member::write_all_at(&slow, buf, at).unwrap();
        },
    );
    let start = start.get();
    let written = start.elapsed();
    fast.sync_all().unwrap();
    slow.sync().unwrap();
    let synced = start.elapsed();
    w.check(&fast_path, &slow_path);
    Round {
        written,
        synced,
        slow_calls: slow.writes.load(Ordering::Relaxed),
    }
}

/// Median and min-max of `values`.
fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    let m = median(values);
    (m, values[0], values[values.len() - 1])
}

fn mb_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / took.as_secs_f64() / 1e6
}

fn writes(workloads: &[Workload], dir: &Path, reps: usize, s: &Settings) {
    println!(
        "| workload | mirror MB/s: last write returned / closed | tee MB/s: last write returned / synced | mirror / tee: closed vs synced (min-max) | mirror / tee: last write (min-max) | ms after the last write: mirror's close / tee's syncs | slow member's write_at calls: mirror (min-max) / tee |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for w in workloads {
        let (mut mw, mut ms, mut tw, mut ts) = (vec![], vec![], vec![], vec![]);
        let (mut synced_ratio, mut written_ratio) = (vec![], vec![]);
        let (mut m_tail, mut t_tail, mut calls) = (vec![], vec![], vec![]);
        let mut tee_calls = 0;
        for round in 0..reps {
            let (m, t) = if round % 2 == 0 {
                let m = mirror_round(w, dir, round, s);
                (m, tee_round(w, dir, round, s))
            } else {
                let t = tee_round(w, dir, round, s);
                (mirror_round(w, dir, round, s), t)
            };
            mw.push(mb_per_s(w.len(), m.written));
            ms.push(mb_per_s(w.len(), m.synced));
            tw.push(mb_per_s(w.len(), t.written));
            ts.push(mb_per_s(w.len(), t.synced));
            synced_ratio.push(t.synced.as_secs_f64() / m.synced.as_secs_f64());
            written_ratio.push(t.written.as_secs_f64() / m.written.as_secs_f64());
            m_tail.push((m.synced - m.written).as_secs_f64() * 1e3);
            t_tail.push((t.synced - t.written).as_secs_f64() * 1e3);
            calls.push(m.slow_calls as f64);
            tee_calls = t.slow_calls;
            eprint!("\r  {}: round {}/{reps}", w.name, round + 1);
        }
        eprintln!();
        let (r, rlo, rhi) = spread(&mut synced_ratio);
        let (q, qlo, qhi) = spread(&mut written_ratio);
        let (c, clo, chi) = spread(&mut calls);
        println!(
            "| {} | {:.1} / {:.1} | {:.1} / {:.1} | {r:.2}x ({rlo:.2}-{rhi:.2}) | {q:.1}x ({qlo:.1}-{qhi:.1}) | {:.1} / {:.1} | {c:.0} ({clo:.0}-{chi:.0}) / {tee_calls} |",
            w.name,
            median(&mut mw),
            median(&mut ms),
            median(&mut tw),
            median(&mut ts),
            median(&mut m_tail),
            median(&mut t_tail),
        );
    }
}

/// Reads the whole file into `dst`, `block` bytes per call of `read`.
fn read_pass(dst: &mut [u8], block: usize, read: &impl Fn(&mut [u8], u64) -> io::Result<usize>) {
    let mut at = 0;
    while at < dst.len() {
        let end = (at + block).min(dst.len());
        let n = read(&mut dst[at..end], at as u64).unwrap();
        assert!(n > 0, "the file ended early");
        at += n;
    }
}

/// Reads `passes` times; the MB/s, after checking the last pass.
fn timed_reads(
    expected: &[u8],
    dst: &mut [u8],
    block: usize,
    passes: usize,
    read: impl Fn(&mut [u8], u64) -> io::Result<usize>,
) -> f64 {
    dst.fill(0);
    let start = Instant::now();
    for _ in 0..passes {
        read_pass(dst, block, &read);
    }
    let took = start.elapsed();
    assert!(dst == expected, "read back other bytes than the file holds");
    mb_per_s(expected.len() * passes, took)
}

fn reads(dir: &Path, bytes: usize, read_bytes: usize, reps: usize, s: &Settings) {
    let expected = data(bytes, 0x6a09_e667_f3bc_c908);
    let fast = Arc::new(File::create_new(dir.join("read-fast")).unwrap());
    FileExt::write_all_at(&*fast, &expected, 0).unwrap();
    let slow = Arc::new(Slow::create(&dir.join("read-slow"), s.delay));
    FileExt::write_all_at(&slow.file, &expected, 0).unwrap();
    let mirror = Mirror::builder()
        .synchronous(fast.clone())
        .write_behind(slow.clone(), s.write_behind())
        .build()
        .unwrap();
    let passes = (read_bytes / bytes).max(1);
    let mut dst = vec![0; bytes];
    println!(
        "\n| reads | Mirror::read_at (MB/s) | FileExt::read_at on the fast file | mirror / file (min-max) |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for block in [4 << 10, 64 << 10] {
        let via_mirror = |buf: &mut [u8], at| mirror.read_at(buf, at);
        let direct = |buf: &mut [u8], at| FileExt::read_at(&*fast, buf, at);
        // One untimed pass each: both from the page cache, as in every round.
        timed_reads(&expected, &mut dst, block, 1, via_mirror);
        timed_reads(&expected, &mut dst, block, 1, direct);
        let (mut ours, mut file, mut ratios) = (vec![], vec![], vec![]);
        for round in 0..reps {
            let (a, b) = if round % 2 == 0 {
                let a = timed_reads(&expected, &mut dst, block, passes, via_mirror);
                (a, timed_reads(&expected, &mut dst, block, passes, direct))
            } else {
                let b = timed_reads(&expected, &mut dst, block, passes, direct);
                (
                    timed_reads(&expected, &mut dst, block, passes, via_mirror),
                    b,
                )
            };
            ours.push(a);
            file.push(b);
            ratios.push(a / b);
        }
        let (r, lo, hi) = spread(&mut ratios);
        println!(
            "| {} KiB, {} MiB file x {passes} | {:.0} | {:.0} | {r:.2}x ({lo:.2}-{hi:.2}) |",
            block >> 10,
            bytes >> 20,
            median(&mut ours),
            median(&mut file),
        );
    }
    assert_eq!(
        slow.reads.load(Ordering::Relaxed),
        0,
        "the slow member was read"
    );
    assert_eq!(slow.writes.load(Ordering::Relaxed), 0);
    for outcome in mirror.close() {
        outcome.unwrap();
    }
}

fn main() {
    let reps = setting("reps", 7);
    let mib = setting("mib", 4);
    let random_mib = setting("random-mib", 1);
    let span_mib = setting("span-mib", 64);
    let read_mib = setting("read-mib", 256);
    let block = setting("block-kib", 4) << 10;
    let s = Settings {
        delay: Duration::from_micros(setting("delay-us", 1000) as u64),
        lag: (setting("lag-kib", 0) as u64) << 10,
    };
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    println!(
        "mirror: a fast file (synchronous) and a slow one ({:?} per write_at, write-behind, lag bound {}) against a sequential tee; {} KiB writes; {reps} alternating rounds\n",
        s.delay,
        match s.lag {
            0 => "WriteBehind::new()'s".to_string(),
            bytes => format!("{} KiB", bytes >> 10),
        },
        block >> 10
    );
    let workloads = [
        Workload::new(1, mib << 20, None, block),
        Workload::new(4, mib << 20, None, block),
        Workload::new(1, random_mib << 20, Some(span_mib << 20), block),
        Workload::new(4, random_mib << 20, Some(span_mib << 20), block),
    ];
    writes(&workloads, dir.path(), reps, &s);
    reads(dir.path(), mib << 20, read_mib << 20, reps, &s);
}
