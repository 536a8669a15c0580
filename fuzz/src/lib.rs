//! Helpers shared by the fuzz targets in `fuzz_targets/`.

use std::fmt;
use std::io::{self, Read};

use arbitrary::Arbitrary;

/// `len` deterministic bytes that depend on `seed`: records and pieces with
/// different seeds differ, and a shifted copy is easy to tell apart.
pub fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect()
}

/// The error a [`Flaky`] reader injects: any call that gets it must be
/// retryable (the reader "consumes nothing: calling again resumes").
#[derive(Debug)]
pub struct Injected;

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("injected I/O error")
    }
}

impl std::error::Error for Injected {}

/// Whether `e` is the error a [`Flaky`] reader injected.
pub fn is_injected(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Injected>())
}

/// How a [`Flaky`] reader serves its bytes.
#[derive(Arbitrary, Debug, Clone, Default)]
pub struct IoPlan {
    /// Read sizes, cycled (each is at least 1).
    pub sizes: Vec<u16>,
    /// Per call (cycled over the first 256 calls only, so that faults run
    /// out): `% 4 == 1` is `Interrupted`, `% 4 == 2` an [`Injected`] error.
    pub faults: Vec<u8>,
}

/// A reader over a byte slice that returns short reads, `Interrupted` and
/// injected errors as its [`IoPlan`] says, and `Ok(0)` only at the end.
pub struct Flaky<'a> {
    data: &'a [u8],
    pos: usize,
    plan: IoPlan,
    calls: usize,
}

impl<'a> Flaky<'a> {
    pub fn new(data: &'a [u8], plan: IoPlan) -> Self {
        Self {
            data,
            pos: 0,
            plan,
            calls: 0,
        }
    }
}

impl Read for Flaky<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let call = self.calls;
        self.calls += 1;
        if call < 256 && !self.plan.faults.is_empty() {
            match self.plan.faults[call % self.plan.faults.len()] % 4 {
                1 => return Err(io::ErrorKind::Interrupted.into()),
                2 => return Err(io::Error::other(Injected)),
                _ => {}
            }
        }
        let size = match self.plan.sizes.len() {
            0 => usize::MAX,
            n => 1 + usize::from(self.plan.sizes[call % n]),
        };
        let rest = &self.data[self.pos..];
        let n = rest.len().min(buf.len()).min(size);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Calls `f` until it returns something but an injected error (bounded, so
/// that a reader that keeps failing is caught rather than looped on).
pub fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    for _ in 0..10_000 {
        match f() {
            Err(e) if is_injected(&e) => continue,
            other => return other,
        }
    }
    panic!("an injected error keeps coming back: the call does not resume");
}
