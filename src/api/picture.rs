//! PictureService: thin adapters over [`crate::read`], and the event stream.

use tonic::{Request, Response, Status};

use super::convert;
use super::gate::principal;
use super::stream::{async_stream_of, revoked, stopping, stream_permit, BoxStream, Streams};
use crate::domain::NATIONAL_CODE;
use crate::projection::AsOf;
use crate::proto;
use crate::read::{Point, Reader, Year};

/// PictureService.
#[derive(Clone)]
pub(crate) struct PictureApi {
    reader: Reader,
    streams: Streams,
}

impl PictureApi {
    pub(crate) fn new(reader: Reader, streams: Streams) -> PictureApi {
        PictureApi { reader, streams }
    }

    /// `area`'s targets at the point a picture was read at, for the picture.
    async fn targets(
        &self,
        who: &crate::auth::Principal,
        at: Point,
        area: &str,
    ) -> Result<Vec<proto::TargetProgress>, Status> {
        let a = self.reader.targets(who, at, Some(area), None).await?;
        Ok(convert::targets_to_proto(&a.value, &a.catalog, a.as_of_sequence).targets)
    }
}

/// The point a request asks about.
pub(super) fn point(as_of: &Option<proto::AsOf>, min_sequence: u64) -> Result<Point, Status> {
    use proto::as_of::Point as P;
    let as_of = match as_of.as_ref().and_then(|a| a.point.as_ref()) {
        None => AsOf::Latest,
        Some(P::Sequence(s)) => AsOf::Sequence(*s),
        Some(P::RecordedAt(t)) => convert::micros_of(t)
            .map(AsOf::RecordedAt)
            .map_err(|d| super::invalid("as_of.recorded_at", d))?,
        Some(P::PublishedBy(t)) => convert::micros_of(t)
            .map(AsOf::PublishedBy)
            .map_err(|d| super::invalid("as_of.published_by", d))?,
    };
    Ok(Point {
        as_of,
        min_sequence,
        ..Point::default()
    })
}

/// A year of 0 (proto's unset) is none.
fn given(year: i32) -> Option<i32> {
    (year != 0).then_some(year)
}

/// The level a request names.
fn level(s: &str) -> Result<crate::projection::Level, Status> {
    crate::projection::Level::parse(s).map_err(|why| super::invalid("level", why))
}

