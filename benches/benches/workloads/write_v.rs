//! Workload 3, write_v: each message is three parts (a 16-byte header, a
//! 64-byte body, an 8-byte trailer) that must arrive together; a consumer
//! thread checksums the bytes. `mwsr::AsyncBuffer<u8>::write_v` copies the
//! parts in as one run; a channel must either concatenate them into one
//! `Vec` per message or send three items under a lock.

use std::sync::Arc;

use parking_lot::Mutex;

use super::{Checksum, Contender, Entry, Piped, Tally, check_bytes, checksum};

/// Bytes per `AsyncBuffer` half.
pub const CAPACITY: usize = 64 * 1024;
/// Messages the channels can hold: about as many bytes as both halves.
const SLOTS: usize = 2 * CAPACITY / SIZE;
const SIZE: usize = 16 + 64 + 8;

pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            name: "mwsr::AsyncBuffer write_v",
            build: |w| Arc::new(Mwsr::new(w)),
        },
        Entry {
            name: "crossbeam, one Vec per message",
            build: |w| {
                let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(SLOTS);
                let parts: Vec<_> = (0..w).map(parts).collect();
                let send = move |w: usize| {
                    let [header, body, trailer] = &parts[w];
                    let mut message = Vec::with_capacity(SIZE);
                    message.extend_from_slice(header);
                    message.extend_from_slice(body);
                    message.extend_from_slice(trailer);
                    tx.send(message).unwrap();
                };
                Piped::build(w, SIZE as u64, verify, send, move |tally| {
                    consume(&rx, tally)
                })
            },
        },
        Entry {
            name: "crossbeam, 3 sends under a lock",
            build: |w| {
                let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(3 * SLOTS);
                let tx = Mutex::new(tx);
                let parts: Vec<_> = (0..w).map(parts).collect();
                let send = move |w: usize| {
                    let tx = tx.lock();
                    for part in &parts[w] {
                        tx.send(part.to_vec()).unwrap();
                    }
                };
                Piped::build(w, SIZE as u64, verify, send, move |tally| {
                    consume(&rx, tally)
                })
            },
        },
    ]
}

/// Writer `w`'s header, body and trailer.
fn parts(w: usize) -> [Vec<u8>; 3] {
    let fill = |len: usize, salt: usize| (0..len).map(|i| (w * 31 + salt + i) as u8).collect();
    [fill(16, 1), fill(64, 2), fill(8, 3)]
}

fn verify(tally: &Tally, writers: usize, total: u64) {
    let per_writer = total / writers as u64;
    let sum: u64 = (0..writers)
        .map(|w| parts(w).iter().map(|p| checksum(p)).sum::<u64>() * per_writer)
        .sum();
    check_bytes(tally, total * SIZE as u64, sum);
}

/// Drains `rx` in batches until every sender is gone.
fn consume(rx: &crossbeam_channel::Receiver<Vec<u8>>, tally: &Tally) {
    while let Ok(first) = rx.recv() {
        let (bytes, sum) = std::iter::once(first)
            .chain(rx.try_iter())
            .fold((0, 0), |(n, s), m| (n + m.len() as u64, s + checksum(&m)));
        tally.add(bytes, sum);
    }
}

struct Mwsr {
    buf: mwsr::AsyncBuffer<u8, Checksum>,
    parts: Vec<[Vec<u8>; 3]>,
    tally: Arc<Tally>,
}

impl Mwsr {
    fn new(writers: usize) -> Self {
        let tally = Tally::new();
        Self {
            buf: mwsr::AsyncBuffer::new(CAPACITY, Checksum(tally.clone())),
            parts: (0..writers).map(parts).collect(),
            tally,
        }
    }
}

impl Contender for Mwsr {
    fn write(&self, w: usize, count: u64) {
        for _ in 0..count {
            self.buf.write_v(&self.parts[w]).unwrap();
        }
    }

    fn finish_round(&self, _total: u64) {
        self.buf.flush().unwrap();
    }

    fn verify(&self, total: u64) {
        verify(&self.tally, self.parts.len(), total);
    }
}
