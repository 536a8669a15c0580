//! `mwsr::tracing::init`: the global subscriber logs through the buffer,
//! and the guard it returns writes the last events when it drops, although
//! the subscriber (and its handle of the buffer) is never dropped. One test
//! in its own binary: a process has one global subscriber.
#![cfg(feature = "tracing")]

mod common;

use std::thread;

use common::{LineChecker, line_body};

const THREADS: usize = 4;
const EVENTS: usize = 500;

#[test]
fn the_guard_writes_every_event_of_the_global_subscriber() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let log = mwsr::AsyncBuffer::builder()
        .capacity(1 << 20) // room for every event
        // Nothing leaves on its own before the guard drops: without the
        // guard the file would stay empty.
        .linger(std::time::Duration::from_secs(3600))
        .build(mwsr::WriteSink::new(std::fs::File::create(&path).unwrap()))
        .unwrap();
    let stats = log.clone();
    {
        let _guard = mwsr::tracing::init(log).unwrap();
        thread::scope(|s| {
            for w in 0..THREADS {
                s.spawn(move || {
                    for n in 0..EVENTS {
                        tracing::info!("{}", line_body(w, n));
                    }
                });
            }
        });
        assert_eq!(
            stats.stats().items_flushed,
            0,
            "the linger holds the events"
        );
        // A second global subscriber is refused, and says so.
        let again = mwsr::AsyncBuffer::with_writer(64, std::io::sink());
        assert!(mwsr::tracing::init(again).is_err());
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains('\x1b'), "no ANSI colours in a log file");
    let mut lines = LineChecker::new(THREADS);
    lines.feed(&text);
    lines.finish(EVENTS);
    assert!(stats.is_closed());
}
