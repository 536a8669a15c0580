//! Behaviour of the sync `Buffer`: one test per promise it makes.

mod common;

use std::convert::Infallible;
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread;
use std::time::Duration;

use common::{DropCounter, Gate};
use mwsr::{Buffer, Error, Sink};

/// Every batch a sink was handed, in order.
type Batches<T> = Arc<Mutex<Vec<Vec<T>>>>;

/// A sink that records every batch.
fn recorder<T: Clone>() -> (Batches<T>, impl FnMut(&[T]) -> Result<(), Infallible>) {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let sink_batches = batches.clone();
    let sink = move |batch: &[T]| {
        sink_batches.lock().unwrap().push(batch.to_vec());
        Ok(())
    };
    (batches, sink)
}

#[test]
fn items_are_batched_until_full_then_flushed_in_order() {
    let (batches, sink) = recorder();
    let buf = Buffer::new(4, sink);
    assert_eq!(buf.capacity(), 4);
    assert_eq!(buf.write(&[1, 2]).unwrap(), 2);
    assert_eq!(buf.write(&[3]).unwrap(), 1);
    assert!(
        batches.lock().unwrap().is_empty(),
        "nothing is flushed while it fits"
    );
    buf.write(&[4, 5]).unwrap(); // does not fit: [1, 2, 3] goes first
    assert_eq!(*batches.lock().unwrap(), vec![vec![1, 2, 3]]);
    buf.flush().unwrap();
    assert_eq!(*batches.lock().unwrap(), vec![vec![1, 2, 3], vec![4, 5]]);
}

#[test]
fn a_write_that_fills_the_buffer_exactly_waits_for_the_next_write() {
    let (batches, sink) = recorder();
    let buf = Buffer::new(4, sink);
    buf.write(&[1, 2]).unwrap();
    buf.write(&[3, 4]).unwrap();
    assert!(batches.lock().unwrap().is_empty());
    buf.write(&[5]).unwrap();
    assert_eq!(*batches.lock().unwrap(), vec![vec![1, 2, 3, 4]]);
}

#[test]
fn a_write_of_capacity_or_more_goes_to_the_sink_without_a_copy() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_in_sink = seen.clone();
    let buf = Buffer::new(4, move |batch: &[u32]| {
        seen_in_sink
            .lock()
            .unwrap()
            .push((batch.as_ptr() as usize, batch.to_vec()));
        Ok::<(), Infallible>(())
    });
    buf.write(&[1]).unwrap();
    let big: Vec<u32> = (10..16).collect();
    assert_eq!(buf.write(&big).unwrap(), 6);
    let exact = [20, 21, 22, 23];
    buf.write(&exact).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].1, vec![1], "what was buffered comes first");
    assert_eq!(
        seen[1],
        (big.as_ptr() as usize, big.clone()),
        "the caller's own slice"
    );
    assert_eq!(seen[2], (exact.as_ptr() as usize, exact.to_vec()));
}

#[test]
fn write_v_that_fits_arrives_in_one_batch() {
    let (batches, sink) = recorder();
    let buf = Buffer::new(8, sink);
    buf.write(&[0]).unwrap();
    assert_eq!(
        buf.write_v(&[&[1, 2][..], &[], &[3], &[4, 5, 6]]).unwrap(),
        6
    );
    buf.write_v(&[[7, 8], [9, 10]]).unwrap(); // does not fit with the 7 before
    buf.flush().unwrap();
    assert_eq!(
        *batches.lock().unwrap(),
        vec![vec![0, 1, 2, 3, 4, 5, 6], vec![7, 8, 9, 10]]
    );
}

