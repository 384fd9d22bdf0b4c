//! Criterion benchmarks of the core steps, so that regressions show: the fold (events
//! applied to the projection), the region picture read (kept, and as of an earlier
//! sequence, which computes), the national picture after a write, and the log append
//! (a durable group commit of 1,000 events).
//!
//!   cargo bench --bench core
//!
//! Under `cargo test` each benchmark runs once, as a test.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tilannekuva::api::convert;
use tilannekuva::auth::Principal;
use tilannekuva::domain::{Catalog, Event};
use tilannekuva::projection::{Level, Projection};
use tilannekuva::store::EventLog;
use tilannekuva::write::{synthetic, WriterState};

/// The bundled catalog and `rounds` synthetic submissions of 1,000 observations.
fn events(rounds: usize) -> Vec<Event> {
    let catalog = Catalog::bundled();
    let cells = synthetic::cells(&catalog);
    let who = Principal::system("bench");
    let now = 1_795_737_600_000_000;
    let mut state = WriterState::default();
    let mut out = state.bootstrap(&catalog, now);
    for round in 0..rounds {
        let req = synthetic::submission(&catalog, &cells, round, 1000);
        state
            .prepare(req, &who, now + round as i64, &mut out)
            .expect("a synthetic submission is valid");
    }
    out
}

fn fold(events: &[Event]) -> Projection {
    let mut p = Projection::new();
    for e in events {
        p.apply(e);
    }
    p
}

fn benches(c: &mut Criterion) {
    let events = events(100);
    let mut g = c.benchmark_group("fold");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(10);
    g.bench_function("100k events", |b| b.iter(|| fold(&events)));
    g.finish();

    let p = fold(&events);
    let latest = p.applied();
    let earlier = latest / 2;
    let mut g = c.benchmark_group("region picture");
    g.bench_function("kept, to message", |b| {
        b.iter(|| {
            convert::region_picture_to_proto(
                &p.region_picture("MK02", 2010, p.latest_borders(), latest),
                latest,
            )
        })
    });
    g.bench_function("as of an earlier sequence, to message", |b| {
        b.iter(|| {
            convert::region_picture_to_proto(
                &p.region_picture("MK02", 2010, p.latest_borders(), earlier),
                earlier,
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("national picture");
    g.sample_size(20);
    let next = events.len();
    let extra = {
        let catalog = Catalog::bundled();
        let cells = synthetic::cells(&catalog);
        let mut state = WriterState::default();
        for e in &events {
            state.apply(e);
        }
        let mut out = Vec::new();
        let req = synthetic::submission(&catalog, &cells, next, 1);
        state
            .prepare(
                req,
                &Principal::system("bench"),
                1_795_737_700_000_000,
                &mut out,
            )
            .expect("valid");
        out
    };
    g.bench_function(
        "after a write to its year (recomputes one indicator)",
        |b| {
            let year = extra[0].cell().expect("an observation").1;
            b.iter_batched(
                || {
                    // The year's picture is kept before the write.
                    let p = fold(&events);
                    let _ = p.year_picture(year, (Level::Region, p.latest_borders()), p.applied());
                    p
                },
                |mut p| {
                    for e in &extra {
                        p.apply(e);
                    }
                    let picture =
                        p.year_picture(year, (Level::Region, p.latest_borders()), p.applied());
                    // Returned, so that dropping the projection is not timed.
                    (p, picture)
                },
                BatchSize::LargeInput,
            )
        },
    );
    g.finish();

    let mut g = c.benchmark_group("log append");
    g.throughput(Throughput::Elements(1000));
    g.sample_size(20);
    let dir = tempfile::tempdir().expect("temp dir");
    let log = EventLog::open(dir.path()).expect("open the log");
    let mut chunks = events[..].chunks(1000).cycle();
    let mut appended = 0;
    g.bench_function("1,000 events, durable", |b| {
        b.iter_batched(
            || {
                // Renumbered after what is in the log: the store takes events in order.
                let mut batch: Vec<Event> = chunks.next().expect("cycle").to_vec();
                for e in &mut batch {
                    appended += 1;
                    e.sequence = appended;
                }
                batch
            },
            |batch| log.append(&batch).expect("append"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
