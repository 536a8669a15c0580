//! Many writers, random pieces, random order, a window much smaller than
//! the payload: the reader must see exactly the payload.

use std::io::{BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mwsr::pipe::{self, Error, Reader, Writer};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};

const WRITERS: usize = 8;

/// Cuts `len` bytes into random pieces of at most `max_piece` bytes. The
/// pieces are shuffled within groups that each span at most `group_span`
/// bytes, and handed out group after group.
///
/// With a window, that bound on the disorder is what guarantees progress:
/// every piece handed out lies within the group being written, the group's
/// start is at or before the reader's position, and the group fits in the
/// window, so no writer waits on a byte that only a waiting writer could
/// supply. (Fully random order can deadlock any bounded pipe: every writer
/// holding a piece far ahead while the piece at the gap waits in a queue.)
fn shuffled_pieces(
    rng: &mut StdRng,
    len: usize,
    max_piece: usize,
    group_span: usize,
) -> Vec<(usize, usize)> {
    let mut pieces = Vec::new();
    let mut at = 0;
    while at < len {
        let group_end = (at + group_span).min(len);
        let group_start = pieces.len();
        while at < group_end {
            let n = rng.random_range(1..=max_piece).min(group_end - at);
            pieces.push((at, n));
            at += n;
        }
        pieces[group_start..].shuffle(rng);
    }
    pieces
}

/// Writes `pieces` of `payload` from `WRITERS` threads, each taking the next
/// piece from a shared cursor; some pieces are written again later (as a
/// retried range is), which must change nothing.
fn write_from_threads(
    writer: Writer,
    payload: Arc<Vec<u8>>,
    pieces: Vec<(usize, usize)>,
    seed: u64,
) {
    let pieces = Arc::new(pieces);
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..WRITERS)
        .map(|t| {
            let (writer, payload, pieces, next) = (
                writer.clone(),
                payload.clone(),
                pieces.clone(),
                next.clone(),
            );
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed + t as u64);
                let mut retries = Vec::new();
                loop {
                    // ORDERING: a counter handing out indices; the pieces
                    // themselves are shared read-only data.
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(at, n)) = pieces.get(i) else { break };
                    // Sometimes in two calls, second half first.
                    let cut = if n > 1 && rng.random_bool(0.3) {
                        rng.random_range(1..n)
                    } else {
                        n
                    };
                    for (from, to) in [(cut, n), (0, cut)] {
                        if from >= to {
                            continue;
                        }
                        let (start, bytes) = (at + from, &payload[at + from..at + to]);
                        if rng.random_bool(0.5) {
                            writer.write_all_at(bytes, start as u64).unwrap();
                        } else {
                            // In place, piece by piece.
                            let fill = |off: u64, buf: &mut [u8]| {
                                let i = off as usize - start;
                                buf.copy_from_slice(&bytes[i..i + buf.len()]);
                                Ok(())
                            };
                            writer.write_with(start as u64, bytes.len(), fill).unwrap();
                        }
                    }
                    if rng.random_bool(0.05) {
                        retries.push((at, n));
                    }
                    if let Some((at, n)) = retries.pop().filter(|_| rng.random_bool(0.5)) {
                        retry(&writer, &payload[at..at + n], at as u64);
                    }
                }
            })
        })
        .collect();
    drop(writer);
    for t in threads {
        t.join().unwrap();
    }
}

/// Writes a range again: either it is still buffered (first write wins, so
/// nothing changes) or already read (refused as below the position).
fn retry(writer: &Writer, bytes: &[u8], at: u64) {
    match writer.write_at(bytes, at) {
        Ok(n) => assert_eq!(n, bytes.len()),
        Err(e) => assert!(
            matches!(pipe::Error::of(&e), Some(Error::BelowConsumed { .. })),
            "{e}"
        ),
    }
}

/// Reads to the end with random read sizes, some through `BufRead`, hashing
/// as it goes (the reader keeps nothing). Returns the length and CRC-32C.
fn read_hashed(reader: &mut Reader, seed: u64) -> (usize, u32) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf = vec![0; 256 * 1024];
    let (mut len, mut crc) = (0, 0);
    loop {
        let n = if rng.random_bool(0.3) {
            let bytes = reader.fill_buf().unwrap();
            if bytes.is_empty() {
                break;
            }
            let n = rng.random_range(0..=bytes.len());
            crc = crc32c::crc32c_append(crc, &bytes[..n]);
            reader.consume(n);
            n
        } else {
            let want = rng.random_range(1..=buf.len());
            let n = reader.read(&mut buf[..want]).unwrap();
            if n == 0 {
                break;
            }
            crc = crc32c::crc32c_append(crc, &buf[..n]);
            n
        };
        len += n;
    }
    (len, crc)
}

fn run(len: usize, window: Option<usize>, max_piece: usize, group_span: usize, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut payload = vec![0; len];
    rng.fill_bytes(&mut payload);
    let expected = crc32c::crc32c(&payload);
    let pieces = shuffled_pieces(&mut rng, len, max_piece, group_span);
    let (mut reader, writer) = match window {
        Some(w) => pipe::pipe(w),
        None => pipe::unbounded(),
    };
    let payload = Arc::new(payload);
    let writers = std::thread::spawn(move || write_from_threads(writer, payload, pieces, seed));
    let got = read_hashed(&mut reader, seed);
    writers.join().unwrap();
    assert_eq!(got, (len, expected));
    if let Some(w) = window {
        // The window, in quarter-window pages of at most 64 KiB, plus two.
        let page = (w / 4).min(64 * 1024);
        let peak = reader.stats().peak_allocated;
        assert!(
            peak <= w + 2 * page,
            "{peak} bytes held for a {w}-byte window"
        );
    }
}

#[test]
fn eight_writers_64_mib_through_a_1_mib_window() {
    run(64 << 20, Some(1 << 20), 64 * 1024, 512 * 1024, 1);
}

#[test]
fn eight_writers_fully_shuffled_through_an_unbounded_pipe() {
    // No window: any order makes progress.
    run(8 << 20, None, 16 * 1024, usize::MAX, 2);
}

#[test]
fn eight_writers_through_a_tiny_window_with_pieces_larger_than_it() {
    // Pieces up to 4x the window: each goes in as room appears.
    run(1 << 20, Some(4096), 16 * 1024, 4096, 3);
}
