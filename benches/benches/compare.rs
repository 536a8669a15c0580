//! `mwsr` side by side with its peers, in one run: workloads 1 (bytes/sync),
//! 2 (items/async), 4 (log to file), 5 (socket coalescing) and 8 (rolling
//! files, with 2 and 4 writers) of `benches/workloads/`, interleaved
//! (A B C A B C ...) so that every contender sees the same machine, seven
//! times each. Prints one table of
//! medians and of `mwsr`'s ratio to each peer (the median of the per-round
//! ratios), with the min-max spread. Every round's output is verified.
//!
//! ```text
//! cargo bench --bench compare [-- --reps 7 --round-ms 100 --only N]
//! cargo compare [--reps 7 --round-ms 100 --only N]      # the same, by its alias
//! ```
//!
//! `--only N` runs workload `N` alone (for profiling one of them).
//! Workload 9 (reading segments back) is `cargo bench --bench segments_read`.

mod workloads;

use std::time::{Duration, Instant};

use workloads::support::{Steal, median, min_max, setting};
use workloads::{Entry, Rig};

struct Workload {
    number: usize,
    title: &'static str,
    writers: usize,
    entries: Vec<Entry>,
}

/// One contender's results: messages per second and write calls per
/// message, per round.
#[derive(Default)]
struct Results {
    rates: Vec<f64>,
    calls_per_message: Vec<f64>,
}

fn main() {
    let reps = setting("reps", 7);
    let round = Duration::from_millis(setting("round-ms", 100) as u64);
    let only = setting("only", 0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "compare: {cores} cores, {cpu}; {reps} interleaved rounds of ~{round:?} per contender"
    );
    let workloads = [
        Workload {
            number: 1,
            title: "bytes/sync, 64-byte messages, 2 writers",
            writers: 2,
            entries: workloads::bytes::entries::<64>(),
        },
        Workload {
            number: 2,
            title: "items/async, single u64 items, 2 writers",
            writers: 2,
            entries: workloads::items::entries(),
        },
        Workload {
            number: 4,
            title: "log to file, 100-byte lines, 2 writers",
            writers: 2,
            entries: workloads::log_file::entries(),
        },
        Workload {
            number: 5,
            title: "socket coalescing, 128-byte messages, 4 writers",
            writers: 4,
            entries: workloads::socket::entries(),
        },
        Workload {
            number: 8,
            title: "rolling files (1 MiB), 100-byte lines, 2 writers",
            writers: 2,
            entries: workloads::rolling::entries(),
        },
        Workload {
            number: 8,
            title: "rolling files (1 MiB), 100-byte lines, 4 writers",
            writers: 4,
            entries: workloads::rolling::entries(),
        },
    ];
    let started = Instant::now();
    let steal = Steal::start();
    let chosen: Vec<&Workload> = workloads
        .iter()
        .filter(|w| only == 0 || w.number == only)
        .collect();
    if chosen.is_empty() {
        let numbers: Vec<usize> = workloads.iter().map(|w| w.number).collect();
        eprintln!("--only takes one of {numbers:?}, not {only}");
        std::process::exit(2);
    }
    for workload in chosen {
        run(workload, reps, round);
    }
    println!("\n(total {:.0} s)", started.elapsed().as_secs_f64());
    println!("{}", steal.note());
}

fn run(workload: &Workload, reps: usize, round: Duration) {
    let writers = workload.writers;
    // Messages per writer that take about `round`, from a short trial.
    let sizes: Vec<u64> = workload
        .entries
        .iter()
        .map(|entry| {
            let mut rig = Rig::new((entry.build)(writers), writers);
            let trial = 2_000;
            let took = rig.round(trial).max(Duration::from_micros(1));
            rig.verify();
            let per_writer = trial as f64 * round.as_secs_f64() / took.as_secs_f64();
            (per_writer as u64).clamp(1_000, 20_000_000)
        })
        .collect();
    let mut results: Vec<Results> = workload
        .entries
        .iter()
        .map(|_| Results::default())
        .collect();
    for rep in 0..reps {
        for ((entry, &per_writer), result) in workload.entries.iter().zip(&sizes).zip(&mut results)
        {
            // A fresh rig per round: no contender's idle threads (a
            // disruptor's spinning consumer) run during another's round.
            let mut rig = Rig::new((entry.build)(writers), writers);
            rig.round(per_writer / 10); // warm-up: first touches, page faults
            let before = rig.write_calls();
            let took = rig.round(per_writer);
            rig.verify();
            let messages = per_writer * writers as u64;
            result.rates.push(messages as f64 / took.as_secs_f64());
            if let (Some(before), Some(after)) = (before, rig.write_calls()) {
                result
                    .calls_per_message
                    .push((after - before) as f64 / messages as f64);
            }
        }
        eprint!(
            "\r  {}. {}: round {}/{reps}",
            workload.number,
            workload.title,
            rep + 1
        );
    }
    eprintln!();
    print_table(workload, &mut results);
}

fn print_table(workload: &Workload, results: &mut [Results]) {
    println!("\n{}. {}", workload.number, workload.title);
    // The first per-writer contender, if any, gets a ratio column too.
    let per_writer = workload
        .entries
        .iter()
        .position(|e| e.name.contains("per-writer"))
        .map(|i| results[i].rates.clone());
    let extra = if per_writer.is_some() {
        " per-writer / this (median) | min-max |"
    } else {
        ""
    };
    println!(
        "| contender | M msgs/s (median) | min-max | mwsr / this (median) | min-max |{extra} writes per msg |"
    );
    let extra_rule = if per_writer.is_some() {
        " ---: | ---: |"
    } else {
        ""
    };
    println!("| --- | ---: | ---: | ---: | ---: |{extra_rule} ---: |");
    let ours = results[0].rates.clone();
    for (entry, result) in workload.entries.iter().zip(results.iter_mut()) {
        let ratio_to = |base: &[f64]| -> Vec<f64> {
            base.iter().zip(&result.rates).map(|(a, b)| a / b).collect()
        };
        let mut ratios = ratio_to(&ours);
        let per_writer_cells = per_writer.as_deref().map_or(String::new(), |base| {
            let mut r = ratio_to(base);
            let (lo, hi) = min_max(&r);
            format!(" {:.2}x | {lo:.2}-{hi:.2} |", median(&mut r))
        });
        let (lo, hi) = min_max(&result.rates);
        let (rlo, rhi) = min_max(&ratios);
        let calls = if result.calls_per_message.is_empty() {
            "".to_owned()
        } else {
            format!("{:.4}", median(&mut result.calls_per_message))
        };
        println!(
            "| {} | {:.2} | {:.2}-{:.2} | {:.2}x | {:.2}-{:.2} |{per_writer_cells} {calls} |",
            entry.name,
            median(&mut result.rates) / 1e6,
            lo / 1e6,
            hi / 1e6,
            median(&mut ratios),
            rlo,
            rhi,
        );
    }
}
