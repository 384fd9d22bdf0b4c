//! Memory stays bounded as the log grows: the projection and the write state hold at most
//! a stated number of heap bytes per event, counted by a global allocator that tracks live
//! bytes (not timed, not the process's resident size: the heap the fold keeps).

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

#[test]
fn the_fold_keeps_a_bounded_number_of_bytes_per_event() {
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
