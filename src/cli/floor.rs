//! `loadgen --read region --floor`: the floor a region-picture read is compared with. A
//! server of loadgen's own that does no work but answer each `GetRegionPicture` with the
//! bytes the service answered it with (fetched once, before the run), through the same gRPC
//! stack (tonic's server, HTTP/2, the message framing), on a runtime of its own with as
//! many threads as the service's. The same clients read from both, alternately: what the
//! service is slower by is its own work (authentication, the read, encoding), not the
//! transport or the client.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::{BufMut, Bytes};
use futures::future::BoxFuture;
use prost::Message;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::Status;

use crate::proto;

/// Each (region, year)'s picture as the service encodes it.
pub(crate) type Pictures = HashMap<(String, i32), Bytes>;

/// Reads every picture of `regions` × `years` from the service and keeps its bytes: prost
/// encodes a message the same way on both sides, so these are the bytes it sends.
pub(crate) async fn fetch(
    channel: &Channel,
    conn: &super::ConnArgs,
    regions: &[String],
    years: &[i32],
    as_of: Option<proto::AsOf>,
) -> anyhow::Result<Pictures> {
    let mut client = proto::picture_service_client::PictureServiceClient::new(channel.clone())
        .max_decoding_message_size(64 << 20);
    let mut pictures = HashMap::new();
    for region in regions {
        for &year in years {
            let picture = client
                .get_region_picture(super::client::authed(
                    proto::GetRegionPictureRequest {
                        region_code: region.clone(),
                        year,
                        as_of,
                        min_sequence: 0,
                        borders: String::new(),
                    },
                    conn,
                ))
                .await
                .map_err(super::client::describe)?
                .into_inner();
            pictures.insert((region.clone(), year), picture.encode_to_vec().into());
        }
    }
    Ok(pictures)
}

/// The floor server, running until [`Floor::stop`].
pub(crate) struct Floor {
    /// Its gRPC address.
    pub(crate) url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Floor {
    /// Serves `pictures` on a free loopback port, on a runtime of its own.
    pub(crate) fn start(pictures: Pictures) -> anyhow::Result<Floor> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("a runtime for the floor")?;
        let answers = Answers(Arc::new(pictures));
        let thread = std::thread::Builder::new()
            .name("loadgen-floor".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    // Nagle's algorithm off, as the service has it: a small answer must not
                    // wait for the client's delayed ACK.
                    let incoming = futures::StreamExt::map(
                        tokio_stream::wrappers::TcpListenerStream::new(listener),
                        |accepted| {
                            if let Ok(s) = &accepted {
                                let _ = s.set_nodelay(true);
                            }
                            accepted
                        },
                    );
                    let _ = tonic::transport::Server::builder()
                        .add_service(answers)
                        .serve_with_incoming_shutdown(incoming, async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })?;
        Ok(Floor { url, stop, thread })
    }

    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// The floor's only service: every call under `PictureService` is read as a
/// `GetRegionPicture` and answered its picture's bytes.
#[derive(Clone)]
struct Answers(Arc<Pictures>);

impl tonic::server::NamedService for Answers {
    const NAME: &'static str = "tilannekuva.v1.PictureService";
}

impl tower::Service<http::Request<tonic::body::Body>> for Answers {
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let answers = self.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(Raw::default());
            Ok(grpc.unary(answers, req).await)
        })
    }
}

impl tonic::server::UnaryService<proto::GetRegionPictureRequest> for Answers {
    type Response = Bytes;
    type Future = std::future::Ready<Result<tonic::Response<Bytes>, Status>>;

    fn call(&mut self, req: tonic::Request<proto::GetRegionPictureRequest>) -> Self::Future {
        let r = req.into_inner();
        std::future::ready(
            self.0
                .get(&(r.region_code, r.year))
                .cloned()
                .map(tonic::Response::new)
                .ok_or_else(|| Status::not_found("the floor holds no such picture")),
        )
    }
}

/// Requests decoded as prost does; answers written as the bytes they already are.
#[derive(Default)]
struct Raw(tonic_prost::ProstCodec<proto::GetRegionPictureRequest, proto::GetRegionPictureRequest>);

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = proto::GetRegionPictureRequest;
    type Encoder = RawEncoder;
    type Decoder = tonic_prost::ProstDecoder<proto::GetRegionPictureRequest>;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        self.0.decoder()
    }
}

struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}
