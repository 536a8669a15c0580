//! The pipe's memory: fixed-size pages, allocated when a writer first claims
//! a byte in them and released as the reader moves past them. This file is
//! all of `pipe`'s unsafe code.
//!
//! Writers copy in and the reader reads out without holding the pipe's lock,
//! through [`Span`]s: raw views of part of a page. Soundness rests on the
//! protocol in `state.rs`, under the lock: a writer's span covers bytes it
//! alone has claimed (no other writer claims them, the reader does not read
//! them until the claim is committed); the reader's span covers committed
//! bytes, which nobody writes again; and only the reader releases a page, and
//! only once no span into it can be in use.

use std::collections::BTreeMap;
use std::ptr::NonNull;

use super::ranges::Ranges;
use crate::sync::AccessTracker;

/// At most this many released pages are kept for reuse, so that a pipe in
/// steady state does not go back to the allocator for every page the reader
/// finishes.
const SPARE_PAGES: usize = 4;

/// An owned heap slice held by its raw pointer rather than a `Box`: spans
/// into it are used while the owner moves around inside a map, and moving a
/// `Box` would assert unique access to memory those spans are using.
struct RawSlice<T> {
    ptr: NonNull<T>,
    len: usize,
}

impl<T> RawSlice<T> {
    fn new(boxed: Box<[T]>) -> Self {
        let len = boxed.len();
        let ptr = NonNull::from(Box::leak(boxed)).cast::<T>();
        Self { ptr, len }
    }
}

impl<T> Drop for RawSlice<T> {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len);
        // SAFETY: `ptr` and `len` come from the `Box<[T]>` leaked in `new`,
        // which is rebuilt exactly once, here.
        drop(unsafe { Box::from_raw(slice) });
    }
}

// SAFETY: a `RawSlice<T>` owns its elements as the `Box<[T]>` it was made
// from does; the raw pointer is only there to avoid `Box`'s aliasing rules.
unsafe impl<T: Send> Send for RawSlice<T> {}

/// One page of bytes. Zeroed when allocated (`calloc`, nearly free for fresh
/// memory), so that every byte is initialised and a writer can be handed a
/// page's bytes as a `&mut [u8]` to fill in place. A recycled page keeps
/// its old bytes: still initialised, and not worth a `memset` under the
/// lock.
struct Page {
    bytes: RawSlice<u8>,
    /// Under loom, one tracked cell per byte, so that loom reports any two
    /// unordered accesses to a byte; zero-sized otherwise.
    cells: RawSlice<AccessTracker>,
}

impl Page {
    fn new(size: usize) -> Self {
        Self {
            bytes: RawSlice::new(vec![0; size].into_boxed_slice()),
            cells: RawSlice::new(
                (0..cells_per_page(size))
                    .map(|_| AccessTracker::new())
                    .collect(),
            ),
        }
    }

    /// The span of `len` bytes from `start` within the page.
    fn span(&self, start: usize, len: usize) -> Span {
        assert!(
            start + len <= self.bytes.len,
            "span past the end of its page"
        );
        Span {
            // SAFETY: `start + len <= self.bytes.len` (checked above), so both
            // pointers stay inside (or one past the end of) their allocation.
            ptr: unsafe { self.bytes.ptr.add(start) },
            len,
            // SAFETY: as above; the tracker slice is empty (and `start` 0 for
            // it) outside loom, where `cells_per_page` is 0.
            cells: unsafe { self.cells.ptr.add(start.min(self.cells.len)) },
        }
    }
}

/// Trackers exist only under loom (and the models use pages of a few bytes).
fn cells_per_page(size: usize) -> usize {
    if cfg!(loom) { size } else { 0 }
}

/// A raw view of `len` bytes of one page. Using it is unsafe: see
/// [`bytes_mut`](Self::bytes_mut) and [`bytes`](Self::bytes) for what the
/// caller promises.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    ptr: NonNull<u8>,
    len: usize,
    cells: NonNull<AccessTracker>,
}

// SAFETY: a `Span` is an address and a length; it gives access to nothing
// by itself (every use is an `unsafe fn` with its own contract), so moving or
// sharing it between threads is as safe as doing so with a `usize`.
unsafe impl Send for Span {}
// SAFETY: as for `Send`.
unsafe impl Sync for Span {}

impl Span {
    /// A span of no bytes, into no page.
    pub(super) const EMPTY: Span = Span {
        ptr: NonNull::dangling(),
        len: 0,
        cells: NonNull::dangling(),
    };

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Drops the first `n` bytes from the view.
    pub(super) fn advance(&mut self, n: usize) {
        assert!(n <= self.len, "advanced past the end of a span");
        // SAFETY: `n <= len`, so the pointer stays within (or one past the
        // end of) the span's page.
        self.ptr = unsafe { self.ptr.add(n) };
        if cfg!(loom) {
            // SAFETY: under loom there is one cell per byte: same bounds.
            self.cells = unsafe { self.cells.add(n) };
        }
        self.len -= n;
    }

