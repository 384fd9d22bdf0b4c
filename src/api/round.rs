//! RoundService: reporting rounds — opening one (admin) and what it has received (a thin
//! adapter over [`crate::read`]).

use tonic::{Request, Response, Status};

use super::gate::principal;
use super::picture::point;
use super::{convert, Writes};
use crate::proto;
use crate::read::{Reader, Year};
use crate::write::WriteRequest;

/// RoundService.
#[derive(Clone)]
pub(crate) struct RoundApi {
    reader: Reader,
    writes: Writes,
}

impl RoundApi {
    pub(crate) fn new(reader: Reader, writes: Writes) -> RoundApi {
        RoundApi { reader, writes }
    }
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
            .writes
            .write(
                WriteRequest::OpenRound {
                    submission_id: req.submission_id,
                    round,
                    allow_past: req.allow_past_deadline,
                },
                who,
            )
            .await?;
        // The round as recorded (defaults resolved): the projection has applied it.
        let recorded = self.reader.round(year, rc.last_sequence);
        let now = chrono::Utc::now().timestamp_micros();
        Ok(Response::new(proto::OpenRoundResponse {
            sequence: rc.last_sequence,
            duplicate: rc.duplicate,
            deadline_passed: recorded.as_ref().is_some_and(|r| r.deadline_micros < now),
            round: recorded.as_ref().map(convert::round_to_proto),
            unchanged: rc.unchanged > 0,
        }))
    }

    async fn get_round_status(
        &self,
        request: Request<proto::GetRoundStatusRequest>,
    ) -> Result<Response<proto::GetRoundStatusResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let year = Year::new(req.year, "year")?;
        let at = point(&req.as_of, req.min_sequence)?;
        let region = Some(req.region_code.as_str()).filter(|r| !r.is_empty());
        let a = (self.reader).round_status(&who, at, year, region).await?;
        Ok(Response::new(convert::round_status_to_proto(
            &a.value,
            a.as_of_sequence,
        )))
    }
}
