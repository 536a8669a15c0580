//! `mwsr::pipe` driven single-threaded by a list of operations, against a
//! model of what the docs say the reader must see.
//!
//! The model: bytes at or past the reader's position are free or filled
//! (single-threaded, no write is ever in flight between operations); the
//! first write of a byte wins; `write_at` below the position fails whole,
//! `write_with` writes the part at or past it; `fill` is called, in order,
//! for exactly the free pieces of its range, each within one page, and a
//! failed `fill` leaves its piece and the rest free; `read` returns as many
//! contiguous bytes as fit; after the write side closes, the rest, then end
//! of file or `Gap`, or the error given to `close_with_error`; after the
//! reader closes, writes fail with `ReaderClosed` (`WriteClosed` first).
//!
//! Nothing may block: a write is clipped to the window (a write past
//! `position + window` would wait for the reader), and a read is skipped
//! when the model says nothing is readable and the write side is open.
#![no_main]

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mwsr::pipe::{self, Error};

#[derive(Arbitrary, Debug)]
struct Input {
    window: Window,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Window {
    Unbounded,
    /// `1 + n % 4096` bytes.
    Bounded(u16),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Off {
    /// An absolute offset.
    At(u16),
    /// Relative to the reader's position (below it when negative).
    Position(i8),
    /// `u64::MAX - n`: huge offsets and overflow.
    Huge(u16),
}

#[derive(Arbitrary, Debug)]
enum Op {
    WriteAt {
        h: u8,
        off: Off,
        len: u16,
        seed: u8,
    },
    WriteAllAt {
        h: u8,
        off: Off,
        len: u16,
        seed: u8,
    },
    /// `write_with`, whose `fill` fails on its `fail_at`th call.
    WriteWith {
        h: u8,
        off: Off,
        len: u16,
        seed: u8,
        fail_at: Option<u8>,
    },
    Read(u16),
    /// `fill_buf`, then `consume` part of it.
    FillBuf(u16),
    Close(u8),
    CloseWithError {
        h: u8,
        kind: u8,
    },
    CloseReader,
    Clone(u8),
    Drop(u8),
    Stats,
}

/// The byte a write with `seed` puts at `at`.
fn byte(seed: u8, at: u64) -> u8 {
    (at as u8).wrapping_mul(73).wrapping_add(seed) ^ ((at >> 8) as u8)
}

#[derive(Debug, Clone)]
enum End {
    Open,
    Closed,
    Failed(io::ErrorKind, String),
}

struct Model {
    window: Option<u64>,
    page: u64,
    consumed: u64,
    /// Filled bytes at or past `consumed`.
    filled: BTreeMap<u64, u8>,
    end: End,
    reader_closed: bool,
}

impl Model {
    fn refusal(&self) -> Option<Error> {
        if !matches!(self.end, End::Open) {
            Some(Error::WriteClosed)
        } else if self.reader_closed {
            Some(Error::ReaderClosed)
        } else {
            None
        }
    }

    /// The offset (`off` resolved) and length of a write, clipped so that
    /// it cannot block: its end at most `consumed + window`. Overflowing
    /// writes are left alone (they fail at once).
    fn place(&self, off: Off, len: u16) -> (u64, usize) {
        let off = match off {
            Off::At(n) => u64::from(n),
            Off::Position(d) => self.consumed.saturating_add_signed(i64::from(d)),
            Off::Huge(n) => u64::MAX - u64::from(n),
        };
        let len = usize::from(len) % 2048;
        if off.checked_add(len as u64).is_none() {
            return (off, len);
        }
        let limit = self
            .consumed
            .saturating_add(self.window.unwrap_or(u64::MAX));
        (off, len.min(limit.saturating_sub(off) as usize))
    }

    /// Bytes readable at the position.
    fn run(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut at = self.consumed;
        while let Some(&b) = self.filled.get(&at) {
            out.push(b);
            at += 1;
        }
        out
    }

    fn consume(&mut self, n: usize) {
        for _ in 0..n {
            let b = self.filled.remove(&self.consumed);
            assert!(b.is_some(), "model: consumed an unfilled byte");
            self.consumed += 1;
        }
    }

    /// What a read must return once nothing is readable: `None` while it
    /// would block.
    fn end_of_reads(&self) -> Option<Result<(), EndError>> {
        match &self.end {
            End::Open => None,
            End::Closed if self.filled.is_empty() => Some(Ok(())),
            End::Closed => {
                let stranded = self.filled.len() as u64;
                let furthest = *self.filled.keys().next_back().unwrap() + 1;
                let gap = Error::Gap {
                    offset: self.consumed,
                    missing: furthest - self.consumed - stranded,
                    stranded,
                };
                Some(Err(EndError {
                    kind: io::ErrorKind::UnexpectedEof,
                    error: Some(gap),
                    text: None,
                }))
            }
            End::Failed(kind, text) => Some(Err(EndError {
                kind: *kind,
                error: None,
                text: Some(text.clone()),
            })),
        }
    }

    fn close_writes(&mut self, end: End) {
        if matches!(self.end, End::Open) {
            self.end = end;
        }
    }
}

/// Checks that `e` is the pipe error `want`.
fn is(e: &io::Error, want: &Error) {
    assert_eq!(Error::of(e), Some(want), "{e}");
    assert_eq!(e.kind(), want.kind());
}

/// The error a read must get at the end: its kind, and the pipe error or
/// the text it carries.
#[derive(Debug)]
struct EndError {
    kind: io::ErrorKind,
    error: Option<Error>,
    text: Option<String>,
}

/// Checks a read's error against what the model expects.
fn check_end_error(e: &io::Error, want: &EndError) {
    assert_eq!(e.kind(), want.kind, "{e}");
    if let Some(err) = &want.error {
        is(e, err);
    }
    if let Some(text) = &want.text {
        assert_eq!(&e.to_string(), text);
    }
}

fn check_stats(m: &Model, reader: &pipe::Reader, writers: &[pipe::Writer]) {
    let s = reader.stats();
    if let Some(w) = writers.first() {
        assert_eq!(w.stats(), s);
    }
    assert_eq!(reader.position(), m.consumed);
    assert_eq!(s.consumed, m.consumed);
    assert_eq!(s.buffered, m.filled.len() as u64, "buffered bytes");
    assert_eq!(s.blocked_writers, 0);
    assert!(!s.reader_blocked);
    assert!(s.peak_allocated >= s.allocated);
    if let Some(window) = m.window {
        // "At most the window in memory (plus up to two pages)".
        let most = window as usize + 2 * m.page as usize;
        assert!(s.peak_allocated <= most, "{s:?} for a window of {window}");
    }
    if m.reader_closed {
        assert_eq!(s.allocated, 0, "closing the reader frees the memory");
    }
}

fn read_op(m: &mut Model, reader: &mut pipe::Reader, size: usize) {
    if size == 0 {
        assert_eq!(reader.read(&mut []).unwrap(), 0);
        return;
    }
    if m.reader_closed {
        is(
            &reader.read(&mut vec![0; size]).unwrap_err(),
            &Error::ReaderClosed,
        );
        return;
    }
    let run = m.run();
    if run.is_empty() {
        let Some(end) = m.end_of_reads() else {
            return; // would block
        };
        let mut buf = vec![0; size];
        match (reader.read(&mut buf), end) {
            (Ok(n), Ok(())) => assert_eq!(n, 0, "end of file"),
            (Err(e), Err(want)) => check_end_error(&e, &want),
            (got, want) => panic!("read: got {got:?}, want {want:?}"),
        }
        return;
    }
    let mut buf = vec![0; size];
    let n = reader.read(&mut buf).expect("bytes are readable");
    // "As many contiguous bytes as fit, never any past a gap."
    assert_eq!(
        n,
        size.min(run.len()),
        "read {n} of {} readable into {size}",
        run.len()
    );
    assert_eq!(buf[..n], run[..n], "read other bytes");
    m.consume(n);
}

fn fill_buf_op(m: &mut Model, reader: &mut pipe::Reader, amount: u16) {
    if m.reader_closed {
        is(&reader.fill_buf().unwrap_err(), &Error::ReaderClosed);
        return;
    }
    let run = m.run();
    if run.is_empty() {
        let Some(end) = m.end_of_reads() else {
            return; // would block
        };
        match (reader.fill_buf(), end) {
            (Ok(b), Ok(())) => assert!(b.is_empty(), "end of file"),
            (Err(e), Err(want)) => check_end_error(&e, &want),
            (got, want) => panic!("fill_buf: got {got:?}, want {want:?}"),
        }
        return;
    }
    let got = reader.fill_buf().expect("bytes are readable");
    assert!(!got.is_empty() && got.len() <= run.len());
    assert!(
        got.len() as u64 <= m.page,
        "fill_buf returns one page at most"
    );
    assert_eq!(got, &run[..got.len()]);
    let n = usize::from(amount) % (got.len() + 1);
    reader.consume(n);
    m.consume(n);
}

fn write_with_op(
    m: &mut Model,
    w: &pipe::Writer,
    (off, len): (u64, usize),
    seed: u8,
    fail_at: Option<u8>,
) {
    let mut calls: Vec<(u64, usize)> = Vec::new();
    let result = w.write_with(off, len, |at, buf| {
        calls.push((at, buf.len()));
        if fail_at.is_some_and(|k| calls.len() == usize::from(k) + 1) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "fill failed"));
        }
        for (i, b) in buf.iter_mut().enumerate() {
            *b = byte(seed, at + i as u64);
        }
        Ok(())
    });
    let Some(end) = off.checked_add(len as u64) else {
        is(
            &result.unwrap_err(),
            &Error::OffsetOverflow { offset: off, len },
        );
        assert!(calls.is_empty());
        return;
    };
    if let Some(refused) = m.refusal() {
        is(&result.unwrap_err(), &refused);
        assert!(calls.is_empty());
        return;
    }
    if off < m.consumed && end <= m.consumed {
        let want = Error::BelowConsumed {
            offset: off,
            consumed: m.consumed,
        };
        is(&result.unwrap_err(), &want);
        assert!(calls.is_empty());
        return;
    }
    // The free bytes of the range at or past the position, in order.
    let free: Vec<u64> = (off.max(m.consumed)..end)
        .filter(|at| !m.filled.contains_key(at))
        .collect();
    let mut seen = 0;
    for &(at, n) in &calls {
        assert!(n > 0, "fill called with an empty piece");
        assert_eq!(
            at / m.page,
            (at + n as u64 - 1) / m.page,
            "a piece spans pages"
        );
        for i in 0..n as u64 {
            assert_eq!(
                free.get(seen),
                Some(&(at + i)),
                "fill for bytes not free, or out of order"
            );
            seen += 1;
        }
    }
    let failed = fail_at.is_some_and(|k| calls.len() == usize::from(k) + 1);
    let committed = if failed {
        let e = result.unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string().as_str()),
            (io::ErrorKind::TimedOut, "fill failed")
        );
        &calls[..calls.len() - 1]
    } else {
        result.expect("write_with");
        assert_eq!(seen, free.len(), "fill was not called for every free byte");
        &calls[..]
    };
    for &(at, n) in committed {
        for a in at..at + n as u64 {
            m.filled.insert(a, byte(seed, a));
        }
    }
}