#[test]
fn write_v_larger_than_capacity_arrives_in_consecutive_batches() {
    let (batches, sink) = recorder();
    let buf = Buffer::new(4, sink);
    buf.write(&[0]).unwrap();
    let big = [10, 11, 12, 13, 14];
    assert_eq!(
        buf.write_v(&[&[1, 2, 3][..], &big, &[4, 5], &[6, 7, 8]])
            .unwrap(),
        13
    );
    buf.write(&[9]).unwrap();
    buf.flush().unwrap();
    assert_eq!(
        *batches.lock().unwrap(),
        vec![
            vec![0],
            vec![1, 2, 3],    // staged small parts, flushed before the big one
            big.to_vec(),     // straight from the caller
            vec![4, 5, 6, 7], // staged until full
            vec![8],          // the rest of the group
            vec![9],          // only then anybody else's writes
        ]
    );
}

#[test]
fn empty_writes_and_empty_flushes_never_call_the_sink() {
    let (batches, sink) = recorder::<u8>();
    let buf = Buffer::new(4, sink);
    assert_eq!(buf.write(&[]).unwrap(), 0);
    assert_eq!(buf.write_v::<&[u8]>(&[]).unwrap(), 0);
    assert_eq!(buf.write_v(&[&[][..], &[]]).unwrap(), 0);
    buf.flush().unwrap();
    buf.flush().unwrap();
    drop(buf);
    assert!(batches.lock().unwrap().is_empty());
}

#[test]
fn the_sink_error_is_sticky_and_the_sink_is_not_called_again() {
    let calls = Arc::new(AtomicUsize::new(0));
    let calls_in_sink = calls.clone();
    let buf = Buffer::new(3, move |_: &[u8]| {
        calls_in_sink.fetch_add(1, Ordering::SeqCst);
        Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
    });
    buf.write(&[1, 2]).unwrap();
    let err = buf.write(&[3, 4]).unwrap_err(); // triggers the failing flush
    assert!(matches!(&err, Error::Sink(e) if e.kind() == io::ErrorKind::StorageFull));
    assert_eq!(err.to_string(), "the sink failed: disk full");
    assert!(std::error::Error::source(&err).is_some());
    assert!(matches!(buf.write(&[4]), Err(Error::Sink(_))));
    assert!(matches!(buf.write_v(&[[5], [6]]), Err(Error::Sink(_))));
    assert!(matches!(buf.write(&[7, 8, 9, 10]), Err(Error::Sink(_))));
    assert!(matches!(buf.flush(), Err(Error::Sink(_))));
    let (_, last) = buf.into_inner();
    assert!(matches!(last, Err(Error::Sink(_))));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_concurrent_writer_sees_the_sink_error() {
    let buf = Arc::new(Buffer::new(3, |_: &[u8]| Err::<(), _>("broken")));
    buf.write(&[1, 2]).unwrap();
    assert!(buf.flush().is_err());
    let other = buf.clone();
    let seen = thread::spawn(move || other.write(&[3])).join().unwrap();
    assert!(matches!(seen, Err(Error::Sink(e)) if *e == "broken"));
}

#[test]
fn a_panicking_sink_becomes_a_sticky_error_without_deadlock() {
    let buf = Buffer::new(2, |batch: &[u8]| -> Result<(), Infallible> {
        panic!("sink exploded on {} items", batch.len())
    });
    buf.write(&[1]).unwrap();
    let err = buf.flush().unwrap_err();
    assert!(matches!(&err, Error::Panicked(m) if &**m == "sink exploded on 1 items"));
    assert_eq!(
        err.to_string(),
        "a panic while flushing: sink exploded on 1 items"
    );
    // Nothing is poisoned or locked: every later call returns at once.
    assert!(matches!(buf.write(&[2, 3, 4]), Err(Error::Panicked(_))));
    assert!(matches!(buf.flush(), Err(Error::Panicked(_))));
    let other = thread::scope(|s| s.spawn(|| buf.write(&[5])).join().unwrap());
    assert!(matches!(other, Err(Error::Panicked(_))));
}

/// A sink that calls back into its own buffer.
struct Reenter {
    buf: Arc<OnceLock<Weak<Buffer<u8, Reenter>>>>,
    results: Arc<Mutex<Vec<String>>>,
}

impl Sink<u8> for Reenter {
    type Error = Infallible;
    fn consume(&mut self, _: &[u8]) -> Result<(), Infallible> {
        let buf = self.buf.get().unwrap().upgrade().unwrap();
        let mut results = self.results.lock().unwrap();
        results.push(format!("{:?}", buf.flush()));
        results.push(format!("{:?}", buf.write(&[9, 9, 9, 9])));
        results.push(format!("{:?}", buf.write(&[7])));
        Ok(())
    }
}

#[test]
fn a_sink_calling_back_into_its_buffer_gets_an_error_not_a_deadlock() {
    let cell = Arc::new(OnceLock::new());
    let results = Arc::new(Mutex::new(Vec::new()));
    let buf = Arc::new(Buffer::new(
        4,
        Reenter {
            buf: cell.clone(),
            results: results.clone(),
        },
    ));
    cell.set(Arc::downgrade(&buf)).unwrap();
    buf.write(&[1]).unwrap();
    buf.flush().unwrap();
    assert_eq!(
        *results.lock().unwrap(),
        ["Err(Reentrant)", "Err(Reentrant)", "Ok(1)"],
        "calls that need a flush fail; a write that fits is taken"
    );
    assert!(
        Error::<Infallible>::Reentrant
            .to_string()
            .contains("called back")
    );
}

#[test]
fn try_new_returns_errors_new_would_panic_with() {
    let sink = |_: &[u8]| Ok::<(), Infallible>(());
    let err = Buffer::try_new(0, sink).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("capacity must be at least 1"));
    let huge = |_: &[[u8; 1 << 20]]| Ok::<(), Infallible>(());
    let err = Buffer::try_new(u32::MAX as usize, huge).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory, "{err}");
    assert!(Buffer::try_new(16, sink).is_ok());
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn zero_capacity_is_rejected() {
    let _ = Buffer::new(0, |_: &[u8]| Ok::<(), Infallible>(()));
}

