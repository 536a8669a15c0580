//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a subset

pub mod crash;
#[cfg(feature = "s3")]
pub mod s3;
pub mod task;

use std::collections::HashMap;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Generous bound for waits that only time out when the code under test hangs.
pub const HANG: Duration = Duration::from_secs(20);

/// An item that counts its live copies, to prove each one is dropped exactly
/// once. Optionally panics when cloned for the `panic_at`-th time.
#[derive(Debug)]
pub struct Counted {
    pub value: u64,
    live: Arc<AtomicIsize>,
    clones: Arc<AtomicUsize>,
    panic_at: Option<usize>,
}

/// Shared counters for a family of [`Counted`] items.
#[derive(Debug, Clone, Default)]
pub struct DropCounter {
    live: Arc<AtomicIsize>,
    clones: Arc<AtomicUsize>,
}

impl DropCounter {
    pub fn item(&self, value: u64) -> Counted {
        self.live.fetch_add(1, Ordering::SeqCst);
        Counted {
            value,
            live: self.live.clone(),
            clones: self.clones.clone(),
            panic_at: None,
        }
    }

    /// An item whose clone panics once `n` clones of this family have been made.
    pub fn item_panicking_at(&self, value: u64, n: usize) -> Counted {
        let mut item = self.item(value);
        item.panic_at = Some(n);
        item
    }

    /// Items created (or cloned) and not yet dropped.
    pub fn live(&self) -> isize {
        self.live.load(Ordering::SeqCst)
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        let n = self.clones.fetch_add(1, Ordering::SeqCst) + 1;
        if self.panic_at == Some(n) {
            panic!("clone number {n} panics on purpose");
        }
        self.live.fetch_add(1, Ordering::SeqCst);
        Counted {
            value: self.value,
            live: self.live.clone(),
            clones: self.clones.clone(),
            panic_at: self.panic_at,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let before = self.live.fetch_sub(1, Ordering::SeqCst);
        assert!(before > 0, "an item was dropped more often than created");
    }
}

/// Encodes one item of a stress run: which writer, its sequence number, and
/// how many items of the same call follow it (to check that calls stay
/// contiguous).
pub fn encode(writer: u64, seq: u64, left_in_call: u64) -> u64 {
    assert!(writer < 1 << 8 && seq < 1 << 40 && left_in_call < 1 << 16);
    writer << 56 | seq << 16 | left_in_call
}

/// Checks a stream of [`encode`]d items as it arrives, batch after batch:
/// per writer, sequence numbers go 0, 1, 2, … with no loss, duplicate or
/// reordering, and the items of one call are never separated.
#[derive(Debug, Default)]
pub struct StreamChecker {
    next_seq: HashMap<u64, u64>,
    /// `(writer, seq, left)` of the previous item while inside a call.
    open_call: Option<(u64, u64, u64)>,
    pub items: u64,
    pub batches: u64,
    pub largest_batch: usize,
}

impl StreamChecker {
    pub fn batch(&mut self, batch: &[u64]) {
        assert!(!batch.is_empty(), "the sink was handed an empty batch");
        self.batches += 1;
        self.largest_batch = self.largest_batch.max(batch.len());
        for &item in batch {
            let (writer, seq, left) = (item >> 56, (item >> 16) & ((1 << 40) - 1), item & 0xffff);
            if let Some((w, s, l)) = self.open_call {
                assert!(
                    w == writer && s + 1 == seq && l == left + 1,
                    "a call was interleaved: after ({w}, {s}, {l} left) came ({writer}, {seq}, {left} left)"
                );
            }
            let next = self.next_seq.entry(writer).or_insert(0);
            assert_eq!(
                seq, *next,
                "writer {writer}: expected item {next}, got {seq}"
            );
            *next += 1;
            self.open_call = (left > 0).then_some((writer, seq, left));
            self.items += 1;
        }
    }

    /// Asserts the stream ended with every writer's `expected` items.
    pub fn finish(&self, expected: &HashMap<u64, u64>) {
        assert!(self.open_call.is_none(), "the stream ended inside a call");
        assert_eq!(&self.next_seq, expected, "items per writer");
    }
}

/// A sink gate: each sink call announces itself and waits until the gate opens.
#[derive(Default)]
pub struct Gate {
    state: Mutex<(usize, bool)>, // (entered, open)
    changed: Condvar,
}

impl Gate {
    pub fn pass(&self) {
        let mut st = self.state.lock().unwrap();
        st.0 += 1;
        self.changed.notify_all();
        while !st.1 {
            let (guard, timeout) = self.changed.wait_timeout(st, HANG).unwrap();
            assert!(!timeout.timed_out(), "test hung");
            st = guard;
        }
    }