#[tonic::async_trait]
impl proto::picture_service_server::PictureService for PictureApi {
    async fn get_disparities(
        &self,
        request: Request<proto::GetDisparitiesRequest>,
    ) -> Result<Response<proto::GetDisparitiesResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let from = Year::new(req.from_year, "from_year")?;
        let to = given(req.to_year)
            .map(|y| Year::new(y, "to_year"))
            .transpose()?;
        let level = level(&req.level)?;
        let at = point(&req.as_of, req.min_sequence)?.with_borders(&req.borders, "borders")?;
        let a = (self.reader)
            .disparities(&who, at, &req.indicator_id, level, (from, to))
            .await?;
        Ok(Response::new(convert::disparities_to_proto(
            &a.value,
            a.as_of_sequence,
        )))
    }

    async fn get_targets(
        &self,
        request: Request<proto::GetTargetsRequest>,
    ) -> Result<Response<proto::GetTargetsResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let at = point(&req.as_of, req.min_sequence)?.with_borders(&req.borders, "borders")?;
        let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        let (area, indicator) = (some(&req.area_code), some(&req.indicator_id));
        let a = (self.reader)
            .targets(&who, at, area.as_deref(), indicator.as_deref())
            .await?;
        Ok(Response::new(convert::targets_to_proto(
            &a.value,
            &a.catalog,
            a.as_of_sequence,
        )))
    }

    async fn get_similar_areas(
        &self,
        request: Request<proto::GetSimilarAreasRequest>,
    ) -> Result<Response<proto::GetSimilarAreasResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let year = Year::new(req.year, "year")?;
        let at = point(&req.as_of, req.min_sequence)?.with_borders(&req.borders, "borders")?;
        let likeness = crate::projection::Likeness {
            indicators: req
                .indicators
                .iter()
                .map(|i| {
                    (
                        i.indicator_id.clone(),
                        if i.weight == 0.0 { 1.0 } else { i.weight },
                    )
                })
                .collect(),
            k: if req.k == 0 {
                crate::read::DEFAULT_SIMILAR
            } else {
                req.k
            } as usize,
        };
        let a = (self.reader)
            .similar(&who, at, &req.region_code, year, likeness)
            .await?;
        Ok(Response::new(convert::similar_to_proto(
            &a.value,
            a.as_of_sequence,
        )))
    }

    async fn get_forerunners(
        &self,
        request: Request<proto::GetForerunnersRequest>,
    ) -> Result<Response<proto::GetForerunnersResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let from = Year::new(req.from_year, "from_year")?;
        let to = Year::new(req.to_year, "to_year")?;
        let level = level(&req.level)?;
        // Proto3's 0 is "not given".
        let limit = (req.limit != 0).then_some(req.limit);
        let at = point(&req.as_of, req.min_sequence)?.with_borders(&req.borders, "borders")?;
        let a = (self.reader)
            .forerunners(&who, at, &req.indicator_id, level, (from, to), limit)
            .await?;
        Ok(Response::new(convert::forerunners_to_proto(
            &a.value,
            a.as_of_sequence,
        )))
    }

    async fn get_region_picture(
        &self,
        request: Request<proto::GetRegionPictureRequest>,
    ) -> Result<Response<proto::GetRegionPictureResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let year = Year::new(req.year, "year")?;
        let at = point(&req.as_of, req.min_sequence)?.with_borders(&req.borders, "borders")?;
        let a = (self.reader)
            .region_picture(&who, at, &req.region_code, year)
            .await?;
        let mut r = convert::region_picture_to_proto(&a.value, a.as_of_sequence);
        r.targets = self
            .targets(&who, at.at(a.as_of_sequence), &a.value.region)
            .await?;
        Ok(Response::new(r))
    }

    async fn get_national_picture(
        &self,
        request: Request<proto::GetNationalPictureRequest>,
    ) -> Result<Response<proto::GetNationalPictureResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let year = Year::new(req.year, "year")?;
        let at = point(&req.as_of, req.min_sequence)?.with_borders(&req.borders, "borders")?;
        let a = self.reader.national_picture(&who, at, year).await?;
        let mut r = convert::national_picture_to_proto(&a.value, a.as_of_sequence);
        r.targets = self
            .targets(&who, at.at(a.as_of_sequence), NATIONAL_CODE)
            .await?;
        Ok(Response::new(r))
    }

    async fn get_series(
        &self,
        request: Request<proto::GetSeriesRequest>,
    ) -> Result<Response<proto::GetSeriesResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let at = point(&req.as_of, req.min_sequence)?.with_borders(&req.borders, "borders")?;
        let (from, to) = (given(req.from_year), given(req.to_year));
        let a = (self.reader)
            .series(&who, at, &req.region_code, &req.indicator_id, from, to)
            .await?;
        Ok(Response::new(convert::series_to_proto(
            &a.value.points,
            a.as_of_sequence,
        )))
    }

    async fn get_observation_history(
        &self,
        request: Request<proto::GetObservationHistoryRequest>,
    ) -> Result<Response<proto::GetObservationHistoryResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let year = Year::new(req.year, "year")?;
        let at = point(&req.as_of, req.min_sequence)?;
        let cell = (req.region_code.as_str(), req.indicator_id.as_str(), year);
        let a = self.reader.history(&who, at, cell, req.borders).await?;
        Ok(Response::new(convert::history_to_proto(
            &a.value.revisions,
            a.as_of_sequence,
        )))
    }

    async fn get_group_picture(
        &self,
        request: Request<proto::GetGroupPictureRequest>,
    ) -> Result<Response<proto::GetGroupPictureResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let year = Year::new(req.year, "year")?;
        let at = point(&req.as_of, req.min_sequence)?.with_borders(&req.borders, "borders")?;
        let a = (self.reader)
            .group_picture(&who, at, &req.group_id, year)
            .await?;
        Ok(Response::new(convert::group_picture_to_proto(
            &a.value,
            a.as_of_sequence,
        )))
    }

    type ReadEventsStream = BoxStream<proto::ReadEventsResponse>;

    async fn read_events(
        &self,
        request: Request<proto::ReadEventsRequest>,
    ) -> Result<Response<Self::ReadEventsStream>, Status> {
        let who = principal(&request)?;
        let permit = stream_permit(&self.streams, &request)?;
        let req = request.into_inner();
        let reader = self.reader.clone();
        let mut applied = reader.applied();
        let auth = self.streams.auth.clone();
        let mut tokens = auth.changes();
        let mut shutdown = self.streams.shutdown.clone();
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
                let upto = *applied.borrow_and_update();
                if next <= upto {
                    let events = match reader.events(next, BATCH).await {
                        Ok(events) => events,
                        Err(e) => {
                            let _ = tx.send(Err(e.into())).await;
                            return;
                        }
                    };
                    for e in &events {
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