#[test]
fn dropping_flushes_what_is_left() {
    let (batches, sink) = recorder();
    let buf = Buffer::new(8, sink);
    buf.write(&["a".to_string(), "b".to_string()]).unwrap();
    drop(buf);
    assert_eq!(
        *batches.lock().unwrap(),
        vec![vec!["a".to_string(), "b".to_string()]]
    );
}

#[test]
fn into_inner_flushes_and_returns_the_sink() {
    struct Collect(Vec<u16>);
    impl Sink<u16> for Collect {
        type Error = Infallible;
        fn consume(&mut self, batch: &[u16]) -> Result<(), Infallible> {
            self.0.extend_from_slice(batch);
            Ok(())
        }
    }
    let buf = Buffer::new(3, Collect(Vec::new()));
    buf.write(&[1, 2]).unwrap();
    buf.write(&[3, 4]).unwrap();
    let (sink, result) = buf.into_inner();
    result.unwrap();
    assert_eq!(sink.0, [1, 2, 3, 4]);
}

#[test]
fn io_write_works_through_shared_references_and_keeps_vectored_writes_whole() {
    let out = Arc::new(Mutex::new(Vec::new()));
    let out_in_sink = out.clone();
    let buf = Buffer::new(16, move |b: &[u8]| -> io::Result<()> {
        out_in_sink.lock().unwrap().push(b.to_vec());
        Ok(())
    });
    let mut w = &buf;
    write!(w, "hello {}", 42).unwrap();
    let n = w
        .write_vectored(&[io::IoSlice::new(b"ab"), io::IoSlice::new(b"cd")])
        .unwrap();
    assert_eq!(n, 4);
    w.flush().unwrap();
    let mut owned = buf;
    owned.write_all(b"xyz").unwrap();
    io::Write::flush(&mut owned).unwrap();
    assert_eq!(
        *out.lock().unwrap(),
        vec![b"hello 42abcd".to_vec(), b"xyz".to_vec()]
    );
}

