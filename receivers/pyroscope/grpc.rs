//! gRPC `push.v1.PusherService/Push` on the same port as the HTTP endpoints, and its gRPC-Web
//! form (binary and base64 text), as Pyroscope's connect-go handler serves them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use profcol_pdata::pyroscope::{PushRequest, PushResponse};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{RawCodec, metadata_from_grpc};
use prost::Message;
use tonic::Status;
use tonic::codec::CompressionEncoding;

use super::{RecvError, Shared, read_body};
use profcol_settings::decompress;

#[derive(Clone)]
struct PushMethod(Arc<Shared>);

fn status_of(e: RecvError) -> Status {
    match e {
        e if e.is_retryable() => Status::resource_exhausted(e.message()),
        RecvError::TooLarge(m) => Status::resource_exhausted(m),
        other => Status::invalid_argument(other.message()),
    }
}

impl tonic::server::UnaryService<Bytes> for PushMethod {
    type Response = Bytes;
    type Future = BoxFuture<'static, Result<tonic::Response<Bytes>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let shared = self.0.clone();
        Box::pin(async move {
            let metadata = if shared.cfg.include_metadata {
                metadata_from_grpc(request.metadata())
            } else {
                BTreeMap::new()
            };
            let push = PushRequest::decode(request.into_inner())
                .map_err(|e| Status::invalid_argument(format!("cannot decode PushRequest: {e}")))?;
            let builder = shared.convert_push(&push).map_err(status_of)?;
            shared
                .send(builder, metadata, "grpc")
                .await
                .map_err(status_of)?;
            Ok(tonic::Response::new(Bytes::from(
                PushResponse {}.encode_to_vec(),
            )))
        })
    }
}

/// Answers one gRPC call.
pub(super) async fn serve_one(shared: Arc<Shared>, req: Request) -> Response {
    let limit = usize::try_from(shared.cfg.max_request_body_size).unwrap_or(usize::MAX);
    let mut grpc = tonic::server::Grpc::new(RawCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(limit);
    let resp = grpc.unary(PushMethod(shared), req).await;
    resp.map(axum::body::Body::new)
}

/// `grpc-message` value: percent-encoded outside printable ASCII (gRPC spec).
fn grpc_message(m: &str) -> String {
    let mut out = String::with_capacity(m.len());
    for b in m.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(super) fn b64_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |a, (i, &b)| a | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// Decodes gRPC-Web text: base64 in 4-character groups, where each group may end in padding
/// (a client may concatenate separately encoded chunks). Whitespace is ignored.
pub(super) fn b64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if !digits.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| -> Option<u32> {
        B64.iter()
            .position(|&x| x == c)
            .and_then(|p| u32::try_from(p).ok())
    };
    let mut out = Vec::with_capacity(digits.len() / 4 * 3);
    for group in digits.chunks(4) {
        let pad = group.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || group[..4 - pad].contains(&b'=') {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            let v = if i < 4 - pad { value(c)? } else { 0 };
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// The one request message of a gRPC-Web body (`flags, u32 length, message` frames).
fn web_message(body: &[u8], headers: &HeaderMap, limit: usize) -> Result<Vec<u8>, Status> {
    let mut rest = body;
    let mut message = None;
    while !rest.is_empty() {
        if rest.len() < 5 {
            return Err(Status::invalid_argument("truncated gRPC-Web frame header"));
        }
        let flags = rest[0];
        let len = usize::try_from(u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]))
            .unwrap_or(usize::MAX);
        let data = rest
            .get(5..5usize.saturating_add(len))
            .ok_or_else(|| Status::invalid_argument("truncated gRPC-Web frame"))?;
        rest = &rest[5 + len..];
        if flags & 0x80 != 0 {
            continue; // a trailer frame: nothing a request needs
        }
        if message.is_some() {
            return Err(Status::invalid_argument(
                "more than one request message in a unary call",
            ));
        }
        let data = if flags & 0x01 != 0 {
            let enc = headers
                .get("grpc-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if enc.is_empty() || enc.eq_ignore_ascii_case("identity") {
                return Err(Status::invalid_argument(
                    "compressed gRPC-Web message without grpc-encoding",
                ));
            }
            decompress(enc, data, limit).map_err(|e| Status::invalid_argument(e.to_string()))?
        } else {
            data.to_vec()
        };
        message = Some(data);
    }
    message.ok_or_else(|| Status::invalid_argument("missing request message"))
}

/// Answers one gRPC-Web call (`application/grpc-web[+proto]`, `application/grpc-web-text[+proto]`).
pub(super) async fn serve_web(shared: Arc<Shared>, req: Request) -> Response {
    let limit = usize::try_from(shared.cfg.max_request_body_size).unwrap_or(usize::MAX);
    let (parts, body) = req.into_parts();
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = ct.starts_with("application/grpc-web-text");
    let subtype = ct.split(';').next().unwrap_or("").trim();
    if !matches!(
        subtype,
        "application/grpc-web"
            | "application/grpc-web+proto"
            | "application/grpc-web-text"
            | "application/grpc-web-text+proto"
    ) {
        return RecvError::Unsupported(format!(
            "unsupported gRPC-Web Content-Type {ct:?}; only the proto codec is served"
        ))
        .response();
    }
    let result: Result<(), Status> = async {
        let raw = read_body(body, &parts.headers, limit)
            .await
            .map_err(status_of)?;
        let framed = if text {
            b64_decode(&raw).ok_or_else(|| Status::invalid_argument("invalid base64 body"))?
        } else {
            raw
        };
        let message = web_message(&framed, &parts.headers, limit)?;
        let push = PushRequest::decode(&message[..])
            .map_err(|e| Status::invalid_argument(format!("cannot decode PushRequest: {e}")))?;
        let builder = shared.convert_push(&push).map_err(status_of)?;
        shared
            .send(builder, shared.metadata(&parts.headers), "grpc-web")
            .await
            .map_err(status_of)
    }
    .await;
    let (code, message) = match &result {
        Ok(()) => (0i32, String::new()),
        Err(s) => (s.code() as i32, s.message().to_owned()),
    };
    let mut frames = Vec::new();
    if result.is_ok() {
        // One empty PushResponse message.
        frames.extend_from_slice(&[0, 0, 0, 0, 0]);
    }
    let trailer = format!(
        "grpc-status:{code}\r\ngrpc-message:{}\r\n",
        grpc_message(&message)
    );
    frames.push(0x80);
    frames.extend_from_slice(&u32::try_from(trailer.len()).unwrap_or(0).to_be_bytes());
    frames.extend_from_slice(trailer.as_bytes());
    let body = if text { b64_encode(&frames) } else { frames };
    let resp_ct = if text {
        "application/grpc-web-text+proto"
    } else {
        "application/grpc-web+proto"
    };
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, resp_ct)],
        Body::from(body),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&code.to_string()) {
        r.headers_mut().insert("grpc-status", v);
    }
    if let Ok(v) = HeaderValue::from_str(&grpc_message(&message)) {
        r.headers_mut().insert("grpc-message", v);
    }
    r
}

