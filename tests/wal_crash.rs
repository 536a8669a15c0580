//! `record::Wal` under real crashes: a child process appends with
//! `append_sync` from four threads and prints each record as its sync
//! returns; the test kills it (SIGKILL) at a random moment, and the next
//! round's child reopens the log with `Wal::open` (which must find no
//! damage, only torn writes) and goes on. At the end, every record any
//! child was told is durable is in the log exactly once, in its thread's
//! order, and the whole log reads back strictly.
#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::crash;
use mwsr::record::{Mode, Reader, Wal};

/// Set in the child: the log's path and the round number.
const CHILD: &str = "MWSR_WAL_CRASH_CHILD";
const TEST: &str = "acknowledged_records_survive_sigkill";
const ROUNDS: u32 = 40;
const THREADS: u32 = 4;

/// Thread `t`'s `seq`-th record in round `round`: its id, then filler
/// whose length varies up to more than half a block, so that batches cross
/// blocks and a kill can tear any kind of chunk.
fn payload(round: u32, t: u32, seq: u64) -> Vec<u8> {
    let mut r = format!("{round} {t} {seq} ").into_bytes();
    let len = (seq as usize * 7919 + t as usize * 104_729) % 20_000;
    r.resize(r.len() + len, b'a' + (seq % 26) as u8);
    r
}

fn parse(record: &[u8]) -> (u32, u32, u64) {
    let text = String::from_utf8_lossy(&record[..record.len().min(40)]);
    let mut fields = text.split(' ');
    let mut next = || fields.next().expect("an id field");
    let id = (next().parse(), next().parse(), next().parse());
    match id {
        (Ok(round), Ok(t), Ok(seq)) => (round, t, seq),
        _ => panic!("a record without its id: {text:?}"),
    }
}

#[test]
fn acknowledged_records_survive_sigkill() {
    if let Ok(spec) = std::env::var(CHILD) {
        let (round, path) = spec.split_once(':').expect("round:path");
        child(round.parse().unwrap(), Path::new(path));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.log");
    let mut acked: HashMap<(u32, u32), u64> = HashMap::new();
    let mut torn_rounds = 0;
    for round in 0..ROUNDS {
        let killed = crash::run_and_kill(TEST, CHILD, &format!("{round}:{}", path.display()));
        if killed.ready.contains("torn") {
            torn_rounds += 1;
        }
        // A kill cuts writes short but damages nothing, also where the log
        // writes into space it zero-filled ahead.
        assert!(
            !killed.ready.contains("damaged"),
            "round {round}: {}",
            killed.ready
        );
        for line in &killed.lines {
            if let Some(ack) = line.strip_prefix(b"ack ") {
                let (r, t, seq) = parse(ack);
                let top = acked.entry((r, t)).or_default();
                *top = (*top).max(seq + 1);
            }
        }
    }
    // The last kill may have torn the tail too: recover, then read strictly.
    Wal::open(&path).unwrap().close().unwrap();
    let log = std::fs::read(&path).unwrap();
    let mut found: HashMap<(u32, u32), u64> = HashMap::new();
    let mut reader = Reader::with_mode(&log[..], Mode::Strict);
    let mut record = Vec::new();
    while reader.read_record(&mut record).unwrap() {
        let (round, t, seq) = parse(&record);
        let next = found.entry((round, t)).or_default();
        assert_eq!(
            seq, *next,
            "round {round} thread {t}: out of order or twice"
        );
        assert_eq!(
            record,
            payload(round, t, seq),
            "round {round} thread {t} record {seq}"
        );
        *next += 1;
    }
    let total: u64 = acked.values().sum();
    assert!(total > 0, "no child acknowledged anything");
    for (&(round, t), &count) in &acked {
        let have = found.get(&(round, t)).copied().unwrap_or(0);
        assert!(
            have >= count,
            "round {round} thread {t}: {count} acknowledged, {have} in the log"
        );
    }
    eprintln!(
        "{ROUNDS} kills, {total} acknowledged records, all present; \
         {torn_rounds} opens cut a torn tail"
    );
}

/// The child: reopen, report, append from four threads until killed (or,
/// should the parent be gone, for at most 30 s).
fn child(round: u32, path: &Path) -> ! {
    let wal = Wal::open(path).unwrap();
    let end = wal.recovery();
    crash::ready(&format!(
        "intact={} cut={}{}{}",
        end.intact_len,
        end.cut_bytes(),
        if end.torn { " torn" } else { "" },
        if end.damaged { " damaged" } else { "" }
    ));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let wal = &wal;
            s.spawn(move || {
                let start = std::time::Instant::now();
                for seq in 0.. {
                    wal.append_sync(&payload(round, t, seq)).unwrap();
                    // Printed only once durable: the parent's ground truth.
                    println!("ack {round} {t} {seq}");
                    if start.elapsed() > Duration::from_secs(30) {
                        break;
                    }
                }
            });
        }
    });
    std::process::exit(0)
}
