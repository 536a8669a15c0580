//! loom models of the bound on uploads in flight of `segments::Objects`:
//! a seal waits for a free slot, `sync()` for every upload, and a failure
//! (or an abandoned upload) is sticky and wakes every waiter.
#![cfg(loom)]

use std::io;
// `Uploads::begin` takes the std `Arc` it lives in; the synchronisation
// inside (its lock and condvar) is loom's.
use std::sync::Arc;

use loom::thread;
use mwsr::segments::LoomUploads as Uploads;

/// With one slot, a second upload waits for the first to finish, and a
/// sync waits for both; nothing is lost or left waiting.
#[test]
fn a_seal_waits_for_a_free_slot_and_sync_for_all() {
    loom::model(|| {
        let uploads = Arc::new(Uploads::new(1));
        let first = uploads.begin().unwrap();
        let finisher = thread::spawn(move || first.finish(Ok(())));
        let second = uploads.begin().unwrap(); // waits for `first`
        let finisher2 = thread::spawn(move || second.finish(Ok(())));
        uploads.wait_all().unwrap();
        finisher.join().unwrap();
        finisher2.join().unwrap();
        uploads.check().unwrap();
    });
}

/// A failure while a sync waits reaches it, and every later call.
#[test]
fn a_failed_upload_wakes_the_sync_and_sticks() {
    loom::model(|| {
        let uploads = Arc::new(Uploads::new(2));
        let ticket = uploads.begin().unwrap();
        let finisher = thread::spawn(move || ticket.finish(Err(io::Error::other("put failed"))));
        let err = uploads.wait_all().unwrap_err();
        assert!(err.to_string().contains("put failed"), "{err}");
        finisher.join().unwrap();
        assert!(uploads.check().is_err());
        assert!(uploads.begin().is_err());
    });
}

/// An upload whose task is dropped unfinished frees its slot as a failure:
/// a seal waiting for the slot is woken and told.
#[test]
fn an_abandoned_upload_wakes_a_waiting_seal() {
    loom::model(|| {
        let uploads = Arc::new(Uploads::new(1));
        let ticket = uploads.begin().unwrap();
        let dropper = thread::spawn(move || drop(ticket));
        let refused = uploads.begin(); // waits for the slot
        assert!(
            refused.is_err(),
            "the abandoned upload must fail the stream"
        );
        dropper.join().unwrap();
    });
}
