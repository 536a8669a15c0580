//! `segments::Writer` under real crashes: a child process appends lines from
//! four threads, each followed by `sync()`, into small rotating segments,
//! and prints each line once its sync returned; the test kills it (SIGKILL)
//! at a random moment, and the next round's child reopens the stream and
//! goes on. At the end every line any child was told is durable is in the
//! stream, whole, once, in its thread's order.
#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::crash;
use mwsr::segments::Writer;

/// Set in the child: the stream's directory and the round number.
const CHILD: &str = "MWSR_SEGMENTS_CRASH_CHILD";
const TEST: &str = "synced_appends_survive_sigkill";
const ROUNDS: u32 = 24;
const THREADS: u32 = 4;

#[test]
fn synced_appends_survive_sigkill() {
    if let Ok(spec) = std::env::var(CHILD) {
        let (round, dir) = spec.split_once(':').expect("round:dir");
        child(round.parse().unwrap(), Path::new(dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked: HashMap<(u32, u32), u64> = HashMap::new();
    for round in 0..ROUNDS {
        let killed = crash::run_and_kill(TEST, CHILD, &format!("{round}:{}", dir.path().display()));
        for ack in killed.lines.iter().filter_map(|l| l.strip_prefix(b"ack ")) {
            let text = std::str::from_utf8(ack).unwrap();
            let mut id = text.split(' ').map(|f| f.parse::<u64>().unwrap());
            let (r, t, seq) = (id.next().unwrap(), id.next().unwrap(), id.next().unwrap());
            let top = acked.entry((r as u32, t as u32)).or_default();
            *top = (*top).max(seq + 1);
        }
    }
    // Reopening after the last kill must work too.
    Writer::open(dir.path()).unwrap().close().unwrap();
    let (stream, _) = common::segment_files(dir.path());
    let text = String::from_utf8(stream).unwrap();
    let mut found: HashMap<(u32, u32), u64> = HashMap::new();
    let mut torn = 0;
    for l in text.split('\n').filter(|l| !l.is_empty()) {
        let Some((round, t, seq)) = crash::parse_line(l) else {
            torn += 1; // an append a kill cut short: never acknowledged
            continue;
        };
        let next = found.entry((round, t)).or_default();
        assert_eq!(
            seq, *next,
            "round {round} thread {t}: out of order or twice"
        );
        *next += 1;
    }
    let total: u64 = acked.values().sum();
    assert!(total > 0, "no child acknowledged anything");
    for (&(round, t), &count) in &acked {
        let have = found.get(&(round, t)).copied().unwrap_or(0);
        assert!(
            have >= count,
            "round {round} thread {t}: {count} acknowledged, {have} in the stream"
        );
    }
    let segments = std::fs::read_dir(dir.path()).unwrap().count();
    eprintln!(
        "{ROUNDS} kills, {total} acknowledged lines, all present; {torn} torn fragments; {segments} files"
    );
}

/// The child: reopen, report, append from four threads until killed (or,
/// should the parent be gone, for at most 30 s).
fn child(round: u32, dir: &Path) -> ! {
    let log = Writer::builder()
        .segment_size(64 << 10)
        .capacity(16 << 10)
        .open(dir)
        .unwrap();
    // Ends a line the last kill may have torn, so that it stays a fragment
    // of its own rather than the start of this round's first line.
    log.append(b"\n").unwrap();
    crash::ready(&format!("end={}", log.stats().end));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let log = &log;
            s.spawn(move || {
                let start = std::time::Instant::now();
                for seq in 0.. {
                    log.append(crash::line(round, t, seq).as_bytes()).unwrap();
                    log.sync().unwrap();
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
