//! No heap allocation per write or per flush once a `Buffer` exists.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::hint::black_box;

/// Counts this thread's allocations (other test threads do not disturb it).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised
// thread local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn writes_and_flushes_do_not_allocate() {
    for order in [mwsr::WriteOrder::Global, mwsr::WriteOrder::PerWriter] {
        writes_and_flushes_do_not_allocate_in(order);
    }
}

fn writes_and_flushes_do_not_allocate_in(order: mwsr::WriteOrder) {
    let mut checksum = 0u64;
    let buf = mwsr::Buffer::builder()
        .capacity(256)
        .write_order(order)
        .build_fn(|batch: &[u8]| {
            checksum = batch
                .iter()
                .fold(checksum, |c, &b| c.rotate_left(5) ^ u64::from(b));
            Ok::<(), Infallible>(())
        })
        .unwrap();
    let small = [7u8; 16];
    let parts: [&[u8]; 3] = [b"header:", &small, b"\n"];
    let big = [1u8; 600];
    let round = |buf: &mwsr::Buffer<u8, _>| {
        for _ in 0..100 {
            buf.write(black_box(&small)).unwrap(); // fills, then flushes inline
            buf.write_v(black_box(&parts)).unwrap();
        }
        buf.write_v(&[&big[..100], &big[..300], &big]).unwrap(); // staged and direct
        for n in 0..20 {
            // Formats into the thread's scratch vector, reused.
            writeln!(buf, "line {n} of {}", black_box("a round")).unwrap();
        }
        buf.flush().unwrap();
    };
    round(&buf); // warm up
    let before = allocations();
    for _ in 0..50 {
        round(&buf);
    }
    let during = allocations() - before;
    drop(buf);
    assert_ne!(checksum, 0);
    assert_eq!(
        during, 0,
        "allocations during 50 rounds of writes and flushes ({order:?})"
    );
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    black_box(Vec::<u8>::with_capacity(black_box(10)));
    assert_eq!(allocations() - before, 1);
}
