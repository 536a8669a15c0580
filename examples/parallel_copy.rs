//! Copies a large file by reading ranges in parallel into a `mwsr::pipe`,
//! while one thread streams the pipe into the destination and hashes it,
//! as a parallel ranged download feeding a sequential consumer does.
//!
//! Each worker takes the next range and reads it with `FileExt::read_at`
//! straight into the pipe's memory at its offset (`write_with`, so there is
//! no buffer of its own and no extra copy); ranges finish out of order,
//! and the pipe hands the consumer the bytes in order. The window bounds
//! how far the workers can get ahead, so memory stays at the window however
//! large the file. The consumer streams straight from the pipe's pages
//! (`BufRead`), and both copies are checked against the source's CRC-32C.
//!
//! Compared, in alternating rounds, with a plain sequential `io::copy`
//! (8 KiB reads) and `io::copy` through a `BufReader` of one range. The
//! source is in the page cache, so this measures the copying, not the disk;
//! on storage or a network with latency per request, parallel ranges gain
//! far more.
//!
//! ```text
//! cargo run --release --example parallel_copy [-- --mib 256 --threads <cores> --range-kib 1024 --window-mib 8 --reps 3]
//! ```

mod support;

use std::error::Error;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mwsr::pipe;
use support::{median, setting};

/// A writer that keeps a CRC-32C of everything written through it.
struct Hashing<W> {
    inner: W,
    crc: u32,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `len` bytes of pseudo-random data; returns their CRC-32C.
fn make_source(path: &Path, len: u64) -> io::Result<u32> {
    let mut out = io::BufWriter::new(File::create(path)?);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut block = vec![0u8; 1 << 20];
    let mut crc = 0;
    let mut left = len;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            // xorshift64: fast, and nothing like a pattern a bug could mimic.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        crc = crc32c::crc32c_append(crc, &block[..n]);
        left -= n as u64;
    }
    out.into_inner()?.sync_all()?;
    Ok(crc)
}

struct Settings {
    threads: usize,
    range: usize,
    window: usize,
}

/// The parallel copy: workers read ranges into the pipe; this thread
/// streams the pipe into `dst`. Returns the destination's CRC-32C.
fn parallel_copy(src: &Path, dst: &Path, s: &Settings) -> io::Result<u32> {
    let src = File::open(src)?;
    let len = src.metadata()?.len();
    let (mut reader, writer) = pipe::pipe(s.window);
    let next = AtomicU64::new(0);
    let mut out = Hashing {
        inner: File::create(dst)?,
        crc: 0,
    };
    std::thread::scope(|scope| {
        for _ in 0..s.threads {
            let (writer, src, next) = (writer.clone(), &src, &next);
            scope.spawn(move || {
                loop {
                    // ORDERING: only hands out distinct range numbers;
                    // the bytes travel through the pipe, which synchronises.
                    let at = next.fetch_add(s.range as u64, Ordering::Relaxed);
                    if at >= len {
                        return;
                    }
                    let n = (len - at).min(s.range as u64) as usize;
                    // `read_at` straight into the pipe's memory: no buffer
                    // of our own, no extra copy.
                    let read = writer.write_with(at, n, |at, buf| src.read_exact_at(buf, at));
                    if let Err(e) = read {
                        // The consumer gets the failure, not a short file
                        // (if it has gone, this changes nothing).
                        writer.close_with_error(e);
                        return;
                    }
                }
            });
        }
        // The workers' clones close the write side when the last one ends.
        drop(writer);
        loop {
            let bytes = reader.fill_buf()?;
            if bytes.is_empty() {
                return Ok::<(), io::Error>(());
            }
            let n = bytes.len();
            out.write_all(bytes)?;
            reader.consume(n);
        }
    })?;
    if reader.position() != len {
        return Err(io::Error::other("the copy is short"));
    }
    Ok(out.crc)
}

fn sequential_copy(src: &Path, dst: &Path, buffer: Option<usize>) -> io::Result<u32> {
    let mut out = Hashing {
        inner: File::create(dst)?,
        crc: 0,
    };
    let src = File::open(src)?;
    match buffer {
        None => io::copy(&mut &src, &mut out)?,
        Some(cap) => io::copy(&mut BufReader::with_capacity(cap, src), &mut out)?,
    };
    Ok(out.crc)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn mb_per_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / 1e6 / time.as_secs_f64().max(1e-9)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mib = setting("mib", 256) as u64;
    let reps = setting("reps", 3).max(1);
    let s = Settings {
        // Here the source is in memory, so more threads than cores only
        // compete; over a network, threads hide latency and more pay off.
        threads: setting("threads", cores()).max(1),
        range: setting("range-kib", 1024).max(1) * 1024,
        window: setting("window-mib", 8).max(1) << 20,
    };
    let dir = tempfile::tempdir()?;
    let (src, dst) = (dir.path().join("source"), dir.path().join("copy"));
    let len = mib << 20;
    let expected = make_source(&src, len)?;
    println!(
        "copying {mib} MiB: {} threads reading {} KiB ranges through a {} MiB window; {reps} rounds",
        s.threads,
        s.range / 1024,
        s.window >> 20
    );

    type Copy<'a> = Box<dyn Fn() -> io::Result<u32> + 'a>;
    let ways: [(&str, Copy); 3] = [
        (
            "pipe, parallel read_at",
            Box::new(|| parallel_copy(&src, &dst, &s)),
        ),
        ("io::copy", Box::new(|| sequential_copy(&src, &dst, None))),
        (
            "io::copy, BufReader of a range",
            Box::new(|| sequential_copy(&src, &dst, Some(s.range))),
        ),
    ];
    let mut speeds = vec![Vec::new(); ways.len()];
    for _ in 0..reps {
        for ((name, copy), speeds) in ways.iter().zip(&mut speeds) {
            std::fs::remove_file(&dst).ok();
            let start = Instant::now();
            let crc = copy()?;
            let time = start.elapsed();
            if crc != expected || std::fs::metadata(&dst)?.len() != len {
                return Err(format!("{name}: the copy differs from the source").into());
            }
            speeds.push(mb_per_s(len, time));
        }
    }
    let base = median(&mut speeds[1].clone());
    for ((name, _), speeds) in ways.iter().zip(&mut speeds) {
        let mb = median(speeds);
        println!(
            "{name:>32}: {mb:>7.0} MB/s  ({:.2}x io::copy)  every copy checked: CRC-32C {expected:08x}",
            mb / base
        );
    }
    Ok(())
}
