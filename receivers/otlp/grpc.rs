//! The gRPC side: `opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export`.
//!
//! A hand-written service over tonic's server machinery with a codec that hands over the raw
//! message bytes, so decoding errors become `INVALID_ARGUMENT` naming the problem (tonic's own
//! prost codec would answer `INTERNAL`) and the bytes can travel with the batch.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use profcol_pdata::collector::ExportProfilesServiceRequest;
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{RawCodec, metadata_from_grpc};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Status, body::Body as TonicBody};

use super::error::Answer;
use super::{Ingest, IngestError, Transport};
use crate::error::{ServeError, bind};
use profcol_settings::GrpcServerConfig;

pub const SERVICE: &str = "opentelemetry.proto.collector.profiles.v1development.ProfilesService";
pub const EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export";

fn status_of(e: IngestError) -> Status {
    match e.answer() {
        Answer::Invalid => Status::invalid_argument(e.to_string()),
        Answer::Unavailable => Status::unavailable(e.to_string()),
    }
}

#[derive(Clone)]
struct ExportMethod {
    ingest: Arc<Ingest>,
    include_metadata: bool,
}

impl tonic::server::UnaryService<Bytes> for ExportMethod {
    type Response = Bytes;
    type Future = BoxFuture<'static, Result<tonic::Response<Bytes>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let ingest = self.ingest.clone();
        let include_metadata = self.include_metadata;
        Box::pin(async move {
            let metadata = if include_metadata {
                metadata_from_grpc(request.metadata())
            } else {
                BTreeMap::new()
            };
            let agent = request
                .metadata()
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let bytes = request.into_inner();
            let permit = ingest
                .admit(Transport::Grpc, bytes.len())
                .map_err(status_of)?;
            let req = ExportProfilesServiceRequest::decode(bytes.clone()).map_err(|e| {
                tracing::warn!(user_agent = %agent, error = %e, "undecodable OTLP profiles request (is the sender on an older OTLP profiles layout?)");
                Status::invalid_argument(format!("cannot decode ExportProfilesServiceRequest: {e}"))
            })?;
            ingest
                .export(req, Some(bytes), metadata, Transport::Grpc, permit)
                .await
                .map(|resp| tonic::Response::new(Bytes::from(resp.encode_to_vec())))
                .map_err(status_of)
        })
    }
}

/// The tower service tonic's router serves.
#[derive(Clone)]
struct ProfilesService {
    method: ExportMethod,
    max_bytes: usize,
}

impl tonic::server::NamedService for ProfilesService {
    const NAME: &'static str = SERVICE;
}

impl<B> tower_service::Service<http::Request<B>> for ProfilesService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<TonicBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = self.method.clone();
        let max = self.max_bytes;
        Box::pin(async move {
            if req.uri().path() != EXPORT_PATH {
                return Ok(
                    Status::unimplemented(format!("unknown method {}", req.uri().path()))
                        .into_http(),
                );
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .accept_compressed(CompressionEncoding::Deflate)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(max)
                .max_encoding_message_size(4 << 20);
            let mut resp = grpc.unary(method, req).await;
            // tonic answers OUT_OF_RANGE for a message over the limit; OTLP says RESOURCE_EXHAUSTED
            // (not retryable without RetryInfo), as it already is for oversize decompressed data.
            let oversize = resp
                .headers()
                .get("grpc-status")
                .is_some_and(|v| v.as_bytes() == b"11")
                && resp.headers().get("grpc-message").is_some_and(|m| {
                    m.to_str().unwrap_or("").contains("too%20large")
                        || m.to_str().unwrap_or("").contains("too large")
                });
            if oversize {
                resp.headers_mut()
                    .insert("grpc-status", http::HeaderValue::from_static("8"));
            }
            Ok(resp)
        })
    }
}

/// Binds and serves until `stop` fires; returns the server task.
pub(super) async fn serve(
    cfg: GrpcServerConfig,
    ingest: Arc<Ingest>,
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    let (listener, local) = bind("OTLP/gRPC", &cfg.endpoint).await?;
    let svc = ProfilesService {
        method: ExportMethod {
            ingest,
            include_metadata: cfg.include_metadata,
        },
        max_bytes: cfg.max_recv_bytes(),
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(n) = cfg.max_concurrent_streams {
        builder = builder.max_concurrent_streams(n);
    }
    if let Some(tls) = &cfg.tls {
        let (cert, key) = tls.identity().map_err(|e| ServeError::TlsFiles(e.into()))?;
        let mut t = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(cert, key));
        if let Some(ca) = tls
            .client_ca()
            .map_err(|e| ServeError::TlsFiles(e.into()))?
        {
            t = t.client_ca_root(tonic::transport::Certificate::from_pem(ca));
        }
        builder = builder.tls_config(t).map_err(ServeError::GrpcTls)?;
    }
    let incoming = tokio_stream_listener(listener);
    let router = builder.add_service(svc);
    tracing::info!(endpoint = %local, "OTLP/gRPC receiver listening");
    Ok(tokio::spawn(async move {
        if let Err(e) = router
            .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "OTLP/gRPC server failed");
        }
    }))
}

/// Accepted connections as the stream tonic wants.
fn tokio_stream_listener(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = Result<tokio::net::TcpStream, std::io::Error>> {
    futures::stream::unfold(listener, |l| async move {
        let r = l.accept().await.map(|(s, _)| {
            let _ = s.set_nodelay(true);
            s
        });
        Some((r, l))
    })
}