#[test]
fn io_errors_keep_the_sink_error_kind() {
    let mut buf = Buffer::new(3, |_: &[u8]| {
        Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"))
    });
    buf.write_all(b"ab").unwrap();
    let err = buf.write_all(b"cd").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    let inner = err
        .get_ref()
        .unwrap()
        .downcast_ref::<Error<io::Error>>()
        .unwrap();
    assert!(matches!(inner, Error::Sink(_)));
    let closed: io::Error = Error::<io::Error>::Closed.into();
    assert_eq!(closed.kind(), io::ErrorKind::BrokenPipe);
}

#[test]
fn buffer_is_send_and_sync_when_the_sink_is_send() {
    fn assert_send_sync<X: Send + Sync>(_: &X) {}
    let buf = Buffer::new(4, |_: &[String]| Ok::<(), io::Error>(()));
    assert_send_sync(&buf);
}

fn gated<T: Clone + Send + 'static>(
    capacity: usize,
) -> (
    Arc<Gate>,
    Batches<T>,
    Buffer<T, impl Sink<T, Error = Infallible>>,
) {
    let gate = Arc::new(Gate::default());
    let (batches, mut record) = recorder::<T>();
    let sink_gate = gate.clone();
    let buf = Buffer::new(capacity, move |batch: &[T]| {
        sink_gate.pass();
        record(batch)
    });
    (gate, batches, buf)
}

#[test]
fn writers_keep_writing_while_the_sink_runs() {
    let (gate, batches, buf) = gated::<u32>(4);
    thread::scope(|s| {
        buf.write(&[1, 2, 3]).unwrap();
        let flusher = s.spawn(|| buf.write(&[4, 5]).unwrap()); // finds it full: flushes
        gate.wait_entered(1);
        // The sink is blocked in the other thread; the second half takes writes.
        buf.write(&[6, 7]).unwrap();
        buf.write_v(&[[8]]).unwrap();
        gate.open();
        flusher.join().unwrap();
    });
    buf.flush().unwrap();
    assert_eq!(
        *batches.lock().unwrap(),
        vec![vec![1, 2, 3], vec![6, 7, 8], vec![4, 5]]
    );
}

#[test]
fn a_writer_waits_when_both_halves_are_full_and_the_sink_is_busy() {
    let (gate, batches, buf) = gated::<u32>(3);
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        buf.write(&[1, 2]).unwrap();
        let first = s.spawn(|| buf.write(&[3, 4]).unwrap()); // flushes [1, 2], blocks in the sink
        gate.wait_entered(1);
        buf.write(&[5, 6]).unwrap(); // the second half holds [5, 6] (or [3, 4, ..])
        buf.write(&[7]).unwrap(); // now full
        let blocked = s.spawn(|| {
            buf.write(&[8, 9]).unwrap();
            done.store(true, Ordering::SeqCst);
        });
        thread::sleep(Duration::from_millis(100));
        assert!(
            !done.load(Ordering::SeqCst),
            "the write went through with both halves full"
        );
        gate.open();
        first.join().unwrap();
        blocked.join().unwrap();
    });
    buf.flush().unwrap();
    let batches = batches.lock().unwrap();
    assert_eq!(batches[0], [1, 2]);
    assert_eq!(
        batches[1],
        [5, 6, 7],
        "the second half, filled while the sink ran"
    );
    let rest: Vec<u32> = batches[2..].concat();
    assert!(rest == [3, 4, 8, 9] || rest == [8, 9, 3, 4], "{rest:?}");
    assert!(done.load(Ordering::SeqCst));
}

