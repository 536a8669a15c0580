//! Test doubles and helpers: a member wrapper that can be slow, fail after N
//! bytes, block at a gate, panic, fail its syncs or reads, and counts the
//! calls it gets; real files in a temporary directory; content hashes; a
//! recorder for the `on_failure` callback.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use mwsr::mirror::{Failure, Health, Member, Mirror};

use crate::common::HANG;
use crate::common::task::eventually;

/// A member around `inner` that misbehaves as configured, and counts.
pub struct Double<M> {
    inner: M,
    /// Sleeps 1 ms in each `write_at`.
    slow: bool,
    /// Each `write_at` waits here until the gate opens.
    gate: Option<Arc<Gate>>,
    /// `write_at` fails once this many bytes have been written through it
    /// (the write that crosses it is short); `u64::MAX`: never.
    fail_after: AtomicU64,
    written: AtomicU64,
    panic_writes: AtomicBool,
    fail_syncs: AtomicBool,
    fail_reads: AtomicBool,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl<M: Member> Double<M> {
    /// A double that behaves as `inner` (and counts).
    pub fn new(inner: M) -> Self {
        Self {
            inner,
            slow: false,
            gate: None,
            fail_after: AtomicU64::new(u64::MAX),
            written: AtomicU64::new(0),
            panic_writes: AtomicBool::new(false),
            fail_syncs: AtomicBool::new(false),
            fail_reads: AtomicBool::new(false),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        }
    }

    /// Sleeps 1 ms in each `write_at`.
    pub fn slow(mut self) -> Self {
        self.slow = true;
        self
    }

    /// Each `write_at` waits for `gate` to open.
    pub fn gated(mut self, gate: &Arc<Gate>) -> Self {
        self.gate = Some(gate.clone());
        self
    }

    /// `write_at` fails once `n` bytes in all have been written through it.
    pub fn fail_after(self, n: u64) -> Self {
        self.fail_after.store(n, SeqCst);
        self
    }

    /// `write_at` panics.
    pub fn panicking(self) -> Self {
        self.panic_writes.store(true, SeqCst);
        self
    }

    /// `sync` fails.
    pub fn failing_syncs(self) -> Self {
        self.fail_syncs.store(true, SeqCst);
        self
    }

    /// `read_at` fails (until [`heal`](Self::heal)).
    pub fn failing_reads(self) -> Self {
        self.fail_reads.store(true, SeqCst);
        self
    }

    pub fn arc(self) -> Arc<Self> {
        Arc::new(self)
    }

    /// Removes every fault (the gate and the slowness stay).
    pub fn heal(&self) {
        self.fail_after.store(u64::MAX, SeqCst);
        self.panic_writes.store(false, SeqCst);
        self.fail_syncs.store(false, SeqCst);
        self.fail_reads.store(false, SeqCst);
    }

    /// `read_at` calls it got.
    pub fn reads(&self) -> u64 {
        self.reads.load(SeqCst)
    }

    /// `write_at` calls that wrote something.
    pub fn writes(&self) -> u64 {
        self.writes.load(SeqCst)
    }

    pub fn inner(&self) -> &M {
        &self.inner
    }
}

impl<M: Member> Member for Double<M> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.reads.fetch_add(1, SeqCst);
        if self.fail_reads.load(SeqCst) {
            return Err(io::Error::other("injected read error"));
        }
        self.inner.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        if let Some(gate) = &self.gate {
            gate.pass();
        }
        if self.slow {
            std::thread::sleep(Duration::from_millis(1));
        }
        if self.panic_writes.load(SeqCst) {
            panic!("injected panic in write_at");
        }
        let limit = self.fail_after.load(SeqCst);
        let written = self.written.load(SeqCst);
        if written >= limit {
            return Err(io::Error::other(format!(
                "injected write error after {limit} bytes"
            )));
        }
        let n = buf
            .len()
            .min(usize::try_from(limit - written).unwrap_or(usize::MAX));
        let n = self.inner.write_at(&buf[..n], offset)?;
        self.written.fetch_add(n as u64, SeqCst);
        self.writes.fetch_add(1, SeqCst);
        Ok(n)
    }

    fn sync(&self) -> io::Result<()> {
        if self.fail_syncs.load(SeqCst) {
            return Err(io::Error::other("injected sync error"));
        }
        self.inner.sync()
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }

    fn limit(&self) -> Option<u64> {
        self.inner.limit()
    }
}

