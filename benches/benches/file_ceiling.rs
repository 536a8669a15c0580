//! What bounds the log-to-file workload (4) on a given machine: the
//! kernel's cost of one 64 KiB append to a new file, against the cost of
//! filling 64 KiB with 100-byte lines. A `Mutex<BufWriter<File>>` fills and
//! writes one after the other; a double buffer at best overlaps the fills
//! with the writes, so no buffer can lead it by more than
//! `(append + fill) / append` once the file is the bottleneck.
//!
//! `cargo bench --bench file_ceiling [-- --reps 5 --mib 512]`

#[path = "../../examples/support/mod.rs"]
mod support;

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use support::{median, min_max, setting};

const CHUNK: usize = 64 * 1024;
const LINE: usize = 100;

/// Microseconds per `CHUNK`-byte `write_all` of `bytes` in total to `file`.
fn append(file: &mut File, bytes: usize) -> f64 {
    let chunk = vec![b'x'; CHUNK];
    let n = bytes / CHUNK;
    let start = Instant::now();
    for _ in 0..n {
        file.write_all(&chunk).unwrap();
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// Microseconds to fill a `CHUNK`-byte buffer with `LINE`-byte lines, one
/// `extend_from_slice` each, as a `BufWriter` does.
fn fill() -> f64 {
    let line = [b'y'; LINE];
    let mut buf = Vec::with_capacity(CHUNK);
    let n = 20_000;
    let start = Instant::now();
    for _ in 0..n {
        buf.clear();
        while buf.len() + LINE <= CHUNK {
            buf.extend_from_slice(black_box(&line));
        }
        black_box(&buf);
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let reps = setting("reps", 5);
    let bytes = setting("mib", 512) << 20;
    let dir = tempfile::tempdir().unwrap();
    let (mut new, mut over, mut filled) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        let path = dir.path().join(format!("log{rep}"));
        let mut file = File::create(&path).unwrap();
        new.push(append(&mut file, bytes));
        // The same bytes again over the file just written: no allocation.
        let mut file = File::options().write(true).open(&path).unwrap();
        over.push(append(&mut file, bytes));
        drop(file);
        std::fs::remove_file(&path).unwrap();
        filled.push(fill());
    }
    println!(
        "file ceiling: {reps} reps of {} MiB in 64 KiB writes",
        bytes >> 20
    );
    println!("| step | µs per 64 KiB (median) | min-max |");
    println!("| --- | ---: | ---: |");
    for (name, values) in [
        ("append to a new file", &mut new),
        ("overwrite the same file", &mut over),
        ("fill with 100-byte lines", &mut filled),
    ] {
        let (lo, hi) = min_max(values);
        println!("| {name} | {:.2} | {lo:.2}-{hi:.2} |", median(values));
    }
    let (a, f) = (median(&mut new), median(&mut filled));
    println!(
        "a buffer that overlaps fills with appends leads Mutex<BufWriter<File>> by at most {:.2}x here",
        (a + f) / a
    );
}
