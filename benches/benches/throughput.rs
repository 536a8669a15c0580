//! Throughput of `mwsr` against its peers, workloads 1 to 5 (see
//! `workloads/`), with 1, 2 and 4 writer threads. On a 2-core machine, 4
//! writers measure oversubscription, not scaling.
//!
//! `cargo bench --bench throughput [-- FILTER]`. For ratios
//! measured side by side (interleaved runs), see `cargo compare`
//! (`cargo bench --bench compare`).

mod workloads;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use workloads::{Entry, Rig};

const WRITERS: [usize; 3] = [1, 2, 4];

/// Benchmarks every entry with every writer count; an iteration is one
/// message per writer. Verifies each contender's output afterwards.
fn sweep(c: &mut Criterion, group: &str, entries: Vec<Entry>) {
    let mut group = c.benchmark_group(group);
    for writers in WRITERS {
        group.throughput(Throughput::Elements(writers as u64));
        for entry in &entries {
            // Built on first use, so that benchmarks filtered out cost nothing.
            let mut rig = None;
            group.bench_function(BenchmarkId::new(entry.name, writers), |b| {
                let rig = rig.get_or_insert_with(|| Rig::new((entry.build)(writers), writers));
                b.iter_custom(|iters| rig.round(iters))
            });
            let Some(rig) = rig else { continue };
            rig.verify();
            if let Some(calls) = rig.write_calls() {
                println!(
                    "{}/{writers}: {:.4} write calls per message",
                    entry.name,
                    calls as f64 / rig.total().max(1) as f64
                );
            }
        }
    }
    group.finish();
}

fn bytes_64(c: &mut Criterion) {
    sweep(c, "bytes_sync_64B", workloads::bytes::entries::<64>());
}

fn bytes_1k(c: &mut Criterion) {
    sweep(c, "bytes_sync_1KiB", workloads::bytes::entries::<1024>());
}

fn items(c: &mut Criterion) {
    sweep(c, "items_async", workloads::items::entries());
}

fn write_v(c: &mut Criterion) {
    sweep(c, "write_v_3_parts", workloads::write_v::entries());
}

fn log_file(c: &mut Criterion) {
    sweep(c, "log_to_file_100B", workloads::log_file::entries());
}

fn socket(c: &mut Criterion) {
    sweep(c, "socket_128B", workloads::socket::entries());
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bytes_64, bytes_1k, items, write_v, log_file, socket
}
criterion_main!(benches);