#[test]
fn every_item_is_dropped_exactly_once() {
    let counter = DropCounter::default();
    let items: Vec<_> = (0..10).map(|i| counter.item(i)).collect();
    {
        let buf = Buffer::new(4, |_: &[common::Counted]| Ok::<(), Infallible>(()));
        buf.write(&items[..3]).unwrap();
        buf.write(&items[3..5]).unwrap();
        buf.write_v(&[&items[5..7], &items[7..]]).unwrap(); // too large: staged
        buf.write(&items[..1]).unwrap(); // left for the drop
    }
    drop(items);
    assert_eq!(counter.live(), 0);
}

#[test]
fn items_are_dropped_exactly_once_on_sink_error_and_panic() {
    for panics in [false, true] {
        let counter = DropCounter::default();
        let items: Vec<_> = (0..6).map(|i| counter.item(i)).collect();
        {
            let buf = Buffer::new(4, move |_: &[common::Counted]| {
                assert!(!panics, "sink panics");
                Err("sink fails")
            });
            buf.write(&items[..3]).unwrap();
            buf.write(&items[3..]).unwrap_err(); // flushes and fails
            buf.write(&items[..2]).unwrap_err();
            buf.write_v(&[&items[..], &items[..]]).unwrap_err();
        }
        drop(items);
        assert_eq!(counter.live(), 0, "panics: {panics}");
    }
}

#[test]
fn a_panicking_clone_leaves_no_trace_of_its_write() {
    let counter = DropCounter::default();
    let (batches, mut record) = recorder::<u64>();
    let buf = Buffer::new(8, move |batch: &[common::Counted]| {
        record(&batch.iter().map(|c| c.value).collect::<Vec<_>>())
    });
    let fine = [counter.item(1), counter.item(2)];
    buf.write(&fine).unwrap(); // clones 1 and 2
    let bad = [
        counter.item(3),
        counter.item_panicking_at(4, 4),
        counter.item(5),
    ];
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buf.write(&bad)));
    assert!(panicked.is_err(), "the clone's panic reaches the caller");
    buf.write(&[counter.item(6)]).unwrap();
    buf.flush().unwrap();
    drop(buf);
    drop((fine, bad));
    assert_eq!(*batches.lock().unwrap(), vec![vec![1, 2, 6]]);
    assert_eq!(counter.live(), 0);
}

#[test]
fn an_item_whose_drop_panics_is_still_dropped_only_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    #[derive(Clone)]
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            if DROPS.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("first drop panics");
            }
        }
    }
    let buf = Buffer::new(4, |_: &[Bomb]| Ok::<(), Infallible>(()));
    let original = std::mem::ManuallyDrop::new(Bomb);
    buf.write(std::slice::from_ref(&*original)).unwrap(); // one clone in the buffer
    let flushed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buf.flush()));
    assert!(flushed.is_err(), "the drop's panic reaches the flusher");
    drop(buf);
    assert_eq!(
        DROPS.load(Ordering::SeqCst),
        1,
        "the clone was dropped once"
    );
}

#[test]
fn a_clone_panicking_during_a_large_write_fails_the_buffer() {
    let counter = DropCounter::default();
    let (batches, mut record) = recorder::<u64>();
    let buf = Buffer::new(2, move |batch: &[common::Counted]| {
        record(&batch.iter().map(|c| c.value).collect::<Vec<_>>())
    });
    // Three items through the spare half: the third clone panics after the
    // first two were delivered, so the buffer cannot pretend nothing happened.
    let items = [
        counter.item(1),
        counter.item(2),
        counter.item_panicking_at(3, 3),
    ];
    let parts: [&[common::Counted]; 3] = [&items[..1], &items[1..2], &items[2..]];
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buf.write_v(&parts)));
    assert!(panicked.is_err());
    assert!(matches!(
        buf.write(&[counter.item(4)]),
        Err(Error::Panicked(_))
    ));
    assert!(matches!(buf.flush(), Err(Error::Panicked(_))));
    drop(buf);
    drop(items);
    assert_eq!(*batches.lock().unwrap(), vec![vec![1, 2]]);
    assert_eq!(counter.live(), 0);
}
