//! A file mirrored on a fast member (a file in a temporary directory) and a
//! slow one (a file behind a wrapper that sleeps 1 ms in every `write_at`,
//! as a disk far away would): what a write-behind member buys, reads from
//! the fast member, and a member failing and coming back.
//!
//! 1. The same 2 MiB of 4 KiB writes with the slow member synchronous
//!    (every write waits for it) and write-behind (its flusher thread
//!    writes it, adjacent queued writes as one call); both files checked.
//! 2. Reading the file back through the mirror: from the fast member only.
//! 3. Three members (fast, a member that fails on demand, the slow one
//!    write-behind) under `Policy::Degrade { min_healthy: 2 }`: the second
//!    one starts failing, the mirror reports it (`on_failure`, `health`,
//!    `stats`) and writes go on; `resync` brings it back and `replace` puts
//!    a new slow member in place of the old one, both while another thread
//!    keeps rewriting the file. At the end every member's file hashes the
//!    same as the expected content.
//!
//! Everything is checked with `assert!`; the timings are only printed.
//!
//! ```text
//! cargo run --release --example mirror
//! ```

use std::error::Error;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mwsr::mirror::{Failure, Health, Member, Mirror, Op, Policy, WriteBehind};

/// Every write is one block.
const BLOCK: usize = 4096;
/// Blocks in the file: 2 MiB.
const BLOCKS: usize = 512;
/// What the slow member waits in every `write_at`.
const DELAY: Duration = Duration::from_millis(1);

/// A file that takes [`DELAY`] longer for every `write_at`, and counts its
/// calls.
struct Slow {
    file: File,
    writes: AtomicU64,
    reads: AtomicU64,
}

impl Slow {
    fn create(path: &Path) -> io::Result<Self> {
        Ok(Self {
            file: File::create_new(path)?,
            writes: AtomicU64::new(0),
            reads: AtomicU64::new(0),
        })
    }
}

