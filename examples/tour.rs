//! A short walk through `mwsr`: many threads write into one `Buffer`, each
//! batch reaches the sink whole, `write_v` keeps multi-part messages together,
//! a failing sink is reported rather than hidden, and an `AsyncBuffer`'s
//! background thread batches single items, with its stats, writes lines
//! from many threads (each holding a clone of the handle) into a file, and
//! in lossy mode drops whole lines rather than make a thread wait.
//!
//! Run with `cargo run --release --example tour`.

use std::convert::Infallible;
use std::sync::Mutex;
use std::thread;
use std::time::Instant;

fn main() {
    batching_many_writers();
    scatter_gather();
    failures_are_reported();
    async_items_and_stats();
    lines_into_a_file().expect("a temporary file");
    never_waiting();
}

/// Four threads write 64-byte messages; the sink counts batches and bytes.
fn batching_many_writers() {
    const THREADS: usize = 4;
    const MESSAGES: usize = 250_000;
    let stats = Mutex::new((0usize, 0usize, 0u64)); // batches, bytes, checksum
    let buf = mwsr::Buffer::new(64 * 1024, |batch: &[u8]| {
        let mut s = stats.lock().unwrap();
        s.0 += 1;
        s.1 += batch.len();
        s.2 = batch
            .iter()
            .fold(s.2, |c, &b| c.wrapping_mul(31).wrapping_add(u64::from(b)));
        Ok::<(), Infallible>(())
    });
    let started = Instant::now();
    thread::scope(|s| {
        for id in 0..THREADS {
            let buf = &buf;
            s.spawn(move || {
                let mut msg = [b'.'; 64];
                msg[0] = b'0' + id as u8;
                msg[63] = b'\n';
                for _ in 0..MESSAGES {
                    buf.write(&msg).unwrap();
                }
            });
        }
    });
    buf.flush().unwrap();
    let elapsed = started.elapsed();
    drop(buf);
    let (batches, bytes, _) = *stats.lock().unwrap();
    assert_eq!(bytes, THREADS * MESSAGES * 64, "every byte arrived");
    println!(
        "1. Buffer: {THREADS} threads wrote {} messages of 64 B",
        THREADS * MESSAGES
    );
    println!(
        "   {batches} sink calls ({:.0} messages per call), {:.1} M messages/s",
        (THREADS * MESSAGES) as f64 / batches as f64,
        (THREADS * MESSAGES) as f64 / elapsed.as_secs_f64() / 1e6,
    );
}

/// Header, body and trailer written as one unit from several threads.
fn scatter_gather() {
    let out = Mutex::new(Vec::new());
    let buf = mwsr::Buffer::new(256, |batch: &[u8]| {
        out.lock().unwrap().extend_from_slice(batch);
        Ok::<(), Infallible>(())
    });
    thread::scope(|s| {
        for id in 0..3u8 {
            let buf = &buf;
            s.spawn(move || {
                for n in 0..100u8 {
                    let body = [b'a' + id; 20];
                    buf.write_v(&[&[b'<', b'0' + id][..], &body, &[n, b'>']])
                        .unwrap();
                }
            });
        }
    });
    buf.flush().unwrap();
    drop(buf);
    let out = out.into_inner().unwrap();
    // Every message is `<` id body(20) n `>`: 24 bytes, never interleaved.
    let whole = out.chunks(24).all(|m| {
        m[0] == b'<' && m[23] == b'>' && m[2..22].iter().all(|&b| b == b'a' + (m[1] - b'0'))
    });
    assert!(whole && out.len() == 300 * 24);
    println!("2. write_v: 300 three-part messages from 3 threads, every one whole: {whole}");
}

/// The sink fails on its second batch: that call and every later one say so.
fn failures_are_reported() {
    let mut calls = 0;
    let buf = mwsr::Buffer::new(4, |_: &[u32]| {
        calls += 1;
        if calls == 2 { Err("disk full") } else { Ok(()) }
    });
    buf.write(&[1, 2, 3]).unwrap();
    buf.write(&[4, 5]).unwrap(); // flushes [1, 2, 3]
    let err = buf.write(&[6, 7, 8]).unwrap_err(); // flushes [4, 5]: fails
    let later = buf.write(&[9]).unwrap_err();
    println!("3. a failing sink: \"{err}\", and the next write gets \"{later}\"");
}