    fn track(&self, each: impl Fn(&AccessTracker)) {
        if cfg!(loom) {
            for i in 0..self.len {
                // SAFETY: under loom there is one live cell per byte of the
                // page, and the span's page is alive (the callers' contract).
                each(unsafe { self.cells.add(i).as_ref() });
            }
        }
    }

    /// The span's bytes, to write.
    ///
    /// # Safety
    /// The span's page is alive, and no other thread reads or writes these
    /// bytes while the returned slice lives: the caller has reserved them
    /// under the pipe's lock and commits them, under the lock, only after.
    pub(super) unsafe fn bytes_mut<'a>(&self) -> &'a mut [u8] {
        self.track(AccessTracker::write);
        // SAFETY: `len` initialised bytes (pages are zeroed when allocated)
        // in one live page (`Page::span` checks the bounds; the caller's
        // contract keeps the page), accessed by no one else meanwhile (the
        // caller's contract).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The span's bytes.
    ///
    /// # Safety
    /// Every byte of the span was written through
    /// [`bytes_mut`](Self::bytes_mut), and that write happens-before this
    /// call; nobody writes them and the page is not released while the
    /// returned slice lives.
    pub(super) unsafe fn bytes<'a>(&self) -> &'a [u8] {
        self.track(AccessTracker::read);
        // SAFETY: initialised, inside one live page, and not written while
        // the slice lives: the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

/// The pages that hold bytes between the reader's position and the furthest
/// write, keyed by page number (offset / page size).
pub(super) struct Pages {
    size: usize,
    /// Spares are kept only while live and spare pages number fewer than
    /// this, so that a bounded pipe never holds more pages than its window
    /// can touch at once.
    most: usize,
    live: BTreeMap<u64, Page>,
    spare: Vec<Page>,
    peak: usize,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("size", &self.size)
            .field("live", &self.live.len())
            .field("spare", &self.spare.len())
            .finish()
    }
}

impl Pages {
    /// Pages of `size` bytes; spares are kept while fewer than `most` pages
    /// are held.
    pub(super) fn new(size: usize, most: usize) -> Self {
        assert!(size > 0);
        Self {
            size,
            most,
            live: BTreeMap::new(),
            spare: Vec::new(),
            peak: 0,
        }
    }

    fn number(&self, at: u64) -> u64 {
        at / self.size as u64
    }

    /// Bytes held now, live and spare.
    pub(super) fn allocated(&self) -> usize {
        (self.live.len() + self.spare.len()) * self.size
    }

    /// The most [`allocated`](Self::allocated) has been.
    pub(super) fn peak(&self) -> usize {
        self.peak
    }

    /// A span from `at` of at most `max` bytes, ending at the latest at its
    /// page's end; allocates the page if it is not there yet.
    pub(super) fn span(&mut self, at: u64, max: u64) -> Span {
        let number = self.number(at);
        let start = (at % self.size as u64) as usize;
        let len = max.min((self.size - start) as u64) as usize;
        if !self.live.contains_key(&number) {
            let page = self.spare.pop().unwrap_or_else(|| Page::new(self.size));
            self.live.insert(number, page);
            self.peak = self.peak.max(self.allocated());
        }
        self.live[&number].span(start, len)
    }

    /// Releases every page that ends at or below `at`.
    pub(super) fn release_below(&mut self, at: u64) {
        let below = self.number(at);
        while let Some(entry) = self.live.first_entry() {
            if *entry.key() >= below {
                break;
            }
            let page = entry.remove();
            self.recycle(page);
        }
    }

    /// Releases every page that holds no byte of `keep`.
    pub(super) fn release_all_but(&mut self, keep: &Ranges) {
        let size = self.size as u64;
        let unneeded: Vec<u64> = self
            .live
            .keys()
            .copied()
            .filter(|&n| {
                let start = n * size;
                !keep.overlaps(start..start.saturating_add(size))
            })
            .collect();
        for number in unneeded {
            if let Some(page) = self.live.remove(&number) {
                self.recycle(page);
            }
        }
        // Nothing more will be read: keep no spares either.
        self.spare.clear();
    }

    fn recycle(&mut self, page: Page) {
        if self.spare.len() < SPARE_PAGES && self.live.len() + self.spare.len() < self.most {
            self.spare.push(page);
        }
    }
}
