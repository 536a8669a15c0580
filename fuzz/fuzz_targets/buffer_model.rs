//! `mwsr::Buffer<u8, _>` with a sink that records each batch, driven by
//! `write`, `write_v`, `flush` (and the `io::Write` forms: `write_all`,
//! `write_vectored`, `write!`), with a random capacity and, optionally, a
//! sink that fails on its `n`th call.
//!
//! Checked, from the docs:
//! - after each `flush` and at the end, the sink has exactly the
//!   concatenation of every write, in order;
//! - every call's bytes are contiguous, and a call of at most `capacity`
//!   bytes arrives in one batch;
//! - batches are never empty and hold at most `capacity` bytes, except a
//!   part of `capacity` bytes or more, which goes to the sink whole, straight
//!   from the caller;
//! - a buffer only flushes when a write does not fit, or when asked to, and
//!   `flush` does not call the sink when nothing is buffered; a write of
//!   `capacity` or more first flushes what is buffered, then its parts:
//!   large ones whole, small ones gathered in batches of `capacity` (an
//!   exact model of the batches, single-threaded);
//! - a sink error is sticky: the call that hit it and every later one (but
//!   empty writes) return the same error, and the sink is never called
//!   again; what reached the sink is a prefix of what was written;
//! - `stats()` counts the batches and bytes delivered, and the accepted
//!   bytes dropped with a failed batch.
#![no_main]

use std::cell::RefCell;
use std::io::{self, IoSlice, Write};
use std::rc::Rc;
use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mwsr::{Buffer, Error};
use mwsr_fuzz::payload;

#[derive(Arbitrary, Debug)]
struct Input {
    /// `1 + n % 600` (`n % 8` more often, to make tiny capacities common).
    capacity: u16,
    /// The sink fails on this call (0-based), if any.
    fail_at: Option<u8>,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Write { len: u16, seed: u8 },
    WriteV { parts: Vec<(u16, u8)> },
    Flush,
    IoWriteAll { len: u16, seed: u8 },
    IoWriteVectored { parts: Vec<(u16, u8)> },
    IoWriteFmt { a: u32, b: u16 },
    Stats,
}

type Batches = Rc<RefCell<Vec<Vec<u8>>>>;

/// The sink the model predicts: the batches it gets, and the one it fails.
#[derive(Debug, Default)]
struct Model {
    capacity: usize,
    fail_at: Option<usize>,
    /// Batches delivered (successfully), as the buffer must deliver them.
    batches: Vec<Vec<u8>>,
    /// Sink calls made, the failed one included.
    calls: usize,
    failed: bool,
    /// Bytes buffered, not yet handed to the sink.
    buffered: Vec<u8>,
    /// Accepted bytes that never reached a successful sink call: the
    /// buffered batch the sink failed on (`Stats::items_dropped`).
    dropped: u64,
}

impl Model {
    /// The sink receives `batch`; `false` if it fails.
    fn deliver(&mut self, batch: &[u8]) -> bool {
        assert!(!batch.is_empty());
        let call = self.calls;
        self.calls += 1;
        if self.fail_at == Some(call) {
            self.failed = true;
            self.buffered.clear(); // dropped with the failed buffer
            return false;
        }
        self.batches.push(batch.to_vec());
        true
    }

    fn flush(&mut self) -> bool {
        if self.failed {
            return false;
        }
        if self.buffered.is_empty() {
            return true;
        }
        let batch = std::mem::take(&mut self.buffered);
        let ok = self.deliver(&batch);
        if !ok {
            self.dropped += batch.len() as u64;
        }
        ok
    }

    /// A write of `parts`; `Ok(len)` or `Err(())` for the sticky error.
    fn write(&mut self, parts: &[Vec<u8>]) -> Result<usize, ()> {
        let n: usize = parts.iter().map(Vec::len).sum();
        if n == 0 {
            return Ok(0); // at once, even after a failure
        }
        if self.failed {
            return Err(());
        }
        if n < self.capacity {
            // Buffered: the writer that finds the buffer full flushes it.
            if self.buffered.len() + n > self.capacity && !self.flush() {
                return Err(());
            }
            for p in parts {
                self.buffered.extend_from_slice(p);
            }
            return Ok(n);
        }
        // Too large for one batch: what is buffered first, then the parts,
        // large ones straight from the caller, small ones gathered.
        if !self.flush() {
            return Err(());
        }
        let mut staging = Vec::new();
        for p in parts {
            if p.len() >= self.capacity {
                if !staging.is_empty() && !self.deliver(&std::mem::take(&mut staging)) {
                    return Err(());
                }
                if !self.deliver(p) {
                    return Err(());
                }
                continue;
            }
            let mut rest = &p[..];
            while !rest.is_empty() {
                let k = rest.len().min(self.capacity - staging.len());
                staging.extend_from_slice(&rest[..k]);
                rest = &rest[k..];
                if staging.len() == self.capacity && !self.deliver(&std::mem::take(&mut staging)) {
                    return Err(());
                }
            }
        }
        if !staging.is_empty() && !self.deliver(&staging) {
            return Err(());
        }
        Ok(n)
    }
}

