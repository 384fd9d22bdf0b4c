//! Concurrent writers against a server that is about to die, a ledger of what they sent
//! and what they were told, and the check of a log against that ledger: shared by the
//! SIGKILL test (tests/crash.rs) and the power-cut test (tests/powerloss.rs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tilannekuva::api::convert::event_from_proto;
use tilannekuva::domain::event::verify_chain;
use tilannekuva::domain::{Event, Observation, Payload, Status, ZERO_HASH};
use tilannekuva::proto;
use tilannekuva::proto::ingest_service_client::IngestServiceClient;
use tonic::transport::Channel;

use super::{events_from, obs, submit_req};

/// Regions, indicators and years the writers touch: few enough that cells get revised.
pub const REGIONS: [&str; 4] = ["MK01", "MK02", "MK11", "MK19"];
pub const INDICATORS: [&str; 6] = [
    "population",
    "natural_increase",
    "net_immigration",
    "gdp_meur",
    "unemployed_persons",
    "land_area_km2",
];
pub const YEARS: std::ops::RangeInclusive<i32> = 2015..=2020;

/// A small deterministic generator (the test must not depend on a random crate).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A submission of 1–5 provisional observations of distinct cells of one region.
pub fn request(id: String, seed: u64) -> proto::SubmitRequest {
    let mut rng = Lcg::new(seed);
    let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
    let n = 1 + rng.below(5) as usize;
    let mut cells = BTreeSet::new();
    let mut observations = Vec::new();
    while observations.len() < n {
        let indicator = INDICATORS[rng.below(INDICATORS.len() as u64) as usize];
        let year = *YEARS.start() + rng.below(YEARS.clone().count() as u64) as i32;
        if cells.insert((indicator, year)) {
            // A fraction unique to the request, so that no observation equals its cell's
            // current value (an unchanged observation is not recorded).
            let value = 1000.0 + rng.below(90_000) as f64 + (seed % 999_983) as f64 * 1e-6;
            observations.push(obs(
                indicator,
                year,
                value,
                proto::ObservationStatus::Provisional,
            ));
        }
    }
    submit_req(&id, region, observations)
}

/// Everything the clients sent and every answer they got, across all rounds.
#[derive(Default)]
pub struct Ledger {
    /// Every request sent, by submission id (recorded before it is sent).
    pub sent: BTreeMap<String, proto::SubmitRequest>,
    /// Acknowledged submissions: (first, last) sequence.
    pub acked: BTreeMap<String, (u64, u64)>,
    /// Submissions acknowledged only on a retry after a crash, as a duplicate: they were
    /// durable although the first attempt got no answer.
    pub acked_as_duplicate: usize,
}

impl Ledger {
    pub fn ack(&mut self, id: &str, r: &proto::SubmitResponse) {
        assert!(r.first_sequence >= 1 && r.last_sequence >= r.first_sequence);
        let expected = self.sent[id].observations.len() as u64;
        assert_eq!(
            r.last_sequence - r.first_sequence + 1,
            expected,
            "{id}: {r:?}"
        );
        if let Some(old) = self
            .acked
            .insert(id.to_owned(), (r.first_sequence, r.last_sequence))
        {
            assert_eq!(
                old,
                (r.first_sequence, r.last_sequence),
                "{id} acknowledged twice differently"
            );
        }
    }

    /// The submissions of `round` (of [`write_round`]) that got no answer.
    pub fn unanswered(&self, round: usize) -> Vec<String> {
        let prefix = format!("r{round}-");
        self.sent
            .keys()
            .filter(|id| id.starts_with(&prefix) && !self.acked.contains_key(*id))
            .cloned()
            .collect()
    }
}