    /// Waits until `n` sink calls have entered.
    pub fn wait_entered(&self, n: usize) {
        let mut st = self.state.lock().unwrap();
        while st.0 < n {
            let (guard, timeout) = self.changed.wait_timeout(st, HANG).unwrap();
            assert!(!timeout.timed_out(), "test hung");
            st = guard;
        }
    }

    pub fn open(&self) {
        self.state.lock().unwrap().1 = true;
        self.changed.notify_all();
    }
}

/// The text of line `seq` of writer `writer`: `<w{writer} s{seq} {padding}>`,
/// with a padding whose length varies with `seq`, so that a torn or merged
/// line cannot pass [`LineChecker`]. The caller adds the newline (or a
/// logging library wraps it in its own line).
pub fn line_body(writer: usize, seq: usize) -> String {
    let pad = "abcdefghijklmnopqrstuvwxyz".repeat(3);
    format!("<w{writer} s{seq} {}>", &pad[..seq % pad.len()])
}

/// Checks newline-separated text in which every line carries exactly one
/// [`line_body`] at its end: no line torn, merged, lost, duplicated or
/// reordered within its writer.
#[derive(Debug)]
pub struct LineChecker {
    next_seq: Vec<usize>,
    seen: Vec<usize>,
    gaps_allowed: bool,
}

impl LineChecker {
    pub fn new(writers: usize) -> Self {
        Self {
            next_seq: vec![0; writers],
            seen: vec![0; writers],
            gaps_allowed: false,
        }
    }

    /// As [`new`](Self::new), for a lossy stream: whole lines may be
    /// missing, but none torn, merged, duplicated or reordered.
    pub fn lossy(writers: usize) -> Self {
        Self {
            gaps_allowed: true,
            ..Self::new(writers)
        }
    }

    /// How many lines were seen in all.
    pub fn total(&self) -> usize {
        self.seen.iter().sum()
    }

    /// Checks `text`, which must end with a newline, as the next part of the
    /// stream.
    pub fn feed(&mut self, text: &str) {
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "the text ends inside a line"
        );
        for line in text.lines() {
            let start = line
                .find('<')
                .unwrap_or_else(|| panic!("no body in {line:?}"));
            let body = &line[start..];
            assert_eq!(body.matches('<').count(), 1, "merged lines: {line:?}");
            let (w, s) = body
                .trim_start_matches("<w")
                .split_once(' ')
                .and_then(|(w, rest)| Some((w.parse::<usize>().ok()?, rest)))
                .and_then(|(w, rest)| {
                    let s = rest.strip_prefix('s')?.split(' ').next()?;
                    Some((w, s.parse::<usize>().ok()?))
                })
                .unwrap_or_else(|| panic!("torn line: {line:?}"));
            assert_eq!(body, line_body(w, s), "torn line");
            if self.gaps_allowed {
                assert!(s >= self.next_seq[w], "writer {w}: lines out of order");
            } else {
                assert_eq!(
                    s, self.next_seq[w],
                    "writer {w}: lines out of order or lost"
                );
            }
            self.next_seq[w] = s + 1;
            self.seen[w] += 1;
        }
    }

    /// How many lines of `writer` were seen.
    pub fn lines(&self, writer: usize) -> usize {
        self.next_seq[writer]
    }

    /// Asserts that every writer's `lines` lines were seen.
    pub fn finish(&self, lines: usize) {
        assert!(
            self.next_seq.iter().all(|&n| n == lines),
            "lines per writer: {:?}, expected {lines} each",
            self.next_seq
        );
    }
}

/// The bytes of the segments stream in `dir` (default naming), read from
/// the files themselves, in name order; and the segments' lengths.
pub fn segment_files(dir: &std::path::Path) -> (Vec<u8>, Vec<u64>) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.len() == 24 && n.ends_with(".seg"))
        .collect();
    names.sort();
    let mut stream = Vec::new();
    let mut lens = Vec::new();
    for name in names {
        let base: usize = name[..20].parse().unwrap();
        assert_eq!(
            base,
            stream.len(),
            "segment {name} does not follow the one before"
        );
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        lens.push(bytes.len() as u64);
        stream.extend_from_slice(&bytes);
    }
    (stream, lens)
}