#[cfg(test)]
mod web_tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_concatenated_chunks() {
        for data in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"fooba",
            b"foobar",
            &[0xff, 0, 0x80],
        ] {
            let e = b64_encode(data);
            assert_eq!(
                b64_decode(&e).as_deref(),
                Some(data),
                "{:?}",
                String::from_utf8_lossy(&e)
            );
        }
        assert_eq!(b64_encode(b"foobar"), b"Zm9vYmFy");
        assert_eq!(b64_decode(b"Zg==Zm8=").as_deref(), Some(&b"ffo"[..]));
        assert_eq!(b64_decode(b"Zg="), None);
        assert_eq!(b64_decode(b"Z==="), None);
        assert_eq!(b64_decode(b"Z=g="), None);
        assert_eq!(b64_decode(b"Zm9*"), None);
    }

    #[test]
    fn web_frames() {
        let h = HeaderMap::new();
        let mut body = vec![0, 0, 0, 0, 3, 1, 2, 3];
        assert_eq!(web_message(&body, &h, 100).unwrap(), vec![1, 2, 3]);
        body.extend_from_slice(&[0x80, 0, 0, 0, 0]);
        assert_eq!(web_message(&body, &h, 100).unwrap(), vec![1, 2, 3]);
        assert!(web_message(&[0, 0, 0, 0, 9, 1], &h, 100).is_err());
        assert!(web_message(&[0, 0], &h, 100).is_err());
        assert!(web_message(&[], &h, 100).is_err());
        assert!(web_message(&[1, 0, 0, 0, 1, 7], &h, 100).is_err());
        assert!(web_message(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &h, 100).is_err());
        assert_eq!(grpc_message("a b%ü"), "a b%25%C3%BC");
    }
}
