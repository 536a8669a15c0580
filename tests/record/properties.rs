//! Randomised properties: any records round-trip; any damage is survived,
//! and a tolerant reader still finds every record it did not touch.
//! Each case prints its seed on failure.

use std::io::{Read, Write};
use std::ops::Range;

use mwsr::record::{BLOCK_SIZE, Mode, Reader, Writer};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{encode, read_all};

const CASES: u64 = 300;

/// Record lengths that favour the edges: empty, tiny, about a block, and
/// within a header of a block boundary.
fn random_records(rng: &mut SmallRng) -> Vec<Vec<u8>> {
    let n = rng.random_range(0..40);
    (0..n)
        .map(|_| {
            let len = match rng.random_range(0..6) {
                0 => 0,
                1 => rng.random_range(1..20),
                2 => rng.random_range(1..2000),
                3 => BLOCK_SIZE - rng.random_range(0..20),
                4 => rng.random_range(0..3 * BLOCK_SIZE),
                _ => rng.random_range(0..40_000),
            };
            let mut r = vec![0; len];
            rng.fill(&mut r[..]);
            r
        })
        .collect()
}

#[test]
fn random_records_round_trip_through_every_writer_and_reader() {
    for seed in 0..CASES {
        let mut rng = SmallRng::seed_from_u64(seed);
        let records = random_records(&mut rng);
        let (log, spans) = encode(&records);

        let mut streamed = Writer::new(Vec::new());
        for r in &records {
            let mut out = streamed.next();
            let mut left = &r[..];
            while !left.is_empty() {
                let (piece, rest) = left.split_at(rng.random_range(0..=left.len()));
                out.write_all(piece).unwrap();
                left = rest;
            }
            out.finish().unwrap();
        }
        assert_eq!(streamed.into_inner(), log, "seed {seed}");

        assert_eq!(
            read_all(&log, Mode::Strict).unwrap(),
            records,
            "seed {seed}"
        );
        let mut reader = Reader::new(&log[..]);
        let mut i = 0;
        while let Some(mut r) = reader.next().unwrap() {
            assert_eq!(r.offset(), spans[i].0, "seed {seed}");
            let mut bytes = Vec::new();
            r.read_to_end(&mut bytes).unwrap();
            assert_eq!(bytes, records[i], "seed {seed}");
            i += 1;
        }
        assert_eq!(i, records.len(), "seed {seed}");
    }
}

/// One kind of damage, and the byte range of the log it changed.
#[derive(Debug)]
enum Damage {
    BitFlips(Vec<usize>),
    Truncate(usize),
    Zero(Range<usize>),
    Insert(usize, Vec<u8>),
}

impl Damage {
    fn random(rng: &mut SmallRng, len: usize) -> Self {
        match rng.random_range(0..4) {
            0 => {
                let at = rng.random_range(0..len);
                let n = rng.random_range(1..4);
                Self::BitFlips(
                    (0..n)
                        .map(|_| (at + rng.random_range(0..64)).min(len - 1))
                        .collect(),
                )
            }
            1 => Self::Truncate(rng.random_range(0..len)),
            2 => {
                let start = rng.random_range(0..len);
                Self::Zero(start..(start + rng.random_range(1..3 * BLOCK_SIZE)).min(len))
            }
            _ => {
                let mut garbage = vec![0; rng.random_range(1..100)];
                rng.fill(&mut garbage[..]);
                Self::Insert(rng.random_range(0..len), garbage)
            }
        }
    }

    fn apply(&self, log: &mut Vec<u8>, rng: &mut SmallRng) {
        match self {
            Self::BitFlips(at) => at
                .iter()
                .for_each(|&i| log[i] ^= 1 << rng.random_range(0..8)),
            Self::Truncate(len) => log.truncate(*len),
            Self::Zero(range) => log[range.clone()].fill(0),
            Self::Insert(at, garbage) => {
                log.splice(*at..*at, garbage.iter().copied());
            }
        }
    }

    /// Whether the bytes `span` of the original log are still in place in
    /// blocks this damage left alone.
    fn spares(&self, span: (u64, u64)) -> bool {
        let block = |offset: usize| offset / BLOCK_SIZE;
        let (first, last) = (block(span.0 as usize), block(span.1 as usize - 1));
        let untouched =
            |range: Range<usize>| last < block(range.start) || first > block(range.end - 1);
        match self {
            Self::BitFlips(at) => at.iter().all(|&i| untouched(i..i + 1)),
            Self::Truncate(len) => span.1 as usize <= *len,
            Self::Zero(range) => untouched(range.clone()),
            // Everything after the insertion is shifted off its blocks.
            Self::Insert(at, _) => last < block(*at),
        }
    }
}

#[test]
fn random_damage_never_panics_or_hangs_and_tolerant_reading_keeps_what_it_can() {
    let mut damaged_cases = 0;
    for seed in 0..CASES {
        let mut rng = SmallRng::seed_from_u64(seed);
        let records = random_records(&mut rng);
        let (mut log, spans) = encode(&records);
        if log.is_empty() {
            continue;
        }
        let damage = Damage::random(&mut rng, log.len());
        let original = log.clone();
        damage.apply(&mut log, &mut rng);
        damaged_cases += usize::from(log != original);

        // Tolerant: records come out in order, none made up, and every one
        // that lay wholly in blocks the damage spared is among them. Empty
        // records are ignored for "made up": many look alike.
        let read = read_all(&log, Mode::Tolerant).unwrap();
        let mut originals = records.iter();
        for r in &read {
            assert!(
                r.is_empty() || originals.any(|o| o == r),
                "seed {seed}: {damage:?} made up or reordered a record"
            );
        }
        let kept: Vec<_> = records
            .iter()
            .zip(&spans)
            .filter(|&(_, &span)| damage.spares(span))
            .map(|(r, _)| r)
            .collect();
        let mut found = read.iter();
        for r in kept {
            assert!(
                found.any(|f| f == r),
                "seed {seed}: {damage:?} lost a record it spared"
            );
        }

        // Strict, recovering after every error: it ends, and never reads
        // more records than there were.
        let mut reader = Reader::new(&log[..]);
        let (mut record, mut count, mut steps) = (Vec::new(), 0, 0);
        loop {
            steps += 1;
            assert!(
                steps < 10 * (records.len() + log.len() / BLOCK_SIZE + 10),
                "seed {seed}: no progress"
            );
            match reader.read_record(&mut record) {
                Ok(true) => count += 1,
                Ok(false) => break,
                Err(_) => reader.recover(),
            }
        }
        assert!(count <= records.len(), "seed {seed}");
    }
    assert!(
        damaged_cases > CASES as usize / 2,
        "the damage must change most logs"
    );
}