/// Four threads write single items to an `AsyncBuffer`; its thread sums them.
fn async_items_and_stats() {
    const THREADS: u64 = 4;
    const ITEMS: u64 = 500_000;
    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sum = total.clone();
    let q = mwsr::AsyncBuffer::new(4096, move |batch: &[u64]| {
        // ORDERING: Relaxed: read after `close()` joined the flusher thread.
        sum.fetch_add(
            batch.iter().sum::<u64>(),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok::<(), Infallible>(())
    });
    let started = Instant::now();
    thread::scope(|s| {
        for id in 0..THREADS {
            let q = &q;
            s.spawn(move || {
                for i in 0..ITEMS {
                    q.write(id * ITEMS + i).unwrap();
                }
            });
        }
    });
    q.flush().unwrap();
    let elapsed = started.elapsed();
    let stats = q.stats();
    q.close().unwrap();
    let n = THREADS * ITEMS;
    assert_eq!(
        total.load(std::sync::atomic::Ordering::Relaxed),
        n * (n - 1) / 2,
        "every item, once"
    );
    println!(
        "4. AsyncBuffer: {THREADS} threads wrote {n} items, {:.1} M items/s",
        n as f64 / elapsed.as_secs_f64() / 1e6
    );
    println!(
        "   {} batches (largest {}, {:.0} items on average), writers waited {} times",
        stats.batches_flushed,
        stats.largest_batch,
        stats.items_flushed as f64 / stats.batches_flushed as f64,
        stats.writer_waits,
    );
}

/// `with_writer`: an `AsyncBuffer` in front of a file; each thread owns a
/// clone of the handle; `writeln!` formats a whole line and writes it at
/// once, so lines from four threads never tear.
fn lines_into_a_file() -> std::io::Result<()> {
    const THREADS: usize = 4;
    const LINES: usize = 10_000;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("tour.log");
    let log = mwsr::AsyncBuffer::with_writer(16 * 1024, std::fs::File::create(&path)?);
    let writers: Vec<_> = (0..THREADS)
        .map(|id| {
            let log = log.clone(); // a cheap handle, as crossbeam's `Sender`
            thread::spawn(move || {
                for n in 0..LINES {
                    writeln!(log, "thread {id} says hello for the {n}th time").unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    log.close()?;
    let text = std::fs::read_to_string(&path)?;
    let whole = text.lines().all(|l| {
        l.strip_prefix("thread ")
            .and_then(|l| l.split_once(" says hello for the "))
            .is_some_and(|(id, rest)| id.len() == 1 && rest.ends_with("th time"))
    });
    assert!(whole, "a torn line");
    assert_eq!(text.lines().count(), THREADS * LINES, "lines in the file");
    println!(
        "5. with_writer: {THREADS} threads wrote {} lines to a file in {} batches (one write_all each); every line checked whole",
        THREADS * LINES,
        log.stats().batches_flushed
    );
    Ok(())
}

/// Lossy mode: the sink is slow, and logging threads must never wait for
/// it; a line that finds no room is dropped whole and counted.
fn never_waiting() {
    const THREADS: usize = 4;
    const LINES: usize = 20_000;
    let out = std::sync::Arc::new(Mutex::new(Vec::new()));
    let sink_out = out.clone();
    let log = mwsr::AsyncBuffer::builder()
        .capacity(16 * 1024)
        .lossy(true)
        .build_fn(move |batch| {
            thread::sleep(std::time::Duration::from_millis(1)); // a slow disk: 16 MB/s
            sink_out.lock().unwrap().extend_from_slice(batch);
            Ok::<_, std::io::Error>(())
        })
        .expect("a flusher thread");
    let started = Instant::now();
    thread::scope(|s| {
        for id in 0..THREADS {
            let log = &log;
            s.spawn(move || {
                for n in 0..LINES {
                    writeln!(log, "thread {id} line {n}").unwrap(); // never waits
                }
            });
        }
    });
    let burst = started.elapsed();
    log.close().unwrap();
    let stats = log.stats();
    let out = out.lock().unwrap();
    let text = std::str::from_utf8(&out).expect("whole lines only");
    let delivered = text.lines().count() as u64;
    assert!(
        text.lines()
            .all(|l| l.starts_with("thread ") && l.contains(" line "))
    );
    assert_eq!(delivered + stats.writes_dropped, (THREADS * LINES) as u64);
    println!(
        "6. lossy mode: a burst of {} lines in {:.1} ms into a 16 MB/s sink: no writer waited; {delivered} lines delivered whole, {} dropped whole and counted",
        THREADS * LINES,
        burst.as_secs_f64() * 1e3,
        stats.writes_dropped
    );
}
