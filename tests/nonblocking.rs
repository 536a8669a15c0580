//! Writes that never wait: `try_write_slice`/`try_write_v` on `AsyncBuffer`,
//! `try_write`/`try_write_v` on `Buffer` (all or nothing, the data handed
//! back), and lossy mode (a write that would wait is dropped whole and
//! counted, never torn).

mod common;

use std::sync::{Arc, Mutex};
use std::thread;

use common::{Gate, LineChecker, line_body};
use mwsr::{AsyncBuffer, Buffer, TryWriteError, WriteSink};

type Seen = Arc<Mutex<Vec<u8>>>;

/// A sink that waits at `gate` on every call and records the bytes.
fn gated(
    gate: &Arc<Gate>,
) -> (
    Seen,
    impl FnMut(&[u8]) -> std::io::Result<()> + Send + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (gate, sink_seen) = (gate.clone(), seen.clone());
    (seen, move |batch: &[u8]| {
        gate.pass();
        sink_seen.lock().unwrap().extend_from_slice(batch);
        Ok(())
    })
}

/// With the sink stuck on one batch, `try_write_slice` fills the buffer
/// and is then refused, handing the slice back, and none of a refused
/// slice ever reaches the sink.
#[test]
fn try_write_slice_is_all_or_nothing_when_the_buffer_is_full() {
    let gate = Arc::new(Gate::default());
    let (seen, sink) = gated(&gate);
    let buf = AsyncBuffer::new(8, sink);
    buf.write_slice(b"0").unwrap();
    gate.wait_entered(1); // the flusher is stuck in the sink with "0"
    let mut accepted = b"0".to_vec();
    let mut refused = 0;
    for (i, run) in [b"abc", b"def", b"ghi", b"jkl", b"mno", b"pqr"]
        .iter()
        .enumerate()
    {
        match buf.try_write_slice(&run[..]) {
            Ok(n) => {
                assert_eq!(n, 3);
                accepted.extend_from_slice(&run[..]);
            }
            Err(TryWriteError::Full(back)) => {
                assert_eq!(back, &run[..], "run {i} not handed back as it was");
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    // One half is in the sink; the other holds two runs of 3 (8 - 3 < 3),
    // and the role is held by the stuck flusher, so no swap can happen.
    assert_eq!(accepted.len(), 1 + 2 * 3);
    assert_eq!(refused, 4);
    assert_eq!(buf.stats().try_write_refusals, 4);
    // A run longer than the capacity never fits without the sink.
    assert!(buf.try_write_slice(&[b'x'; 8]).unwrap_err().is_full());
    gate.open();
    buf.close().unwrap();
    assert_eq!(*seen.lock().unwrap(), accepted);
    assert!(matches!(
        buf.try_write_slice(b"late"),
        Err(TryWriteError::Closed(b"late"))
    ));
}

#[test]
fn try_write_v_is_all_or_nothing_when_the_buffer_is_full() {
    let gate = Arc::new(Gate::default());
    let (seen, sink) = gated(&gate);
    let buf = AsyncBuffer::new(8, sink);
    buf.write(b'0').unwrap();
    gate.wait_entered(1);
    let parts: [&[u8]; 3] = [b"ab", b"cd", b"ef"];
    assert_eq!(buf.try_write_v(&parts).unwrap(), 6);
    let back = buf.try_write_v(&parts).unwrap_err();
    assert!(back.is_full());
    assert_eq!(back.into_inner(), &parts, "the parts are handed back");
    gate.open();
    buf.close().unwrap();
    assert_eq!(&*seen.lock().unwrap(), b"0abcdef");
}

#[test]
fn try_write_slice_reports_a_failed_sink() {
    let buf = AsyncBuffer::new(8, |_: &[u8]| Err::<(), _>(std::io::Error::other("gone")));
    buf.write(1).unwrap();
    let _ = buf.flush();
    match buf.try_write_slice(b"abc") {
        Err(TryWriteError::Failed(back, mwsr::Error::Sink(_))) => assert_eq!(back, b"abc"),
        other => panic!("{other:?}"),
    }
}

/// Many threads racing `try_write_slice` against a real flusher: every
/// accepted run arrives whole, in its thread's order; refused runs never.
#[test]
fn concurrent_try_write_slices_arrive_whole_or_not_at_all() {
    const THREADS: usize = 4;
    const LINES: usize = 5000;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    let buf = AsyncBuffer::from_fn(256, move |batch| {
        sink_seen.lock().unwrap().extend_from_slice(batch);
        thread::yield_now(); // a slow sink: refusals happen
        Ok::<_, std::io::Error>(())
    });
    let accepted: usize = thread::scope(|s| {
        let writers: Vec<_> = (0..THREADS)
            .map(|w| {
                let buf = buf.clone();
                s.spawn(move || {
                    (0..LINES)
                        .filter(|&n| {
                            let line = format!("{}\n", line_body(w, n));
                            buf.try_write_slice(line.as_bytes()).is_ok()
                        })
                        .count()
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    buf.close().unwrap();
    let mut lines = LineChecker::lossy(THREADS);
    lines.feed(std::str::from_utf8(&seen.lock().unwrap()).unwrap());
    assert_eq!(
        lines.total(),
        accepted,
        "accepted and delivered lines differ"
    );
    let refused = buf.stats().try_write_refusals as usize;
    assert_eq!(accepted + refused, THREADS * LINES);
}

#[test]
fn buffer_try_write_never_calls_the_sink() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink_calls = calls.clone();
    let buf = Buffer::new(4, move |batch: &[u8]| {
        sink_calls.lock().unwrap().push(batch.to_vec());
        Ok::<(), std::io::Error>(())
    });
    assert_eq!(buf.try_write(b"ab").unwrap(), 2);
    assert_eq!(buf.try_write(b"cd").unwrap(), 2); // fills the first half
    assert_eq!(buf.try_write(b"ef").unwrap(), 2); // it is set aside
    assert_eq!(buf.try_write(b"gh").unwrap(), 2);
    let back = buf.try_write(b"ij").unwrap_err();
    assert!(back.is_full());
    assert_eq!(back.into_inner(), b"ij");
    assert!(buf.try_write_v(&[b"i", b"j"]).unwrap_err().is_full());
    assert!(buf.try_write(b"toolong").unwrap_err().is_full());
    assert!(calls.lock().unwrap().is_empty(), "try_write ran the sink");
    assert_eq!(buf.stats().try_write_refusals, 3);
    // A blocking write flushes both halves, the set-aside one first.
    buf.write(b"kl").unwrap();
    buf.flush().unwrap();
    assert_eq!(calls.lock().unwrap().concat(), b"abcdefghkl");
    assert!(calls.lock().unwrap().iter().all(|batch| batch.len() <= 4));
}

/// Lossy mode: with the sink stuck, `writeln!` drops whole lines and
/// returns at once; once the sink moves, every line that arrives is whole,
/// and lines delivered plus lines dropped is every line written.
#[test]
fn lossy_mode_drops_whole_lines_and_counts_them() {
    const THREADS: usize = 4;
    const LINES: usize = 3000;
    let gate = Arc::new(Gate::default());
    let (seen, sink) = gated(&gate);
    let log = AsyncBuffer::builder()
        .capacity(1024)
        .lossy(true)
        .build(sink)
        .unwrap();
    let mut bytes = 0;
    thread::scope(|s| {
        let writers: Vec<_> = (0..THREADS)
            .map(|w| {
                let log = log.clone();
                s.spawn(move || {
                    let mut bytes = 0;
                    for n in 0..LINES {
                        let line = line_body(w, n);
                        writeln!(log, "{line}").unwrap(); // never waits
                        bytes += line.len() + 1;
                    }
                    bytes
                })
            })
            .collect();
        bytes = writers.into_iter().map(|w| w.join().unwrap()).sum();
    });
    // Every writer finished although the sink never returned once: the
    // lines that found no room were dropped.
    let dropped = log.stats().writes_dropped;
    assert!(dropped > 0);
    gate.open();
    log.close().unwrap();
    let stats = log.stats();
    let mut lines = LineChecker::lossy(THREADS);
    lines.feed(std::str::from_utf8(&seen.lock().unwrap()).unwrap());
    assert_eq!(
        lines.total() as u64 + stats.writes_dropped,
        (THREADS * LINES) as u64
    );
    assert_eq!(stats.items_flushed + stats.items_dropped, bytes as u64);
    assert_eq!(stats.try_write_refusals, 0, "lossy drops are not refusals");
}

#[test]
fn lossy_mode_drops_a_write_larger_than_the_capacity_whole() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink_out = out.clone();
    let log = AsyncBuffer::builder()
        .capacity(16)
        .lossy(true)
        .build_fn(move |batch| {
            sink_out.lock().unwrap().extend_from_slice(batch);
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
    writeln!(log, "{}", "x".repeat(40)).unwrap();
    writeln!(log, "short").unwrap();
    log.close().unwrap();
    assert_eq!(&*out.lock().unwrap(), b"short\n");
    assert_eq!(log.stats().writes_dropped, 1);
    assert_eq!(log.stats().items_dropped, 41);
}

/// Lossy mode is for `io::Write`: the explicit calls keep their meaning,
/// and a closed buffer is still an error, not a silent drop.
#[test]
fn lossy_mode_keeps_explicit_writes_lossless_and_reports_closed() {
    let log = AsyncBuffer::builder()
        .capacity(4)
        .lossy(true)
        .build(WriteSink::new(Vec::new()))
        .unwrap();
    for _ in 0..100 {
        log.write_slice(b"abc").unwrap(); // waits for room instead
    }
    log.close().unwrap();
    assert_eq!(log.stats().items_flushed, 300);
    assert_eq!(log.stats().writes_dropped, 0);
    for late in ["a", "later"] {
        // Fitting or not, a write to a closed buffer is an error.
        let err = writeln!(log, "{late}").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    }
    assert_eq!(log.stats().writes_dropped, 0);
}
