//! `segments::Objects` under real crashes, on the S3 server (`.ci/run`
//! starts one; see tests/segments_objects.rs for the variables): a child
//! process appends lines from four threads, each followed by `sync()`, and
//! prints each line once its sync returned; the test kills it (SIGKILL) at
//! a random moment, and the next round's child reopens the stream under
//! the same prefix with a new writer, which must resume after the last
//! segment. At the end every line any child was told is durable is in the
//! stream, once, in its thread's order; nothing is torn (an object is
//! uploaded whole or not at all).
#![cfg(all(unix, feature = "s3"))]

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use common::crash;
use mwsr::segments::{Reader, Storage, Writer};

/// Set in the child: the round number and the stream's prefix.
const CHILD: &str = "MWSR_SEGMENTS_S3_CRASH_CHILD";
const TEST: &str = "server_synced_appends_survive_sigkill";
const ROUNDS: u32 = 10;
const THREADS: u32 = 4;

/// The server's storage under `prefix`, or `None` (said) when no server is
/// configured; CI must configure one.
fn server(prefix: &str) -> Option<Arc<dyn Storage>> {
    common::s3::server(TEST, prefix)
}

#[test]
fn server_synced_appends_survive_sigkill() {
    if let Ok(spec) = std::env::var(CHILD) {
        let (round, prefix) = spec.split_once(':').expect("round:prefix");
        child(round.parse().unwrap(), prefix);
    }
    let prefix = format!("crash-{}", std::process::id());
    let Some(storage) = server(&prefix) else {
        return;
    };
    let mut acked: HashMap<(u32, u32), u64> = HashMap::new();
    let mut last_end = 0;
    for round in 0..ROUNDS {
        let killed = crash::run_and_kill(TEST, CHILD, &format!("{round}:{prefix}"));
        // Each writer resumes at the end of what the last one left.
        let end: u64 = killed.ready.strip_prefix("end=").unwrap().parse().unwrap();
        assert!(
            end >= last_end,
            "round {round} resumed at {end}, before {last_end}"
        );
        last_end = end;
        for ack in killed.lines.iter().filter_map(|l| l.strip_prefix(b"ack ")) {
            let text = std::str::from_utf8(ack).unwrap();
            let mut id = text.split(' ').map(|f| f.parse::<u64>().unwrap());
            let (r, t, seq) = (id.next().unwrap(), id.next().unwrap(), id.next().unwrap());
            let top = acked.entry((r as u32, t as u32)).or_default();
            *top = (*top).max(seq + 1);
        }
    }
    // Reopening after the last kill must work too.
    let log = Writer::builder().open_storage(storage.clone()).unwrap();
    assert!(log.stats().end >= last_end);
    log.close().unwrap();
    let mut text = String::new();
    Reader::builder()
        .open_storage(storage)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let mut found: HashMap<(u32, u32), u64> = HashMap::new();
    for l in text.split('\n').filter(|l| !l.is_empty()) {
        let (round, t, seq) =
            crash::parse_line(l).unwrap_or_else(|| panic!("a torn line: {l:.60}"));
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
    let lines: u64 = found.values().sum();
    eprintln!("{ROUNDS} kills, {total} acknowledged lines, all present; {lines} lines stored");
}

/// The child: reopen, report, append from four threads until killed (or,
/// should the parent be gone, for at most 30 s).
fn child(round: u32, prefix: &str) -> ! {
    let log = Writer::builder()
        .segment_size(64 << 10)
        .capacity(16 << 10)
        .open_storage(server(prefix).expect("the parent has a server"))
        .unwrap();
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
