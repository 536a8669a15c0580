//! Sets of disjoint byte ranges in offset space: which bytes are written,
//! which are being written.

use std::collections::BTreeMap;
use std::ops::{Bound, Range};

/// Disjoint, half-open, non-empty ranges, keyed by start.
#[derive(Debug, Default)]
pub(super) struct Ranges {
    by_start: BTreeMap<u64, u64>,
    bytes: u64,
}

impl Ranges {
    pub(super) fn is_empty(&self) -> bool {
        self.by_start.is_empty()
    }

    /// Bytes covered.
    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(super) fn first(&self) -> Option<Range<u64>> {
        self.by_start.first_key_value().map(|(&s, &e)| s..e)
    }

    pub(super) fn last_end(&self) -> Option<u64> {
        self.by_start.last_key_value().map(|(_, &e)| e)
    }

    /// The range that contains `at`.
    pub(super) fn containing(&self, at: u64) -> Option<Range<u64>> {
        let (&start, &end) = self.by_start.range(..=at).next_back()?;
        (end > at).then_some(start..end)
    }

    /// The start of the first range that begins after `at`.
    pub(super) fn next_start_after(&self, at: u64) -> Option<u64> {
        let after = (Bound::Excluded(at), Bound::Unbounded);
        self.by_start.range(after).next().map(|(&s, _)| s)
    }

    /// Adds `r`, which overlaps no range in the set, as its own range.
    pub(super) fn insert(&mut self, r: Range<u64>) {
        debug_assert!(r.start < r.end && self.containing(r.start).is_none());
        self.bytes += r.end - r.start;
        self.by_start.insert(r.start, r.end);
    }

    /// Adds `r`, which overlaps no range in the set, joined with the ranges
    /// it touches, so that a contiguous run is always one range.
    pub(super) fn insert_joined(&mut self, r: Range<u64>) {
        debug_assert!(r.start < r.end && self.containing(r.start).is_none());
        self.bytes += r.end - r.start;
        let mut start = r.start;
        let mut end = r.end;
        if let Some((&s, &e)) = self.by_start.range(..r.start).next_back()
            && e == r.start
        {
            start = s;
        }
        if let Some(e) = self.by_start.remove(&r.end) {
            end = e;
        }
        self.by_start.insert(start, end);
    }

    /// Removes the range that starts at `start` (as inserted).
    pub(super) fn remove(&mut self, start: u64) {
        if let Some(end) = self.by_start.remove(&start) {
            self.bytes -= end - start;
        }
    }

    /// Drops every byte below `at`, cutting a range that straddles it.
    pub(super) fn remove_below(&mut self, at: u64) {
        while let Some(entry) = self.by_start.first_entry() {
            let (start, end) = (*entry.key(), *entry.get());
            if start >= at {
                break;
            }
            entry.remove();
            self.bytes -= end.min(at) - start;
            if end > at {
                self.by_start.insert(at, end);
                break;
            }
        }
    }

    pub(super) fn clear(&mut self) {
        self.by_start.clear();
        self.bytes = 0;
    }

    /// Whether any range overlaps `r`.
    pub(super) fn overlaps(&self, r: Range<u64>) -> bool {
        self.containing(r.start).is_some()
            || self.next_start_after(r.start).is_some_and(|s| s < r.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(set: &Ranges) -> Vec<(u64, u64)> {
        set.by_start.iter().map(|(&s, &e)| (s, e)).collect()
    }

    #[test]
    fn joined_inserts_merge_neighbours_and_count_bytes() {
        let mut set = Ranges::default();
        set.insert_joined(10..20);
        set.insert_joined(30..40);
        set.insert_joined(0..5);
        assert_eq!(ranges(&set), [(0, 5), (10, 20), (30, 40)]);
        set.insert_joined(20..30); // touches both sides
        assert_eq!(ranges(&set), [(0, 5), (10, 40)]);
        set.insert_joined(5..10);
        assert_eq!(ranges(&set), [(0, 40)]);
        assert_eq!(set.bytes(), 40);
    }

    #[test]
    fn plain_inserts_stay_separate() {
        let mut set = Ranges::default();
        set.insert(0..5);
        set.insert(5..9);
        assert_eq!(ranges(&set), [(0, 5), (5, 9)]);
        set.remove(0);
        assert_eq!(ranges(&set), [(5, 9)]);
        assert_eq!(set.bytes(), 4);
    }

    #[test]
    fn lookups() {
        let mut set = Ranges::default();
        set.insert_joined(10..20);
        set.insert_joined(30..40);
        assert_eq!(set.containing(10), Some(10..20));
        assert_eq!(set.containing(19), Some(10..20));
        assert_eq!(set.containing(20), None);
        assert_eq!(set.containing(5), None);
        assert_eq!(set.next_start_after(10), Some(30));
        assert_eq!(set.next_start_after(9), Some(10));
        assert_eq!(set.next_start_after(30), None);
        assert_eq!(set.next_start_after(u64::MAX), None);
        assert!(set.overlaps(0..11));
        assert!(set.overlaps(25..31));
        assert!(!set.overlaps(20..30));
        assert_eq!(set.first(), Some(10..20));
        assert_eq!(set.last_end(), Some(40));
    }

    #[test]
    fn remove_below_cuts_a_straddling_range() {
        let mut set = Ranges::default();
        set.insert_joined(0..10);
        set.insert_joined(20..30);
        set.remove_below(25);
        assert_eq!(ranges(&set), [(25, 30)]);
        assert_eq!(set.bytes(), 5);
        set.remove_below(30);
        assert!(set.is_empty());
        assert_eq!(set.bytes(), 0);
    }
}
