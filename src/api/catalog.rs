//! CatalogService: the regions, indicators and peer groups, and their definitions (admin).

use tonic::{Request, Response, Status};

use super::gate::principal;
use super::{convert, invalid, Writes};
use crate::proto;
use crate::read::Reader;
use crate::write::WriteRequest;

/// CatalogService.
#[derive(Clone)]
pub(crate) struct CatalogApi {
    reader: Reader,
    writes: Writes,
}

impl CatalogApi {
    pub(crate) fn new(reader: Reader, writes: Writes) -> CatalogApi {
        CatalogApi { reader, writes }
    }
}

#[tonic::async_trait]
impl proto::catalog_service_server::CatalogService for CatalogApi {
    async fn list_regions(
        &self,
        request: Request<proto::ListRegionsRequest>,
    ) -> Result<Response<proto::ListRegionsResponse>, Status> {
        principal(&request)?;
        let catalog = self.reader.catalog();
        Ok(Response::new(proto::ListRegionsResponse {
            regions: catalog
                .regions
                .values()
                .map(convert::region_to_proto)
                .collect(),
        }))
    }

    async fn list_divisions(
        &self,
        request: Request<proto::ListDivisionsRequest>,
    ) -> Result<Response<proto::ListDivisionsResponse>, Status> {
        principal(&request)?;
        let catalog = self.reader.catalog();
        Ok(Response::new(proto::ListDivisionsResponse {
            divisions: catalog
                .divisions
                .values()
                .map(|d| convert::division_to_proto(d, catalog.has_membership(d.year)))
                .collect(),
        }))
    }

    async fn list_municipalities(
        &self,
        request: Request<proto::ListMunicipalitiesRequest>,
    ) -> Result<Response<proto::ListMunicipalitiesResponse>, Status> {
        principal(&request)?;
        let catalog = self.reader.catalog();
        let borders = request.get_ref().borders;
        Ok(Response::new(proto::ListMunicipalitiesResponse {
            municipalities: catalog
                .municipalities
                .values()
                .filter(|m| borders == 0 || m.placement(borders).is_some())
                .map(convert::municipality_to_proto)
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
            let catalog = self.reader.catalog();
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
                .writes
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
        let catalog = self.reader.catalog();
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
            .writes
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

    async fn set_target(
        &self,
        request: Request<proto::SetTargetRequest>,
    ) -> Result<Response<proto::SetTargetResponse>, Status> {
        let who = principal(&request)?;
        let req = request.into_inner();
        let target = req
            .target
            .as_ref()
            .ok_or_else(|| invalid("target", "required"))?;
        let rc = self
            .writes
            .write(
                WriteRequest::SetTarget {
                    submission_id: req.submission_id.clone(),
                    target: convert::target_from_proto(target),
                },
                who,
            )
            .await?;
        Ok(Response::new(proto::SetTargetResponse {
            sequence: rc.last_sequence,
            duplicate: rc.duplicate,
            unchanged: rc.unchanged > 0,
        }))
    }
}
