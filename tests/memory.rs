//! Memory stays bounded as the log grows: the projection and the write state hold at most
//! a stated number of heap bytes per event, counted by a global allocator that tracks live
//! bytes (not timed, not the process's resident size: the heap the fold keeps); and a
//! write cannot make every `/metrics` scrape cost hundreds of megabytes.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use tilannekuva::auth::Principal;
use tilannekuva::domain::{Catalog, Event};
use tilannekuva::projection::Projection;
use tilannekuva::write::{synthetic, WriterState};

/// Live heap bytes of the whole test process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is passed to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes per event the projection may hold: a revision is 32 bytes, its cell's list
/// grows by half (so up to 48 are held), plus a share of the per-cell entries. Measured:
/// 44 (2026-11-27), 44.2 (2026-12-06, the land of its borders in each cell's key).
const PROJECTION_BUDGET: f64 = 56.0;
/// Heap bytes per event the write state may hold beyond its fixed part (per cell and per
/// submission: with submissions of 1,000 observations, a few bytes per event). Measured: 6
/// (2026-11-27); 7.7 (2026-12-06: each cell's key holds the land of its borders too).
const WRITER_BUDGET: f64 = 8.0;

/// `rounds` submissions of 1,000 observations each over the same ~35,000 cells (19
/// regions × the catalog's indicator-years), like `loadgen --batch 1000`: every cell
/// gets many revisions. Returns the events written and the heap bytes the projection and
/// the write state grew by.
fn fold(rounds: usize) -> (usize, isize, isize) {
    let catalog = Catalog::bundled();
    let mut cells = synthetic::cells(&catalog);
    // The same ~35,000 cells whatever the catalog holds: the budgets are per event with
    // every cell revised many times, which a larger catalog would spread thinner.
    cells.truncate(35_000 / 19);
    let who = Principal::system("memory-test");
    let now = 1_795_737_600_000_000;
    let mut state = WriterState::default();
    let mut projection = Projection::new();
    for e in state.bootstrap(&catalog, now) {
        projection.apply(&e);
    }
    let mut events: Vec<Event> = Vec::with_capacity(1000);
    let start = LIVE.load(Ordering::Relaxed);
    let (mut written, mut projection_bytes) = (0, 0isize);
    for round in 0..rounds {
        let req = synthetic::submission(&catalog, &cells, round, 1000);
        state
            .prepare(req, &who, now + round as i64, &mut events)
            .unwrap();
        let before = LIVE.load(Ordering::Relaxed);
        for e in &events {
            projection.apply(e);
        }
        projection_bytes += LIVE.load(Ordering::Relaxed) - before;
        written += events.len();
        // The events are the log's, not the state's (their buffer stays allocated).
        events.clear();
    }
    let buffer = ((events.capacity() - 1000) * std::mem::size_of::<Event>()) as isize;
    let state_bytes = LIVE.load(Ordering::Relaxed) - start - projection_bytes - buffer;
    (written, projection_bytes, state_bytes)
}

/// The live-byte counter is the whole process's: the tests take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_fold_keeps_a_bounded_number_of_bytes_per_event() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (events, projection, state) = fold(300);
    let (p, s) = (
        projection as f64 / events as f64,
        state as f64 / events as f64,
    );
    eprintln!("{events} events: projection {p:.1} bytes/event, write state {s:.1} bytes/event");
    assert!(
        p <= PROJECTION_BUDGET,
        "the projection holds {p:.1} heap bytes per event (budget {PROJECTION_BUDGET})"
    );
    assert!(
        s <= WRITER_BUDGET,
        "the write state holds {s:.1} heap bytes per event (budget {WRITER_BUDGET})"
    );
}

/// What a scrape may keep (the rendered text, each indicator-year's figures it computed)
/// after the write of issue 22: heap bytes over the state before it, the write included.
const SCRAPE_BUDGET_BYTES: isize = 50 << 20;

/// Issue 22, point 5: an admin defines a target indicator (open-ended years, the normal
/// form) and a reporter submits 8,010 observations in one request, one for every year
/// from 1990 to 9999. Scrapes render each indicator's latest years with figures, one
/// indicator-year at a time: the process grows by less than [`SCRAPE_BUDGET_BYTES`] (it
/// grew by 655 MB, and every scrape took 3.4 s, when every year's picture of every
/// indicator was built).
#[test]
fn a_write_cannot_make_scrapes_cost_hundreds_of_megabytes() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(scrapes_after_an_8010_year_target());
}

async fn scrapes_after_an_8010_year_target() {
    use tilannekuva::proto;
    let s = common::InProc::start(false).await;
    let scrape = || async {
        let t = std::time::Instant::now();
        let (status, body) = common::http_get(s.http, "/metrics").await;
        assert_eq!(status, 200);
        (body, t.elapsed())
    };
    scrape().await;
    let before = LIVE.load(Ordering::Relaxed);
    s.catalog()
        .await
        .define_indicator(proto::DefineIndicatorRequest {
            submission_id: "target".into(),
            indicator: Some(proto::Indicator {
                id: "emissions_target".into(),
                name_fi: "Päästötavoite".into(),
                name_en: "Emissions target".into(),
                theme: "climate".into(),
                unit: "kt CO2e".into(),
                direction: proto::Direction::LowerIsBetter as i32,
                min_value: Some(0.0),
                aggregation: proto::Aggregation::Sum as i32,
                min_year: 1990,
                kind: proto::IndicatorKind::Target as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let observations = (1990..=9999)
        .map(|year| {
            common::obs(
                "emissions_target",
                year,
                100.0,
                proto::ObservationStatus::Final,
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(observations.len(), 8010);
    s.ingest()
        .await
        .submit(common::submit_req("targets", "MK01", observations))
        .await
        .unwrap();
    let mut slowest = std::time::Duration::ZERO;
    let mut body = String::new();
    for round in 0..2 {
        // A render per scrape: each follows a new write, and the last render is older than
        // the five seconds a scrape may reuse it for.
        tokio::time::sleep(std::time::Duration::from_millis(5100)).await;
        s.ingest()
            .await
            .submit(common::submit_req(
                &format!("touch-{round}"),
                "MK02",
                vec![common::obs(
                    "population",
                    2021,
                    200_000.0 + f64::from(round),
                    proto::ObservationStatus::Provisional,
                )],
            ))
            .await
            .unwrap();
        let (b, took) = scrape().await;
        slowest = slowest.max(took);
        body = b;
    }
    let grown = LIVE.load(Ordering::Relaxed) - before;
    let shown = body
        .lines()
        .filter(|l| {
            l.starts_with(
                r#"tilannekuva_indicator_value{region="MK01",indicator="emissions_target""#,
            )
        })
        .count();
    eprintln!(
        "8,010 target years: heap grew by {:.1} MB over two renders; the slowest took {slowest:?} \
         (a debug build: BENCHMARKS.md has the release figure); {shown} of its years shown",
        grown as f64 / 1e6
    );
    assert_eq!(
        shown,
        30,
        "the target's latest 30 years:\n{}",
        body.lines()
            .filter(|l| l.contains("emissions_target"))
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        grown < SCRAPE_BUDGET_BYTES,
        "the process grew by {grown} bytes (budget {SCRAPE_BUDGET_BYTES})"
    );
    s.stop().await;
}