impl Member for Slow {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        // ORDERING: a statistic, read once the mirror is done.
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.file.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        thread::sleep(DELAY);
        self.file.write_at(buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn len(&self) -> io::Result<u64> {
        Member::len(&self.file)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

/// A file whose writes fail while [`failing`](Self::failing) is set, as a
/// disk that went away and came back.
struct Flaky {
    file: File,
    failing: AtomicBool,
}

impl Member for Flaky {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::other("the disk went away"));
        }
        self.file.write_at(buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn len(&self) -> io::Result<u64> {
        Member::len(&self.file)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

/// Block `i` as written in pass `pass`: every byte says which it is.
fn block(i: usize, pass: u64) -> Vec<u8> {
    let mut b = vec![0; BLOCK];
    let mut state = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ pass;
    for word in b.chunks_exact_mut(8) {
        // xorshift64: nothing like a pattern a bug could reproduce.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        word.copy_from_slice(&state.to_le_bytes());
    }
    b
}

/// The whole file as pass `pass` leaves it.
fn content(pass: u64) -> Vec<u8> {
    (0..BLOCKS).flat_map(|i| block(i, pass)).collect()
}

/// Writes blocks `blocks` of pass `pass` through `mirror`, in order.
fn write_blocks(mirror: &Mirror, blocks: Range<usize>, pass: u64) -> io::Result<()> {
    for i in blocks {
        mirror.write_all_at(&block(i, pass), (i * BLOCK) as u64)?;
    }
    Ok(())
}

/// Writes every block of pass `pass` through `mirror`, in order.
fn write_pass(mirror: &Mirror, pass: u64) -> io::Result<()> {
    write_blocks(mirror, 0..BLOCKS, pass)
}

/// The CRC-32C of the file at `path`.
fn hash(path: &Path) -> io::Result<u32> {
    Ok(crc32c::crc32c(&std::fs::read(path)?))
}

/// A member's state, in a few words.
fn describe(health: &Health) -> String {
    match health {
        Health::Healthy => "healthy".into(),
        Health::Resyncing => "resyncing".into(),
        Health::Failed { at, error } => format!("failed, first write missed at {at} ({error})"),
    }
}

fn mb_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / took.as_secs_f64() / 1e6
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let expected = content(0);
    let total = BLOCKS * BLOCK;
    println!(
        "{} KiB in {BLOCKS} writes of {} KiB; the slow member sleeps {DELAY:?} per write_at\n",
        total >> 10,
        BLOCK >> 10
    );

    // 1. Writing, with the slow member synchronous and write-behind.
    for write_behind in [false, true] {
        let name = if write_behind {
            "write-behind"
        } else {
            "synchronous"
        };
        let fast_path = dir.path().join(format!("fast-{name}"));
        let slow_path = dir.path().join(format!("slow-{name}"));
        let slow = Arc::new(Slow::create(&slow_path)?);
        let builder = Mirror::builder().synchronous(File::create_new(&fast_path)?);
        let mirror = match write_behind {
            true => builder.write_behind(slow.clone(), WriteBehind::new()),
            false => builder.synchronous(slow.clone()),
        }
        .build()?;
        let start = Instant::now();
        write_pass(&mirror, 0)?;
        let written = start.elapsed();
        for outcome in mirror.close() {
            outcome?; // drained and synced
        }
        let closed = start.elapsed();
        let stats = mirror.stats();
        assert!(stats.iter().all(|s| s.bytes_written == total as u64));
        assert!(stats.iter().all(|s| s.health.is_healthy() && s.errors == 0));
        assert_eq!(std::fs::read(&fast_path)?, expected);
        assert_eq!(std::fs::read(&slow_path)?, expected);
        let calls = slow.writes.load(Ordering::Relaxed);
        if !write_behind {
            assert_eq!(calls, BLOCKS as u64, "one call per write");
        }
        println!(
            "slow member {name:>12}: {:>7.1} MB/s until the last write returned, {:>7.1} MB/s until close; the slow member got {calls} write_at calls",
            mb_per_s(total, written),
            mb_per_s(total, closed),
        );
    }

    // 2. Reading: from the fast member, never the slow one.
    {
        let fast_path = dir.path().join("fast-read");
        let slow = Arc::new(Slow::create(&dir.path().join("slow-read"))?);
        let mirror = Mirror::builder()
            .write_behind(slow.clone(), WriteBehind::new())
            .synchronous(File::create_new(&fast_path)?)
            .build()?; // reads go to the first synchronous member
        write_pass(&mirror, 0)?;
        mirror.sync_all()?;
        let mut back = vec![0; total];
        let passes = 64;
        let start = Instant::now();
        for _ in 0..passes {
            for (i, chunk) in back.chunks_mut(BLOCK).enumerate() {
                mirror.read_exact_at(chunk, (i * BLOCK) as u64)?;
            }
        }
        let took = start.elapsed();
        assert_eq!(back, expected);
        assert_eq!(
            slow.reads.load(Ordering::Relaxed),
            0,
            "the slow one is never read"
        );
        for outcome in mirror.close() {
            outcome?;
        }
        println!(
            "reads of {} KiB through the mirror: {:.0} MB/s, all from the fast member\n",
            BLOCK >> 10,
            mb_per_s(total * passes, took)
        );
    }

    // 3. A member fails; resync and replace bring the mirror back.
    let paths: Vec<_> = ["fast", "flaky", "slow", "new-slow"]
        .iter()
        .map(|name| dir.path().join(name))
        .collect();
    let flaky = Arc::new(Flaky {
        file: File::create_new(&paths[1])?,
        failing: AtomicBool::new(false),
    });
    let failures = Arc::new(Mutex::new(Vec::<Failure>::new()));
    let reported = failures.clone();
    let mirror = Mirror::builder()
        .synchronous(File::create_new(&paths[0])?)
        .synchronous(flaky.clone())
        .write_behind(Slow::create(&paths[2])?, WriteBehind::new())
        .policy(Policy::Degrade { min_healthy: 2 })
        .on_failure(move |f| reported.lock().unwrap().push(f.clone()))
        .build()?;

    write_pass(&mirror, 0)?;
    let half = BLOCKS / 2;
    write_blocks(&mirror, 0..half, 1)?;
    flaky.failing.store(true, Ordering::SeqCst);
    // Goes on: two healthy members are left, as the policy needs.
    write_blocks(&mirror, half..BLOCKS, 1)?;
    let missed = (half * BLOCK) as u64; // the first write member 1 missed
    {
        let failures = failures.lock().unwrap();
        assert_eq!(failures.len(), 1, "reported once");
        let f = &failures[0];
        assert_eq!((f.member, f.op, f.offset), (1, Op::Write, missed));
        assert!(f.member_failed);
        println!(
            "on_failure: member {} failed in a {:?} at offset {}: {}",
            f.member, f.op, f.offset, f.error
        );
    }
    let health = mirror.health();
    assert!(health[0].is_healthy() && health[2].is_healthy());
    assert!(matches!(health[1], Health::Failed { at, .. } if at == missed));
    let stats = mirror.stats();
    assert_eq!(stats[1].errors, 1, "a failed member is not written again");
    assert_eq!(stats[1].bytes_written, missed + total as u64);
    assert_eq!(stats[0].bytes_written, 2 * total as u64);
    for (i, s) in stats.iter().enumerate() {
        println!(
            "  member {i}: {}; {} KiB written, {} KiB queued, {} errors",
            describe(&s.health),
            s.bytes_written >> 10,
            s.lag_bytes >> 10,
            s.errors
        );
    }

    flaky.failing.store(false, Ordering::SeqCst);
    // Resync the failed member, then replace the slow one with a new slow
    // file, while another thread keeps rewriting the whole file.
    let done = AtomicBool::new(false);
    let last_pass = thread::scope(|s| -> Result<u64, Box<dyn Error>> {
        let writer = s.spawn(|| -> io::Result<u64> {
            let mut pass = 2;
            loop {
                write_pass(&mirror, pass)?;
                if done.load(Ordering::SeqCst) {
                    return Ok(pass);
                }
                pass += 1;
            }
        });
        let resynced = mirror.resync(1);
        let new_slow = Slow::create(&paths[3]);
        let replaced = new_slow.and_then(|slow| mirror.replace(2, slow));
        done.store(true, Ordering::SeqCst);
        let last = writer.join().expect("the writer panicked")?;
        resynced?;
        replaced?;
        Ok(last)
    })?;
    assert!(mirror.health().iter().all(Health::is_healthy));
    println!(
        "resync(1) and replace(2) done while another thread rewrote the whole file (passes 2 to {last_pass}): all {} members healthy",
        mirror.len()
    );

    let outcomes = mirror.close();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(failures.lock().unwrap().len(), 1, "nothing else failed");
    let want = crc32c::crc32c(&content(last_pass));
    for path in [&paths[0], &paths[1], &paths[3]] {
        let got = hash(path)?;
        assert_eq!(got, want, "{} differs", path.display());
    }
    println!(
        "members 0, 1 and 2 (the new file) all hash to {want:08x}, the content of pass {last_pass}"
    );
    println!("\ndone in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
