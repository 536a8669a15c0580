//! loom models of `mwsr::segments`' follow mode: a `Stop` racing a reader
//! that waits for more data is never lost, whichever comes first.
//!
//! Under loom a timed wait times out at once (see `mwsr`'s `sync` module),
//! so a following reader there polls without pause: the models with a
//! [`Reader`] show that it returns once stopped, and never returns data it
//! should not. The models with an untimed [`Stop::wait`] cover the
//! wake-up itself (the same check-then-wait under the same lock): a lost
//! notification leaves the waiter blocked for good, which loom reports as a
//! deadlock.
#![cfg(loom)]

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use loom::thread;
use mwsr::segments::{Entry, Naming, Reader, SegmentWrite, Stop, Storage};

/// A stream that is there and never changes: one segment at offset 0
/// holding `data`. No loom primitive inside: the models explore the stop
/// and wake-up protocol only.
#[derive(Debug)]
struct Fixed {
    name: String,
    data: &'static [u8],
}

impl Fixed {
    fn new(data: &'static [u8]) -> Arc<Self> {
        Arc::new(Self {
            name: Naming::default().name(0),
            data,
        })
    }
}

impl Storage for Fixed {
    fn list(&self, prefix: &str, after: Option<&str>) -> io::Result<Vec<Entry>> {
        let listed = self.name.starts_with(prefix) && after.is_none_or(|after| *self.name > *after);
        Ok(listed
            .then(|| Entry {
                name: self.name.clone(),
                len: self.data.len() as u64,
                modified: None,
            })
            .into_iter()
            .collect())
    }

    fn read(&self, name: &str, offset: u64, len: u64) -> io::Result<Box<dyn Read + Send>> {
        assert_eq!(name, self.name);
        let start = (offset as usize).min(self.data.len());
        let end = (start + len as usize).min(self.data.len());
        Ok(Box::new(&self.data[start..end]))
    }

    fn create(&self, _: &str) -> io::Result<Box<dyn SegmentWrite>> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn delete(&self, _: &str) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn syncs_open_segments(&self) -> bool {
        false
    }

    fn lock(&self, _: &str) -> io::Result<Box<dyn Send + Sync>> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// A follower that would otherwise wait an hour between listings.
fn follower(data: &'static [u8], stop: &Stop) -> Reader {
    Reader::builder()
        .follow(Duration::from_secs(3600))
        .stopped_by(stop.clone())
        .open_storage(Fixed::new(data))
        .unwrap()
}

/// A stop racing a thread that waits for it: the waiter always returns.
#[test]
fn a_stop_racing_a_waiter_wakes_it() {
    loom::model(|| {
        let stop = Stop::new();
        let waiter = {
            let stop = stop.clone();
            thread::spawn(move || stop.wait())
        };
        stop.stop();
        waiter.join().unwrap();
        assert!(stop.is_stopped());
    });
}

/// One stop, two waiters: both are woken, not just one.
#[test]
fn a_stop_wakes_every_waiter() {
    loom::model(|| {
        let stop = Stop::new();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let stop = stop.clone();
                thread::spawn(move || stop.wait())
            })
            .collect();
        stop.stop();
        for waiter in waiters {
            waiter.join().unwrap();
        }
    });
}

/// A stop racing a timed wait: once stopped, the wait says so.
#[test]
fn a_timed_wait_sees_a_racing_stop() {
    loom::model(|| {
        let stop = Stop::new();
        let waiter = {
            let stop = stop.clone();
            thread::spawn(move || while !stop.wait_timeout(Duration::from_secs(3600)) {})
        };
        stop.stop();
        waiter.join().unwrap();
        // Stopped before the wait: it returns at once, stopped.
        assert!(stop.wait_timeout(Duration::from_secs(3600)));
    });
}

/// A following reader at the end of its stream, racing a stop from another
/// thread: the read returns `Ok(0)`, having read at most the stream, and
/// so does every later read.
#[test]
fn a_stop_racing_a_following_read_ends_it() {
    loom::model(|| {
        let stop = Stop::new();
        let mut tail = follower(b"ab", &stop);
        let reading = thread::spawn(move || {
            let mut out = Vec::new();
            let end = tail.read_to_end(&mut out);
            (end, out, tail)
        });
        stop.stop();
        let (end, out, mut tail) = reading.join().unwrap();
        end.unwrap();
        assert!(b"ab".starts_with(&out), "read {out:?}");
        assert_eq!(tail.read(&mut [0; 4]).unwrap(), 0);
        assert!(tail.stopper().is_stopped());
    });
}

/// Two readers stopped by one stop, each on its own thread: both end.
#[test]
fn one_stop_ends_two_following_readers() {
    loom::model(|| {
        let stop = Stop::new();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let mut tail = follower(b"", &stop);
                thread::spawn(move || tail.read(&mut [0; 4]).unwrap())
            })
            .collect();
        stop.stop();
        for reader in readers {
            assert_eq!(reader.join().unwrap(), 0);
        }
    });
}
