//! IngestService, PictureService, CatalogService, RoundService and AdminService.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::Stream;
use parking_lot::RwLock;
use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

use super::convert;
use super::gate::principal;
use super::{invalid, observe, write_status, MIN_SEQUENCE_WAIT};
use crate::auth::{Auth, Principal, Refusal};
use crate::metrics::Metrics;
use crate::projection::{AsOf, Projection};
use crate::proto;
use crate::store::EventLog;
use crate::write::{Receipt, RetractInput, SubmitInput, WriteError, WriteRequest, Writer};

fn submit_input(r: proto::SubmitRequest) -> SubmitInput {
    SubmitInput {
        submission_id: r.submission_id,
        region_code: r.region_code,
        expected_region_revision: r.expected_region_revision,
        observations: r
            .observations
            .into_iter()
            .map(convert::observation_input)
            .collect(),
        validate_only: r.validate_only,
    }
}

fn submit_response(rc: Receipt) -> proto::SubmitResponse {
    let cells = |cells: Vec<(String, i32)>| {
        cells
            .into_iter()
            .map(|(indicator_id, year)| proto::CellKey { indicator_id, year })
            .collect()
    };
    proto::SubmitResponse {
        first_sequence: rc.first_sequence,
        last_sequence: rc.last_sequence,
        region_revision: rc.region_revision,
        duplicate: rc.duplicate,
        receipt_hash: rc.receipt_hash.map(hex::encode).unwrap_or_default(),
        recorded: rc.recorded,
        unchanged: rc.unchanged,
        retracted_since: cells(rc.retracted_since),
        revised_since: cells(rc.revised_since),
    }
}

/// IngestService.
#[derive(Clone)]
pub struct IngestApi {
    pub auth: Arc<Auth>,
    /// Permits for open streaming calls (shared with PictureService).
    pub streams: Arc<tokio::sync::Semaphore>,
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
    /// Becomes true when the server shuts down: open streams end so shutdown completes.
    pub shutdown: watch::Receiver<bool>,
}

