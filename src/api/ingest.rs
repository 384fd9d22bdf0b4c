//! IngestService: submissions (one at a time or streamed) and retractions.

use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status, Streaming};

use super::convert;
use super::gate::principal;
use super::stream::{async_stream_of, revoked, stopping, stream_permit, BoxStream, Streams};
use super::{observe, Writes};
use crate::metrics::Metrics;
use crate::proto;
use crate::write::{Receipt, RetractInput, SubmitInput, WriteRequest};

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
pub(crate) struct IngestApi {
    writes: Writes,
    streams: Streams,
    metrics: Arc<Metrics>,
}

impl IngestApi {
    pub(crate) fn new(writes: Writes, streams: Streams, metrics: Arc<Metrics>) -> IngestApi {
        IngestApi {
            writes,
            streams,
            metrics,
        }
    }
}

#[tonic::async_trait]
impl proto::ingest_service_server::IngestService for IngestApi {
    async fn submit(
        &self,
        request: Request<proto::SubmitRequest>,
    ) -> Result<Response<proto::SubmitResponse>, Status> {
        let who = principal(&request)?;
        let input = submit_input(request.into_inner());
        self.writes
            .write(WriteRequest::Submit(input), who)
            .await
            .map(|rc| Response::new(submit_response(rc)))
    }

    type SubmitStreamStream = BoxStream<proto::SubmitResponse>;

    async fn submit_stream(
        &self,
        request: Request<Streaming<proto::SubmitRequest>>,
    ) -> Result<Response<Self::SubmitStreamStream>, Status> {
        let who = principal(&request)?;
        let permit = stream_permit(&self.streams, &request)?;
        let mut inbound = request.into_inner();
        let api = self.clone();
        let auth = self.streams.auth.clone();
        let mut shutdown = self.streams.shutdown.clone();
        // One response per request, in order; one request in flight at a time keeps the
        // order trivially and bounds what a stream can queue.
        let mut tokens = auth.changes();
        let out = async_stream_of(move |tx| async move {
            let _permit = permit;
            loop {
                // Checked at every turn (also when a reload woke it): a stream whose token
                // a reload revoked ends, idle or not.
                if !auth.is_current(&who) {
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
                    .writes
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
            borders: r.borders,
        };
        self.writes
            .write(WriteRequest::Retract(input), who)
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