/// `write_at` (`all`: `write_all_at`) of `len` bytes at `off`.
fn write_at_op(m: &mut Model, w: &pipe::Writer, (off, len): (u64, usize), seed: u8, all: bool) {
    let data: Vec<u8> = (0..len as u64)
        .map(|i| byte(seed, off.wrapping_add(i)))
        .collect();
    let result = if all {
        w.write_all_at(&data, off).map(|()| len)
    } else {
        w.write_at(&data, off)
    };
    if all && len == 0 {
        assert_eq!(result.unwrap(), 0, "write_all_at of nothing does nothing");
        return;
    }
    let want = if off.checked_add(len as u64).is_none() {
        Some(Error::OffsetOverflow { offset: off, len })
    } else if let Some(refused) = m.refusal() {
        Some(refused)
    } else if off < m.consumed {
        Some(Error::BelowConsumed {
            offset: off,
            consumed: m.consumed,
        })
    } else {
        None
    };
    match want {
        Some(want) => is(&result.unwrap_err(), &want),
        None => {
            assert_eq!(result.expect("write_at"), len);
            for (i, &b) in data.iter().enumerate() {
                // The first write of a byte wins.
                m.filled.entry(off + i as u64).or_insert(b);
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let window = match input.window {
        Window::Unbounded => None,
        Window::Bounded(n) => Some(1 + u64::from(n) % 4096),
    };
    let (mut reader, writer) = match window {
        None => pipe::unbounded(),
        Some(w) => pipe::pipe(w as usize),
    };
    assert_eq!(writer.window(), window.map(|w| w as usize));
    let mut m = Model {
        window,
        page: window.map_or(64 * 1024, |w| (w / 4).clamp(1, 64 * 1024)),
        consumed: 0,
        filled: BTreeMap::new(),
        end: End::Open,
        reader_closed: false,
    };
    let mut writers = vec![writer];
    let pick = |writers: &[pipe::Writer], h: u8| usize::from(h) % writers.len().max(1);

    for (step, op) in input.ops.iter().take(64).enumerate() {
        match *op {
            Op::Read(size) => read_op(&mut m, &mut reader, usize::from(size)),
            Op::FillBuf(amount) => fill_buf_op(&mut m, &mut reader, amount),
            Op::CloseReader => {
                reader.close();
                m.reader_closed = true;
                m.filled.clear();
            }
            Op::Stats => check_stats(&m, &reader, &writers),
            _ if writers.is_empty() => {}
            Op::WriteAt { h, off, len, seed } => {
                let placed = m.place(off, len);
                write_at_op(&mut m, &writers[pick(&writers, h)], placed, seed, false);
            }
            Op::WriteAllAt { h, off, len, seed } => {
                let placed = m.place(off, len);
                write_at_op(&mut m, &writers[pick(&writers, h)], placed, seed, true);
            }
            Op::WriteWith {
                h,
                off,
                len,
                seed,
                fail_at,
            } => {
                let placed = m.place(off, len);
                write_with_op(&mut m, &writers[pick(&writers, h)], placed, seed, fail_at);
            }
            Op::Close(h) => {
                writers[pick(&writers, h)].close();
                m.close_writes(End::Closed);
            }
            Op::CloseWithError { h, kind } => {
                let kinds = [
                    io::ErrorKind::Other,
                    io::ErrorKind::Interrupted,
                    io::ErrorKind::ConnectionReset,
                    io::ErrorKind::TimedOut,
                    io::ErrorKind::UnexpectedEof,
                ];
                let kind = kinds[usize::from(kind) % kinds.len()];
                let text = format!("closed with an error at step {step}");
                writers[pick(&writers, h)].close_with_error(io::Error::new(kind, text.clone()));
                // `Interrupted` travels as `Other`, so `Read` loops stop.
                let kind = if kind == io::ErrorKind::Interrupted {
                    io::ErrorKind::Other
                } else {
                    kind
                };
                m.close_writes(End::Failed(kind, text));
            }
            Op::Clone(h) => {
                let w = writers[pick(&writers, h)].clone();
                writers.push(w);
            }
            Op::Drop(h) => {
                drop(writers.swap_remove(pick(&writers, h)));
                if writers.is_empty() {
                    // The last writer dropped closes the write side.
                    m.close_writes(End::Closed);
                }
            }
        }
    }
    check_stats(&m, &reader, &writers);

    // Close the write side and read everything that is left.
    writers.clear();
    m.close_writes(End::Closed);
    for _ in 0..1000 {
        let done = m.reader_closed || m.run().is_empty();
        read_op(&mut m, &mut reader, 1500);
        if done {
            break;
        }
    }
    assert!(
        m.reader_closed || m.run().is_empty(),
        "the reader does not get to the end"
    );
    check_stats(&m, &reader, &writers);
});
