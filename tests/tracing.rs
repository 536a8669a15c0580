//! The `tracing` feature: real `tracing` events from several threads reach
//! the output whole and in order per thread, and nothing is lost when the
//! buffer is dropped with its subscriber or closed through an `Arc`.
#![cfg(feature = "tracing")]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::thread;

use common::{LineChecker, line_body};
use mwsr::AsyncBuffer;
use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;

const THREADS: usize = 4;
const EVENTS: usize = 2000;

/// A writer that keeps everything, readable after the buffer is gone.
#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<u8>>>);

impl Collected {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Collected {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `THREADS` threads each emit `EVENTS` events through `dispatch`.
fn log_from_threads(dispatch: &Dispatch) {
    thread::scope(|s| {
        for w in 0..THREADS {
            s.spawn(move || {
                tracing::dispatcher::with_default(dispatch, || {
                    for seq in 0..EVENTS {
                        tracing::info!("{}", line_body(w, seq));
                    }
                });
            });
        }
    });
}

fn check(out: &Collected) {
    let text = out.text();
    assert!(text.lines().all(|l| l.contains(" INFO ")), "not fmt output");
    let mut checker = LineChecker::new(THREADS);
    checker.feed(&text);
    checker.finish(EVENTS);
}

#[test]
fn events_from_many_threads_arrive_whole_when_the_subscriber_owns_the_buffer() {
    let out = Collected::default();
    // A small capacity, so events often meet a full buffer.
    let buffer = AsyncBuffer::with_writer(512, out.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer)
        .with_thread_names(true)
        .finish();
    let dispatch = Dispatch::new(subscriber);
    log_from_threads(&dispatch);
    drop(dispatch); // drops the subscriber, which drops (closes) the buffer
    check(&out);
}

#[test]
fn closing_through_an_arc_loses_nothing() {
    let out = Collected::default();
    let buffer = Arc::new(AsyncBuffer::with_writer(4096, out.clone()));
    let dispatch = Dispatch::new(
        tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .finish(),
    );
    log_from_threads(&dispatch);
    buffer.close().unwrap(); // the subscriber still holds a clone
    check(&out);
    // After close, events fail in the writer instead of vanishing unseen.
    assert!((&*buffer).write_all(b"late\n").is_err());
}

#[test]
fn an_event_written_in_pieces_is_not_interleaved() {
    let out = Collected::default();
    let buffer = AsyncBuffer::with_writer(64, out.clone());
    thread::scope(|s| {
        for w in 0..THREADS {
            let buffer = &buffer;
            s.spawn(move || {
                for seq in 0..EVENTS {
                    let body = line_body(w, seq);
                    let (head, tail) = body.split_at(body.len() / 2);
                    let mut event = buffer.make_writer();
                    event.write_all(head.as_bytes()).unwrap();
                    event.write_all(tail.as_bytes()).unwrap();
                    event.write_all(b"\n").unwrap();
                } // each `event` is submitted as it drops
            });
        }
    });
    buffer.close().unwrap();
    let text = out.text();
    let mut checker = LineChecker::new(THREADS);
    checker.feed(&text);
    checker.finish(EVENTS);
}

#[test]
fn event_writer_flush_reaches_the_sink() {
    let out = Collected::default();
    let buffer = AsyncBuffer::with_writer(1024, out.clone());
    let mut event = buffer.make_writer();
    event.write_all(b"now\n").unwrap();
    event.flush().unwrap();
    assert_eq!(out.text(), "now\n");
    drop(event); // already submitted: nothing more is written
    buffer.close().unwrap();
    assert_eq!(out.text(), "now\n");
}

#[test]
fn event_writer_reports_a_closed_buffer() {
    let out = Collected::default();
    let buffer = AsyncBuffer::with_writer(1024, out.clone());
    buffer.close().unwrap();
    let err = buffer.make_writer().write(b"late\n").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
}