fn parts_of(spec: &[(u16, u8)], capacity: usize) -> Vec<Vec<u8>> {
    spec.iter()
        .take(8)
        .map(|&(len, seed)| payload(usize::from(len) % (2 * capacity + 3), seed))
        .collect()
}

/// What one call wrote: where its bytes start in the stream, how many, and
/// whether it had to arrive in one batch.
struct Call {
    start: usize,
    len: usize,
    one_batch: bool,
    /// Lengths of its parts, for the "whole part" exception.
    parts: Vec<usize>,
}

fuzz_target!(|input: Input| {
    let capacity = if input.capacity & 0x8000 != 0 {
        1 + usize::from(input.capacity) % 8
    } else {
        1 + usize::from(input.capacity) % 600
    };
    let batches = Batches::default();
    let sink_batches = batches.clone();
    let fail_at = input.fail_at.map(usize::from);
    let mut sink_calls = 0;
    let buf = Buffer::new(capacity, move |batch: &[u8]| -> io::Result<()> {
        let call = sink_calls;
        sink_calls += 1;
        if fail_at == Some(call) {
            return Err(io::Error::other("sink failed"));
        }
        sink_batches.borrow_mut().push(batch.to_vec());
        Ok(())
    });
    assert_eq!(buf.capacity(), capacity);
    let mut m = Model {
        capacity,
        fail_at,
        ..Model::default()
    };
    let mut written = Vec::new(); // every byte of every successful call
    let mut calls: Vec<Call> = Vec::new();
    let mut sticky: Option<Arc<io::Error>> = None;
    let mut failing_call: Option<Vec<u8>> = None;
    // The call whose sink call failed, if a write's did.
    let mut failing: Option<Call> = None;

    for op in input.ops.iter().take(64) {
        let parts: Vec<Vec<u8>> = match op {
            Op::Write { len, seed } | Op::IoWriteAll { len, seed } => {
                vec![payload(usize::from(*len) % (3 * capacity + 2), *seed)]
            }
            Op::WriteV { parts } | Op::IoWriteVectored { parts } => parts_of(parts, capacity),
            Op::IoWriteFmt { a, b } => vec![format!("{a}:{b:x}\n").into_bytes()],
            Op::Flush | Op::Stats => Vec::new(),
        };
        let before = batches.borrow().len();
        let buffered_before = m.buffered.len();
        let ok = match op {
            Op::Flush => {
                let want = m.flush();
                match buf.flush() {
                    Ok(()) => {
                        assert!(want, "flush succeeded where the sink fails");
                        assert!(m.buffered.is_empty());
                    }
                    Err(e) => {
                        assert!(!want, "flush failed: {e}");
                        check_error(e, &mut sticky);
                    }
                }
                if buffered_before == 0 {
                    assert_eq!(
                        batches.borrow().len(),
                        before,
                        "flush of nothing called the sink"
                    );
                }
                None
            }
            Op::Stats => {
                let s = buf.stats();
                let got = batches.borrow();
                assert_eq!(s.batches_flushed, got.len() as u64);
                assert_eq!(
                    s.items_flushed,
                    got.iter().map(Vec::len).sum::<usize>() as u64
                );
                assert_eq!(
                    s.largest_batch,
                    got.iter().map(Vec::len).max().unwrap_or(0) as u64
                );
                assert_eq!(s.try_write_refusals, 0);
                assert_eq!(s.items_dropped, m.dropped, "items_dropped");
                assert_eq!(buf.is_closed(), m.failed);
                None
            }
            Op::Write { .. } => Some(buf.write(&parts[0])),
            Op::WriteV { .. } => Some(buf.write_v(&parts)),
            Op::IoWriteAll { .. } => Some(
                (&buf)
                    .write_all(&parts[0])
                    .map(|()| parts[0].len())
                    .map_err(unwrap_io),
            ),
            Op::IoWriteVectored { .. } => {
                let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
                Some((&buf).write_vectored(&slices).map_err(unwrap_io))
            }
            Op::IoWriteFmt { a, b } => Some(
                writeln!(&buf, "{a}:{b:x}")
                    .map(|()| parts[0].len())
                    .map_err(unwrap_io),
            ),
        };
        let Some(result) = ok else {
            continue;
        };
        let total: usize = parts.iter().map(Vec::len).sum();
        let failed_before = m.failed;
        let want = m.write(&parts);
        if !failed_before && m.failed {
            failing_call = Some(parts.concat());
            failing = Some(Call {
                start: written.len(),
                len: total,
                one_batch: false,
                parts: parts.iter().map(Vec::len).collect(),
            });
        }
        match (result, want) {
            (Ok(n), Ok(w)) => {
                assert_eq!(n, w);
                assert_eq!(n, total, "a write returns its whole length");
                calls.push(Call {
                    start: written.len(),
                    len: total,
                    one_batch: total <= capacity,
                    parts: parts.iter().map(Vec::len).collect(),
                });
                for p in &parts {
                    written.extend_from_slice(p);
                }
            }
            (Err(e), Err(())) => check_error(e, &mut sticky),
            (got, want) => panic!(
                "write of {total} bytes (capacity {capacity}, {buffered_before} buffered): \
                 got {got:?}, model {want:?}"
            ),
        }
        // The batches are exactly the model's (which only flushes when a
        // write does not fit, or for a write too large for one batch).
        assert_eq!(
            *batches.borrow(),
            m.batches,
            "batches differ from the model"
        );
    }

    let ok = m.flush();
    match buf.flush() {
        Ok(()) => assert!(ok, "the final flush succeeded where the sink fails"),
        Err(e) => {
            assert!(!ok, "the final flush failed: {e}");
            check_error(e, &mut sticky);
        }
    }
    assert_eq!(
        *batches.borrow(),
        m.batches,
        "batches differ from the model"
    );
    let delivered = batches.borrow().concat();
    // Every batch: non-empty, within the capacity unless it is one whole
    // part of at least the capacity; every call of at most the capacity in
    // one batch.
    let got = batches.borrow().clone();
    let mut bounds = Vec::new(); // batch start offsets in the stream
    let mut at = 0;
    for b in &got {
        assert!(!b.is_empty(), "an empty batch");
        bounds.push(at);
        at += b.len();
        if b.len() > capacity {
            let whole_part = calls.iter().chain(&failing).any(|c| {
                let mut start = c.start;
                c.parts.iter().any(|&p| {
                    let hit = start == bounds[bounds.len() - 1] && p == b.len();
                    start += p;
                    hit
                })
            });
            assert!(
                whole_part,
                "a batch of {} > capacity {capacity} that is no whole part",
                b.len()
            );
        }
    }
    for c in calls
        .iter()
        .filter(|c| c.one_batch && c.start + c.len <= delivered.len())
    {
        let cut = bounds.iter().any(|&b| c.start < b && b < c.start + c.len);
        assert!(
            !cut,
            "a call of {} bytes (capacity {capacity}) split over batches",
            c.len
        );
    }

    if ok {
        // No failure: after a flush, the sink has everything.
        assert_eq!(delivered, written, "the sink lost or reordered bytes");
    } else {
        // What reached the sink is a prefix of what was written (and maybe
        // of the call that failed).
        let mut attempted = written.clone();
        if let Some(f) = &failing_call {
            attempted.extend_from_slice(f);
        }
        assert!(
            attempted.starts_with(&delivered),
            "the sink got bytes nobody wrote"
        );
        assert!(buf.flush().is_err(), "the sink error is sticky");
        assert!(buf.is_closed());
    }
    // Every accepted byte was flushed or dropped, but for the bytes of the
    // failed call that reached the sink before it failed.
    let s = buf.stats();
    assert_eq!(s.items_dropped, m.dropped, "items_dropped");
    let early = (delivered.len() as u64 + s.items_dropped)
        .checked_sub(written.len() as u64)
        .expect("accepted bytes neither flushed nor dropped");
    assert!(early <= failing.as_ref().map_or(0, |c| c.len) as u64);
    let (_, flushed) = buf.into_inner();
    assert_eq!(flushed.is_ok(), ok);
    assert_eq!(
        *batches.borrow(),
        m.batches,
        "into_inner called the sink again"
    );
});

/// The sticky error is the first sink error, every time.
fn check_error(e: Error<io::Error>, sticky: &mut Option<Arc<io::Error>>) {
    match e {
        Error::Sink(arc) => match sticky {
            None => *sticky = Some(arc),
            Some(first) => assert!(
                Arc::ptr_eq(first, &arc),
                "a sink error other than the first"
            ),
        },
        other => panic!("unexpected error {other:?}"),
    }
}

/// The `mwsr::Error` inside an `io::Error` from the `io::Write` impls.
fn unwrap_io(e: io::Error) -> Error<io::Error> {
    assert_eq!(e.kind(), io::ErrorKind::Other, "the sink's error kind: {e}");
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error<io::Error>>())
        .unwrap_or_else(|| panic!("an io::Error without the mwsr::Error: {e}"))
        .clone()
}
