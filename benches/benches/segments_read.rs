//! Workload 9, reading segments back: `mwsr::segments::Reader` reads a
//! stream of 1 MiB segments end to end, against a `BufReader<File>` with
//! the same 64 KiB buffer reading one file of the same bytes. Both are
//! drained through `BufRead` (`fill_buf`, CRC-32C of the chunk, `consume`),
//! from the page cache (the files were just written), so this measures
//! what reading across segments costs: opening and listing them, and one
//! more copy or not.
//!
//! Contenders alternate for `--reps` rounds, the order swapped every round;
//! prints the medians and the median of the per-round ratios. Every round's
//! bytes are counted and checksummed against what was written.
//!
//! ```text
//! cargo bench --bench segments_read [-- --mib 256 --reps 15]
//! ```

#[path = "../../examples/support/mod.rs"]
mod support;

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use mwsr::segments::{Reader, Writer};
use support::{median, min_max, setting};

const SEGMENT: u64 = 1 << 20;
const LINE: usize = 100;

/// Bytes read and their CRC-32C: what every round must reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Check {
    len: u64,
    crc: u32,
}

/// Reads `input` to the end; returns what it read and how long that took.
fn drain(open: impl FnOnce() -> Box<dyn BufRead>) -> (Check, Duration) {
    let started = Instant::now();
    let mut input = open();
    let mut check = Check { len: 0, crc: 0 };
    loop {
        let chunk = input.fill_buf().unwrap();
        if chunk.is_empty() {
            return (check, started.elapsed());
        }
        check.crc = crc32c::crc32c_append(check.crc, chunk);
        check.len += chunk.len() as u64;
        let n = chunk.len();
        input.consume(n);
    }
}

/// Writes `bytes` of numbered 100-byte lines as a stream of segments in
/// `segments` and as one file `single`; returns their check and the number
/// of segments.
fn write_both(segments: &Path, single: &Path, bytes: u64) -> (Check, u64) {
    let stream = Writer::builder()
        .segment_size(SEGMENT)
        .open(segments)
        .unwrap();
    // Large writes, as the segments get (the page cache may keep them in
    // larger folios, which are faster to read).
    let mut file =
        BufWriter::with_capacity(Writer::DEFAULT_CAPACITY, File::create(single).unwrap());
    let mut check = Check { len: 0, crc: 0 };
    let mut line = [b'.'; LINE];
    line[LINE - 1] = b'\n';
    for seq in 0..bytes / LINE as u64 {
        line[..20].copy_from_slice(format!("{seq:020}").as_bytes());
        stream.append(&line).unwrap();
        file.write_all(&line).unwrap();
        check.crc = crc32c::crc32c_append(check.crc, &line);
        check.len += LINE as u64;
    }
    stream.close().unwrap();
    file.flush().unwrap();
    (check, stream.stats().segments_created)
}

fn main() {
    let mib = setting("mib", 256) as u64;
    let reps = setting("reps", 15);
    let capacity = Reader::DEFAULT_CAPACITY;
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (segments, single) = (dir.path().join("stream"), dir.path().join("single.log"));
    let (expected, count) = write_both(&segments, &single, mib << 20);
    let segments_reader = || -> Box<dyn BufRead> { Box::new(Reader::open(&segments).unwrap()) };
    let file_reader = || -> Box<dyn BufRead> {
        Box::new(BufReader::with_capacity(
            capacity,
            File::open(&single).unwrap(),
        ))
    };
    println!(
        "segments_read: {mib} MiB in {count} segments of {} KiB against one file, {} KiB buffers; {reps} alternating rounds\n",
        SEGMENT >> 10,
        capacity >> 10
    );
    // One untimed pass each: both in the page cache, as in every round.
    assert_eq!(drain(segments_reader).0, expected);
    assert_eq!(drain(file_reader).0, expected);

    let (mut ours, mut peer, mut ratios) = (vec![], vec![], vec![]);
    for rep in 0..reps {
        let rate = |(check, took): (Check, Duration)| {
            assert_eq!(check, expected, "read back other bytes than were written");
            check.len as f64 / took.as_secs_f64() / 1e6
        };
        let (a, b) = if rep % 2 == 0 {
            let a = rate(drain(segments_reader));
            (a, rate(drain(file_reader)))
        } else {
            let b = rate(drain(file_reader));
            (rate(drain(segments_reader)), b)
        };
        ours.push(a);
        peer.push(b);
        ratios.push(a / b);
    }
    let (lo, hi) = min_max(&ratios);
    println!("| segments::Reader | BufReader<File> | ratio (min-max) |");
    println!("| --- | --- | --- |");
    println!(
        "| {:.0} MB/s | {:.0} MB/s | {:.2}x ({lo:.2}-{hi:.2}) |",
        median(&mut ours),
        median(&mut peer),
        median(&mut ratios),
    );
}
