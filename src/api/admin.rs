//! AdminService: operations on the running server (admin only).

use tonic::{Request, Response, Status};

use super::gate::principal;
use crate::proto;

/// Operations on the running server (admin only).
pub(crate) struct AdminApi {
    /// Where a promotion is asked for: `None` when this server follows no stream.
    pub(crate) promote:
        Option<tokio::sync::mpsc::Sender<crate::replication::failover::PromoteRequest>>,
    pub(crate) stream: String,
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
            Ok(Err(why)) => Err(Status::failed_precondition(crate::domain::text::cut(
                &why, 400,
            ))),
            Err(_) => Err(Status::unavailable("the promotion was interrupted")),
        }
    }
}