impl IngestApi {
    async fn write(&self, req: WriteRequest, principal: Arc<Principal>) -> Result<Receipt, Status> {
        let r = self.writer.write(req, principal).await;
        if let Err(WriteError::PermissionDenied(_)) = &r {
            self.auth.refuse(Refusal::PermissionDenied);
        }
        r.map_err(write_status)
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl proto::ingest_service_server::IngestService for IngestApi {
    async fn submit(
        &self,
        request: Request<proto::SubmitRequest>,
    ) -> Result<Response<proto::SubmitResponse>, Status> {
        async {
            let who = principal(&request)?;
            let input = submit_input(request.into_inner());
            self.write(WriteRequest::Submit(input), who)
                .await
                .map(|rc| Response::new(submit_response(rc)))
        }
        .await
    }

    type SubmitStreamStream = BoxStream<proto::SubmitResponse>;

    async fn submit_stream(
        &self,
        request: Request<Streaming<proto::SubmitRequest>>,
    ) -> Result<Response<Self::SubmitStreamStream>, Status> {
        let who = principal(&request)?;
        let permit = stream_permit(&self.streams)?;
        let mut inbound = request.into_inner();
        let api = self.clone();
        let mut shutdown = self.shutdown.clone();
        // One response per request, in order; one request in flight at a time keeps the
        // order trivially and bounds what a stream can queue.
        let mut tokens = self.auth.changes();
        let out = async_stream_of(move |tx| async move {
            let _permit = permit;
            loop {
                // Checked at every turn (also when a reload woke it): a stream whose token
                // a reload revoked ends, idle or not.
                if !api.auth.is_current(&who) {
                    let _ = tx.send(Err(revoked())).await;
                    return;
                }
                let next = tokio::select! {
                    m = inbound.message() => m,
                    _ = tokens.changed() => continue,
                    _ = stopping(&mut shutdown) => Err(Status::unavailable("the server is shutting down")),
                };
                let msg = match next {
                    Ok(Some(m)) => m,
                    Ok(None) => return,
                    Err(s) => {
                        let _ = tx.send(Err(super::codec::undecodable(s))).await;
                        return;
                    }
                };
                let t = Instant::now();
                let r = api
                    .write(WriteRequest::Submit(submit_input(msg)), who.clone())
                    .await
                    .map(submit_response);
                observe(&api.metrics, "SubmitStream.message", t, &r);
                let stop = r.is_err();
                if tx.send(r).await.is_err() || stop {
                    return;
                }
            }
        });
        Ok(Response::new(out))
    }

    async fn retract(
        &self,
        request: Request<proto::RetractRequest>,
    ) -> Result<Response<proto::RetractResponse>, Status> {
        let who = principal(&request)?;
        let r = request.into_inner();
        let input = RetractInput {
            submission_id: r.submission_id,
            region_code: r.region_code,
            indicator_id: r.indicator_id,
            year: r.year,
            reason: r.reason,
            expected_region_revision: r.expected_region_revision,
        };
        self.write(WriteRequest::Retract(input), who)
            .await
            .map(|rc| {
                Response::new(proto::RetractResponse {
                    sequence: rc.last_sequence,
                    region_revision: rc.region_revision,
                    duplicate: rc.duplicate,
                    receipt_hash: rc.receipt_hash.map(hex::encode).unwrap_or_default(),
                })
            })
    }
}

/// The end of a stream whose token a reload of the auth file revoked or changed.
fn revoked() -> Status {
    Status::unauthenticated(
        "the token of this stream was revoked or changed by a reload of the auth file",
    )
}

/// A permit for one open stream, or `RESOURCE_EXHAUSTED`.
fn stream_permit(
    streams: &Arc<tokio::sync::Semaphore>,
) -> Result<tokio::sync::OwnedSemaphorePermit, Status> {
    streams.clone().try_acquire_owned().map_err(|_| {
        Status::resource_exhausted(format!(
            "too many open streams (at most {}); retry later",
            crate::limits::MAX_OPEN_STREAMS
        ))
    })
}

/// Resolves once the shutdown flag is set (never, if the flag's sender is gone).
async fn stopping(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A stream fed by a task through a small bounded channel (backpressure: the task waits
/// while the client is slow).
fn async_stream_of<T, F, Fut>(f: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// PictureService.
#[derive(Clone)]
pub struct PictureApi {
    pub auth: Arc<Auth>,
    /// Permits for open streaming calls (shared with IngestService).
    pub streams: Arc<tokio::sync::Semaphore>,
    pub projection: Arc<RwLock<Projection>>,
    pub applied: watch::Receiver<u64>,
    pub log: Arc<EventLog>,
    pub metrics: Arc<Metrics>,
    /// Becomes true when the server shuts down: following streams end so shutdown completes.
    pub shutdown: watch::Receiver<bool>,
}

fn as_of(a: &Option<proto::AsOf>) -> Result<AsOf, Status> {
    use proto::as_of::Point;
    match a.as_ref().and_then(|a| a.point.as_ref()) {
        None => Ok(AsOf::Latest),
        Some(Point::Sequence(s)) => Ok(AsOf::Sequence(*s)),
        Some(Point::RecordedAt(t)) => convert::micros_of(t)
            .map(AsOf::RecordedAt)
            .map_err(|d| invalid("as_of.recorded_at", d)),
    }
}

/// Largest year span of one series request: keeps one answer small.
const MAX_SERIES_YEARS: i32 = 300;

impl PictureApi {
    /// Waits (bounded) until the projection has applied `min`.
    async fn wait_for(&self, min: u64) -> Result<(), Status> {
        if min == 0 || *self.applied.borrow() >= min {
            return Ok(());
        }
        let mut rx = self.applied.clone();
        let reached = tokio::time::timeout(MIN_SEQUENCE_WAIT, rx.wait_for(|s| *s >= min))
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false);
        match reached {
            true => Ok(()),
            false => Err(Status::deadline_exceeded(format!(
                "the projection has not reached sequence {min} within {MIN_SEQUENCE_WAIT:?}"
            ))),
        }
    }

    /// Resolves a region code with the latest catalog: a code names the same region at
    /// every as-of point, also before the region had any data.
    fn region(&self, p: &Projection, code: &str) -> Result<String, Status> {
        p.catalog()
            .resolve_region(code)
            .map(|r| r.code.clone())
            .ok_or_else(|| invalid("region_code", format!("unknown region {code:?}")))
    }
}

/// The current year by the server's clock (UTC), for the default span of a series.
fn current_year() -> i32 {
    use chrono::Datelike;
    chrono::Utc::now().year()
}

fn check_year(year: i32, field: &str) -> Result<(), Status> {
    if !(1000..=9999).contains(&year) {
        return Err(invalid(
            field,
            format!("year {year} must be within 1000..9999"),
        ));
    }
    Ok(())
}

#[tonic::async_trait]
impl proto::picture_service_server::PictureService for PictureApi {
    async fn get_region_picture(
        &self,
        request: Request<proto::GetRegionPictureRequest>,
    ) -> Result<Response<proto::GetRegionPictureResponse>, Status> {
        async {
            principal(&request)?;
            let req = request.into_inner();
            check_year(req.year, "year")?;
            let point = as_of(&req.as_of)?;
            self.wait_for(req.min_sequence).await?;
            let (picture, seq) = {
                let p = self.projection.read();
                let seq = p.resolve(point);
                let region = self.region(&p, &req.region_code)?;
                (p.region_picture(&region, req.year, seq), seq)
            };
            Ok(Response::new(convert::region_picture_to_proto(
                &picture, seq,
            )))
        }
        .await
    }

    async fn get_national_picture(
        &self,
        request: Request<proto::GetNationalPictureRequest>,
    ) -> Result<Response<proto::GetNationalPictureResponse>, Status> {
        async {
            principal(&request)?;
            let req = request.into_inner();
            check_year(req.year, "year")?;
            let point = as_of(&req.as_of)?;
            self.wait_for(req.min_sequence).await?;
            let (picture, seq) = {
                let p = self.projection.read();
                let seq = p.resolve(point);
                (p.year_picture(req.year, seq), seq)
            };
            Ok(Response::new(convert::national_picture_to_proto(
                &picture, seq,
            )))
        }
        .await
    }

    async fn get_series(
        &self,
        request: Request<proto::GetSeriesRequest>,
    ) -> Result<Response<proto::GetSeriesResponse>, Status> {
        async {
            principal(&request)?;
            let req = request.into_inner();
            let point = as_of(&req.as_of)?;
            self.wait_for(req.min_sequence).await?;
            let p = self.projection.read();
            let seq = p.resolve(point);
            let region = self.region(&p, &req.region_code)?;
            let catalog = p.catalog_at(seq);
            let ind = catalog.indicators.get(&req.indicator_id).ok_or_else(|| {
                invalid(
                    "indicator_id",
                    format!("unknown indicator {:?}", req.indicator_id),
                )
            })?;
            let (first, last) = ind.default_years(current_year());
            let (from, to) = match (req.from_year, req.to_year) {
                (0, 0) => (first, last),
                (f, 0) => (f, last),
                (0, t) => (first, t),
                (f, t) => (f, t),
            };
            let (from, to) = (from.max(first), to.min(last));
            if to < from {
                return Err(invalid("to_year", "to_year is before from_year"));
            }
            if to - from >= MAX_SERIES_YEARS {
                return Err(invalid(
                    "from_year",
                    format!("at most {MAX_SERIES_YEARS} years per request"),
                ));
            }
            let points = p.series(&region, ind, from, to, seq);
            drop(p);
            Ok(Response::new(convert::series_to_proto(&points, seq)))
        }
        .await
    }

    async fn get_observation_history(
        &self,
        request: Request<proto::GetObservationHistoryRequest>,
    ) -> Result<Response<proto::GetObservationHistoryResponse>, Status> {
        async {
            principal(&request)?;
            let req = request.into_inner();
            check_year(req.year, "year")?;
            let point = as_of(&req.as_of)?;
            self.wait_for(req.min_sequence).await?;
            // The trail's sequences come from memory, the revisions themselves from the log.
            let (seq, region, trail) = {
                let p = self.projection.read();
                let seq = p.resolve(point);
                let region = self.region(&p, &req.region_code)?;
                if !p.catalog_at(seq).indicators.contains_key(&req.indicator_id) {
                    return Err(invalid(
                        "indicator_id",
                        format!("unknown indicator {:?}", req.indicator_id),
                    ));
                }
                let trail = p.trail(&region, &req.indicator_id, req.year, seq);
                (seq, region, trail)
            };
            let wanted = trail.len();
            let log = self.log.clone();
            let read = tokio::task::spawn_blocking(move || log.read_at(&trail)).await;
            let cell = Some((req.indicator_id.as_str(), req.year));
            match read {
                // Every revision of the trail, each an event of this cell.
                Ok(Ok(events))
                    if events.len() == wanted
                        && events
                            .iter()
                            .all(|e| e.region_code == region && e.cell() == cell) =>
                {
                    Ok(Response::new(convert::history_to_proto(&events, seq)))
                }
                other => {
                    match other {
                        Ok(Ok(events)) => tracing::error!(
                            found = events.len(),
                            wanted,
                            "GetObservationHistory: the log does not hold the cell's revisions \
                             the projection lists"
                        ),
                        other => {
                            tracing::error!(?other, "GetObservationHistory: store read failed")
                        }
                    }
                    self.metrics.store_errors.inc();
                    Err(Status::internal("reading the log failed"))
                }
            }
        }
        .await
    }

    async fn get_group_picture(
        &self,
        request: Request<proto::GetGroupPictureRequest>,
    ) -> Result<Response<proto::GetGroupPictureResponse>, Status> {
        principal(&request)?;
        let req = request.into_inner();
        check_year(req.year, "year")?;
        let point = as_of(&req.as_of)?;
        self.wait_for(req.min_sequence).await?;
        let (picture, seq) = {
            let p = self.projection.read();
            let seq = p.resolve(point);
            let picture = p.group_picture(&req.group_id, req.year, seq);
            (picture, seq)
        };
        let picture = picture.ok_or_else(|| {
            invalid(
                "group_id",
                format!(
                    "unknown peer group {:?} (as of sequence {seq})",
                    crate::domain::validate::clip(&req.group_id)
                ),
            )
        })?;
        Ok(Response::new(convert::group_picture_to_proto(
            &picture, seq,
        )))
    }

    type ReadEventsStream = BoxStream<proto::ReadEventsResponse>;

    async fn read_events(
        &self,
        request: Request<proto::ReadEventsRequest>,
    ) -> Result<Response<Self::ReadEventsStream>, Status> {
        let who = principal(&request)?;
        let permit = stream_permit(&self.streams)?;
        let req = request.into_inner();
        let log = self.log.clone();
        let mut applied = self.applied.clone();
        let auth = self.auth.clone();
        let mut tokens = self.auth.changes();
        let metrics = self.metrics.clone();
        let mut shutdown = self.shutdown.clone();
        let out = async_stream_of(move |tx| async move {
            let _permit = permit;
            /// Events read from sled per blocking call: large enough to amortise the call,
            /// small enough to keep one read short.
            const BATCH: usize = 1024;
            let mut next = req.from_sequence.max(1);
            loop {
                // At every batch and wake-up: a reload may have revoked the token (also
                // between the gate's check and the subscription to reloads).
                if !auth.is_current(&who) {
                    let _ = tx.send(Err(revoked())).await;
                    return;
                }
                // Only what the projection has applied is read, so a follower never sees
                // an event before it is durable and visible.
                let upto = *applied.borrow_and_update();
                if next <= upto {
                    let l = log.clone();
                    let read = tokio::task::spawn_blocking(move || l.read_from(next, BATCH)).await;
                    let events = match read {
                        Ok(Ok(ev)) => ev,
                        other => {
                            tracing::error!(?other, "ReadEvents: store read failed");
                            metrics.store_errors.inc();
                            let _ = tx
                                .send(Err(Status::internal("reading the log failed")))
                                .await;
                            return;
                        }
                    };
                    for e in events.iter().filter(|e| e.sequence <= upto) {
                        let msg = proto::ReadEventsResponse {
                            event: Some(convert::event_to_proto(e)),
                        };
                        if tx.send(Ok(msg)).await.is_err() {
                            return;
                        }
                        next = e.sequence + 1;
                    }
                    continue;
                }
                if !req.follow {
                    return;
                }
                tokio::select! {
                    changed = applied.changed() => if changed.is_err() { return },
                    // A reload that revoked (or changed) this stream's token ends it.
                    _ = tokens.changed() => if !auth.is_current(&who) {
                        let _ = tx.send(Err(revoked())).await;
                        return;
                    },
                    _ = tx.closed() => return,
                    _ = stopping(&mut shutdown) => {
                        let _ = tx.send(Err(Status::unavailable("the server is shutting down"))).await;
                        return;
                    }
                }
            }
        });
        Ok(Response::new(out))
    }
}

/// CatalogService.
#[derive(Clone)]
pub struct CatalogApi {
    pub projection: Arc<RwLock<Projection>>,
    pub ingest: IngestApi,
}

#[tonic::async_trait]
impl proto::catalog_service_server::CatalogService for CatalogApi {
    async fn list_regions(
        &self,
        request: Request<proto::ListRegionsRequest>,
    ) -> Result<Response<proto::ListRegionsResponse>, Status> {
        principal(&request)?;
        let catalog = self.projection.read().catalog();
        Ok(Response::new(proto::ListRegionsResponse {
            regions: catalog
                .regions
                .values()
                .map(convert::region_to_proto)
                .collect(),
        }))
    }

    async fn list_indicators(
        &self,
        request: Request<proto::ListIndicatorsRequest>,
    ) -> Result<Response<proto::ListIndicatorsResponse>, Status> {
        (|| {
            principal(&request)?;
            let theme = match request.get_ref().theme.as_deref() {
                None | Some("") => None,
                Some(t) => Some(
                    crate::domain::Theme::parse(t)
                        .ok_or_else(|| invalid("theme", format!("unknown theme {t:?}")))?,
                ),
            };
            let catalog = self.projection.read().catalog();
            Ok(Response::new(proto::ListIndicatorsResponse {
                indicators: catalog
                    .indicators
                    .values()
                    .filter(|i| theme.is_none_or(|t| i.theme == t))
                    .map(convert::indicator_to_proto)
                    .collect(),
            }))
        })()
    }

    async fn define_indicator(
        &self,
        request: Request<proto::DefineIndicatorRequest>,
    ) -> Result<Response<proto::DefineIndicatorResponse>, Status> {
        async {
            let who = principal(&request)?;
            let req = request.into_inner();
            let def = req
                .indicator
                .as_ref()
                .ok_or_else(|| invalid("indicator", "required"))?;
            let indicator = convert::indicator_from_proto(def).map_err(|(f, d)| invalid(&f, d))?;
            let rc = self
                .ingest
                .write(
                    WriteRequest::DefineIndicator {
                        submission_id: req.submission_id.clone(),
                        indicator,
                    },
                    who,
                )
                .await?;
            Ok(Response::new(proto::DefineIndicatorResponse {
                sequence: rc.last_sequence,
                duplicate: rc.duplicate,
            }))
        }
        .await
    }

    async fn list_groups(
        &self,
        request: Request<proto::ListGroupsRequest>,
    ) -> Result<Response<proto::ListGroupsResponse>, Status> {
        principal(&request)?;
        let catalog = self.projection.read().catalog();
        Ok(Response::new(proto::ListGroupsResponse {
            groups: catalog
                .groups
                .values()
                .map(convert::group_to_proto)
                .collect(),
        }))
    }

    async fn define_group(
        &self,
        request: Request<proto::DefineGroupRequest>,
    ) -> Result<Response<proto::DefineGroupResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let group = req
            .group
            .as_ref()
            .ok_or_else(|| invalid("group", "required"))?;
        let rc = self
            .ingest
            .write(
                WriteRequest::DefineGroup {
                    submission_id: req.submission_id.clone(),
                    group: convert::group_from_proto(group),
                },
                who,
            )
            .await?;
        Ok(Response::new(proto::DefineGroupResponse {
            sequence: rc.last_sequence,
            duplicate: rc.duplicate,
            unchanged: rc.unchanged > 0,
        }))
    }
}

/// RoundService: reporting rounds.
#[derive(Clone)]
pub struct RoundApi {
    pub pictures: PictureApi,
    pub ingest: IngestApi,
}

#[tonic::async_trait]
impl proto::round_service_server::RoundService for RoundApi {
    async fn open_round(
        &self,
        request: Request<proto::OpenRoundRequest>,
    ) -> Result<Response<proto::OpenRoundResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        // Permissions first: the writer checks the role, then the year and the deadline
        // (one it cannot read is out of its range).
        // None given: `i64::MIN` ("required"); one that does not read: -1 (out of range).
        let deadline_micros = req
            .deadline
            .as_ref()
            .map_or(i64::MIN, |t| convert::micros_of(t).unwrap_or(-1));
        let year = req.year;
        let round = crate::domain::Round {
            year,
            deadline_micros,
            indicators: req.indicator_ids,
            regions: req.region_codes,
        };
        let rc = self
            .ingest
            .write(
                WriteRequest::OpenRound {
                    submission_id: req.submission_id,
                    round,
                },
                who,
            )
            .await?;
        // The round as recorded (defaults resolved): the projection has applied it.
        let recorded = self
            .pictures
            .projection
            .read()
            .round(year, rc.last_sequence)
            .map(|(_, r)| convert::round_to_proto(r));
        Ok(Response::new(proto::OpenRoundResponse {
            sequence: rc.last_sequence,
            duplicate: rc.duplicate,
            round: recorded,
            unchanged: rc.unchanged > 0,
        }))
    }

    async fn get_round_status(
        &self,
        request: Request<proto::GetRoundStatusRequest>,
    ) -> Result<Response<proto::GetRoundStatusResponse>, Status> {
        principal(&request)?;
        let req = request.into_inner();
        check_year(req.year, "year")?;
        let point = as_of(&req.as_of)?;
        self.pictures.wait_for(req.min_sequence).await?;
        let p = self.pictures.projection.read();
        let seq = p.resolve(point);
        let region = match req.region_code.as_str() {
            "" => None,
            code => Some(self.pictures.region(&p, code)?),
        };
        // Overdue as of the instant asked about: now for the latest state, the instant
        // asked for (at most now) for a time, the record time of the event for a sequence:
        // a past state is judged by its own time.
        let at = match point {
            AsOf::Latest => crate::write::now_micros(),
            AsOf::RecordedAt(t) => t.min(crate::write::now_micros()),
            AsOf::Sequence(_) => p.time_of(seq),
        };
        let status = p.round_status(req.year, seq, at).ok_or_else(|| {
            Status::not_found(format!(
                "no reporting round is open for {} (as of sequence {seq})",
                req.year
            ))
        })?;
        drop(p);
        if let Some(r) = &region {
            if !status.round.regions.contains(r) {
                return Err(invalid(
                    "region_code",
                    format!("the {} round does not expect {r}", req.year),
                ));
            }
        }
        Ok(Response::new(convert::round_status_to_proto(
            &status,
            region.as_deref(),
            seq,
        )))
    }
}

/// Operations on the running server (admin only).
pub struct AdminApi {
    /// Where a promotion is asked for: `None` when this server follows no stream.
    pub promote: Option<tokio::sync::mpsc::Sender<crate::replication::failover::PromoteRequest>>,
    pub stream: String,
}

#[tonic::async_trait]
impl proto::admin_service_server::AdminService for AdminApi {
    async fn promote(
        &self,
        request: Request<proto::PromoteRequest>,
    ) -> Result<Response<proto::PromoteResponse>, Status> {
        let who = principal(&request)?;
        if !who.may_define() {
            return Err(Status::permission_denied(format!(
                "{} ({}) may not promote a server: admin only",
                who.name,
                who.role.as_str()
            )));
        }
        let Some(promote) = &self.promote else {
            return Err(Status::failed_precondition(
                "this server follows no stream (serve --follow): there is nothing to promote",
            ));
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        promote.send(reply).await.map_err(|_| {
            Status::failed_precondition("this server is already the writer, or is stopping")
        })?;
        match answer.await {
            Ok(Ok(sequence)) => Ok(Response::new(proto::PromoteResponse {
                sequence,
                stream: self.stream.clone(),
            })),
            Ok(Err(why)) => Err(Status::failed_precondition(super::cut(&why, 400))),
            Err(_) => Err(Status::unavailable("the promotion was interrupted")),
        }
    }
}