/// Where a blocked member's writes wait until the test opens it. Unlike
/// `common::Gate`, a write gives up only after twice [`HANG`], so that a
/// test waiting for something the blocked member holds up fails first,
/// and opening never panics (also while a failing test unwinds).
#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<(usize, bool)>, // (writes entered, open)
    changed: Condvar,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, (usize, bool)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the gate is open.
    pub fn pass(&self) {
        let mut state = self.lock();
        state.0 += 1;
        self.changed.notify_all();
        let (state, timeout) = self
            .changed
            .wait_timeout_while(state, 2 * HANG, |s| !s.1)
            .unwrap_or_else(|e| e.into_inner());
        drop(state);
        assert!(!timeout.timed_out(), "a member stayed blocked: test hung");
    }

    /// Waits until `n` writes have come to the gate.
    pub fn wait_entered(&self, n: usize) {
        let (state, timeout) = self
            .changed
            .wait_timeout_while(self.lock(), HANG, |s| s.0 < n)
            .unwrap_or_else(|e| e.into_inner());
        drop(state);
        assert!(!timeout.timed_out(), "never came to the gate: test hung");
    }

    pub fn open(&self) {
        self.lock().1 = true;
        self.changed.notify_all();
    }
}

/// Opens its gate when dropped: declared after the mirror, it lets a
/// failing test's mirror close instead of waiting for a blocked member.
pub struct OpenOnDrop(pub Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// A closed gate.
pub fn gate() -> Arc<Gate> {
    Arc::new(Gate::default())
}

/// Opens `gate` at the end of the scope (declare it after the mirror, to
/// have it dropped first).
pub fn opener(gate: &Arc<Gate>) -> OpenOnDrop {
    OpenOnDrop(gate.clone())
}

/// A temporary directory for member files.
#[derive(Debug)]
pub struct Dir(tempfile::TempDir);

impl Dir {
    pub fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    /// A new empty file `name`, open to read and write, and its path.
    pub fn file(&self, name: &str) -> (File, PathBuf) {
        let path = self.0.path().join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        (file, path)
    }
}

/// FNV-1a of `bytes`.
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The hash of a file's content, and its length.
pub fn file_hash(path: &Path) -> (u64, usize) {
    let bytes = std::fs::read(path).unwrap();
    (fnv(&bytes), bytes.len())
}

/// Asserts the files all hold `expected`.
pub fn assert_files_hold(paths: &[&Path], expected: &[u8]) {
    let want = (fnv(expected), expected.len());
    for path in paths {
        assert_eq!(file_hash(path), want, "{} differs", path.display());
    }
}

/// A member's whole content, read through `Member::read_at`.
pub fn contents(member: &dyn Member) -> Vec<u8> {
    let mut bytes = vec![0; usize::try_from(member.len().unwrap()).unwrap()];
    let mut at = 0;
    while at < bytes.len() {
        let n = member.read_at(&mut bytes[at..], at as u64).unwrap();
        assert!(n > 0, "the member ended early");
        at += n;
    }
    bytes
}

/// `len` bytes that depend on `seed` (a different seed, different bytes).
pub fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes `bytes` at `offset` into the model of the expected content.
pub fn apply(model: &mut Vec<u8>, bytes: &[u8], offset: u64) {
    let start = usize::try_from(offset).unwrap();
    if model.len() < start + bytes.len() {
        model.resize(start + bytes.len(), 0);
    }
    model[start..start + bytes.len()].copy_from_slice(bytes);
}

/// What the `on_failure` callback was given.
pub type Failures = Arc<Mutex<Vec<Failure>>>;

/// A record of failures and the callback that fills it.
pub fn recorder() -> (Failures, impl Fn(&Failure) + Send + Sync + 'static) {
    let failures = Failures::default();
    let sink = failures.clone();
    (failures, move |f: &Failure| {
        sink.lock().unwrap().push(f.clone())
    })
}

/// The offset a `Failed` health gives; panics for another health.
pub fn failed_at(health: &Health) -> u64 {
    match health {
        Health::Failed { at, .. } => *at,
        other => panic!("expected a failed member, got {other:?}"),
    }
}

/// The error text a `Failed` health gives; panics for another health.
pub fn failed_error(health: &Health) -> String {
    match health {
        Health::Failed { error, .. } => error.to_string(),
        other => panic!("expected a failed member, got {other:?}"),
    }
}

/// Waits until write-behind member `i` has nothing queued: its flusher has
/// applied (or skipped) everything, and reported what failed.
pub fn settled(mirror: &Mirror, i: usize) {
    eventually("the write-behind queue released", || {
        let stats = &mirror.stats()[i];
        stats.lag_writes == 0 && stats.lag_bytes == 0
    });
}
