//! gRPC `push.v1.PusherService/Push` on the same port as the HTTP endpoints.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;
use bytes::{Buf, Bytes};
use profcol_pdata::pyroscope::{PushRequest, PushResponse};
use profcol_pipeline::consumer::BoxFuture;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::{RecvError, Shared};

#[derive(Clone, Copy, Default)]
struct PushCodec;
struct PushDecoder;
struct PushEncoder;

impl Codec for PushCodec {
    type Encode = PushResponse;
    type Decode = Bytes;
    type Encoder = PushEncoder;
    type Decoder = PushDecoder;
    fn encoder(&mut self) -> PushEncoder {
        PushEncoder
    }
    fn decoder(&mut self) -> PushDecoder {
        PushDecoder
    }
}

impl Encoder for PushEncoder {
    type Item = PushResponse;
    type Error = Status;
    fn encode(&mut self, item: PushResponse, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl Decoder for PushDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}

#[derive(Clone)]
struct PushMethod(Arc<Shared>);

fn status_of(e: RecvError) -> Status {
    match e {
        RecvError::Refused(profcol_pipeline::ConsumeError::Retryable { message, .. }) => {
            Status::resource_exhausted(message)
        }
        RecvError::TooLarge(m) => Status::resource_exhausted(m),
        other => Status::invalid_argument(other.message()),
    }
}

impl tonic::server::UnaryService<Bytes> for PushMethod {
    type Response = PushResponse;
    type Future = BoxFuture<'static, Result<tonic::Response<PushResponse>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let shared = self.0.clone();
        Box::pin(async move {
            let mut metadata = BTreeMap::new();
            if shared.cfg.include_metadata {
                for (k, v) in request.metadata().clone().into_headers().iter() {
                    if let Ok(v) = v.to_str() {
                        metadata
                            .entry(k.as_str().to_ascii_lowercase())
                            .or_insert_with(Vec::new)
                            .push(v.to_owned());
                    }
                }
            }
            let push = PushRequest::decode(request.into_inner())
                .map_err(|e| Status::invalid_argument(format!("cannot decode PushRequest: {e}")))?;
            let builder = shared.convert_push(&push).map_err(status_of)?;
            shared
                .send(builder, metadata, "grpc")
                .await
                .map_err(status_of)?;
            Ok(tonic::Response::new(PushResponse {}))
        })
    }
}

/// Answers one gRPC call.
pub(super) async fn serve_one(shared: Arc<Shared>, req: Request) -> Response {
    let limit = usize::try_from(shared.cfg.max_request_body_size).unwrap_or(usize::MAX);
    let mut grpc = tonic::server::Grpc::new(PushCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit);
    let resp = grpc.unary(PushMethod(shared), req).await;
    resp.map(axum::body::Body::new)
}
