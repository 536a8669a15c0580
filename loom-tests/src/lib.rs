//! Helpers shared by the loom models in `tests/`. The models only build under
//! `--cfg loom`; `scripts/loom.sh` runs them with the bound the project uses.
#![cfg(loom)]

use loom::sync::{Arc, Mutex};

/// Everything a sink saw, batch by batch.
pub type Seen<T> = Arc<Mutex<Vec<Vec<T>>>>;

/// A sink that records its batches, and the record.
pub fn recording<T>() -> (
    Seen<T>,
    impl FnMut(&[T]) -> Result<(), &'static str> + Send + 'static,
)
where
    T: Clone + Send + 'static,
{
    let seen: Seen<T> = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    (seen, move |batch: &[T]| {
        sink_seen.lock().unwrap().push(batch.to_vec());
        Ok(())
    })
}

/// The stream: all batches joined.
pub fn stream<T: Clone>(seen: &Seen<T>) -> Vec<T> {
    seen.lock().unwrap().concat()
}

/// Asserts `stream` holds exactly the items of `calls` (each a writer's
/// sequence of calls), each call contiguous, each writer's calls in order.
pub fn assert_interleaving(stream: &[u32], writers: &[&[&[u32]]]) {
    let mut next = vec![0; writers.len()];
    let mut at = 0;
    while at < stream.len() {
        let (w, call) = writers
            .iter()
            .enumerate()
            .find_map(|(w, calls)| {
                calls
                    .get(next[w])
                    .filter(|c| stream[at..].starts_with(c))
                    .map(|c| (w, c))
            })
            .unwrap_or_else(|| panic!("{stream:?} is no interleaving of {writers:?}"));
        next[w] += 1;
        at += call.len();
    }
    for (w, calls) in writers.iter().enumerate() {
        assert_eq!(
            next[w],
            calls.len(),
            "writer {w}'s calls are missing from {stream:?}"
        );
    }
}