pub async fn connect(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// One writer: submits until the server dies (after `killed` is set) or `stop` is set.
/// An error before the kill fails the test.
pub async fn writer(
    url: String,
    prefix: String,
    seed: u64,
    ledger: Arc<Mutex<Ledger>>,
    acks: Arc<tokio::sync::watch::Sender<usize>>,
    killed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut ing = IngestServiceClient::new(connect(&url).await);
    for n in 0u64.. {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let id = format!("{prefix}-{n}");
        let req = request(id.clone(), seed.wrapping_mul(1000).wrapping_add(n));
        ledger.lock().sent.insert(id.clone(), req.clone());
        match ing.submit(req).await {
            Ok(r) => {
                ledger.lock().ack(&id, r.get_ref());
                acks.send_modify(|a| *a += 1);
            }
            Err(_) if killed.load(Ordering::Acquire) => break,
            Err(status) => return Err(format!("{id}: {status:?} while the server was up")),
        }
    }
    Ok(())
}

/// Runs 16 writers against `url` until `until_acks` acknowledgements, then calls `end`
/// (which kills the server, or asks the writers to stop) and waits for the writers.
pub async fn write_round(
    url: &str,
    round: usize,
    until_acks: usize,
    ledger: &Arc<Mutex<Ledger>>,
    end: impl FnOnce(&AtomicBool, &AtomicBool),
) {
    let (acks, mut acked) = tokio::sync::watch::channel(0usize);
    let acks = Arc::new(acks);
    let killed = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..16)
        .map(|c| {
            tokio::spawn(writer(
                url.to_owned(),
                format!("r{round}-c{c}"),
                (round * 100 + c) as u64,
                ledger.clone(),
                acks.clone(),
                killed.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::timeout(
        Duration::from_secs(60),
        acked.wait_for(|a| *a >= until_acks),
    )
    .await
    .unwrap_or_else(|_| panic!("round {round}: {until_acks} acknowledgements within 60 s"))
    .unwrap();
    end(&killed, &stop);
    for w in writers {
        tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("a writer ends once the server is gone")
            .unwrap()
            .unwrap();
    }
}

/// Submits the requests again, one at a time, as a client retrying after a crash would.
pub async fn retry(url: &str, ids: &[String], ledger: &Arc<Mutex<Ledger>>) {
    let mut ing = IngestServiceClient::new(connect(url).await);
    for id in ids {
        let req = ledger.lock().sent[id].clone();
        let r = ing
            .submit(req)
            .await
            .unwrap_or_else(|s| panic!("retry of {id}: {s:?}"));
        let mut l = ledger.lock();
        if r.get_ref().duplicate {
            l.acked_as_duplicate += 1;
        }
        l.ack(id, r.get_ref());
    }
}

/// The whole log, as served.
pub async fn read_all(url: &str) -> Vec<Event> {
    events_from(connect(url).await, 1)
        .await
        .iter()
        .map(|e| event_from_proto(e).unwrap())
        .collect()
}

/// Checks the log against what the clients sent and were told; returns how many
/// submissions were durable without an acknowledgement, and how many were lost unanswered.
pub fn check_log(events: &[Event], ledger: &Ledger) -> (usize, usize) {
    verify_chain(0, ZERO_HASH, events).expect("the hash chain verifies from sequence 1");
    let mut by_id: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_id.entry(&e.submission_id).or_default().push(e);
    }
    by_id.remove("catalog-bootstrap");
    for (id, evs) in &by_id {
        let sent = ledger
            .sent
            .get(*id)
            .unwrap_or_else(|| panic!("{id} is in the log but was never sent"));
        // Whole or absent: every observation, in order, at consecutive sequences.
        assert_eq!(
            evs.len(),
            sent.observations.len(),
            "{id}: a batch partly present"
        );
        for (i, (e, o)) in evs.iter().zip(&sent.observations).enumerate() {
            assert_eq!(
                e.sequence,
                evs[0].sequence + i as u64,
                "{id}: not consecutive"
            );
            assert_eq!(e.region_code, sent.region_code, "{id}");
            let Payload::ObservationRecorded(rec) = &e.payload else {
                panic!("{id}: event {} is not an observation", e.sequence)
            };
            // Sent without borders: recorded on the division in force, which the catalog of
            // the bundled divisions has.
            assert!(rec.borders.is_some(), "{id}: recorded without borders");
            let want = Observation {
                borders: rec.borders,
                published_micros: None,
                indicator_id: o.indicator_id.clone(),
                year: o.year,
                value: o.value,
                status: Status::Provisional,
                source: o.source.clone(),
                note: String::new(),
                correction_reason: String::new(),
            };
            assert_eq!(
                rec, &want,
                "{id}: event {} differs from what was sent",
                e.sequence
            );
        }
    }
    for (id, (first, last)) in &ledger.acked {
        let evs = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("acknowledged {id} ({first}..={last}) is not in the log"));
        let seqs: Vec<u64> = evs.iter().map(|e| e.sequence).collect();
        assert_eq!(
            seqs,
            (*first..=*last).collect::<Vec<_>>(),
            "{id}: not at its acknowledged sequences"
        );
    }
    let durable_unacked = by_id
        .keys()
        .filter(|id| !ledger.acked.contains_key(**id))
        .count();
    let lost_unacked = ledger
        .sent
        .keys()
        .filter(|id| !ledger.acked.contains_key(*id) && !by_id.contains_key(id.as_str()))
        .count();
    (durable_unacked, lost_unacked)
}

/// Whether a client retries the unanswered submission `id` after the restart.
pub fn retried(id: &str) -> bool {
    id.bytes().map(u64::from).sum::<u64>() % 2 == 0
}
