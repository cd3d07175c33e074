//! The HTTP side: `POST /v1development/profiles` with protobuf or JSON bodies.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::BodyExt;
use profcol_pdata::collector::ExportProfilesServiceRequest;
use profcol_pipeline::metadata_from_headers;
use prost::Message;
use tokio_util::sync::CancellationToken;

use super::error::Answer;
use super::{Ingest, IngestError, Transport};
use crate::error::{ServeError, bind};
use profcol_settings::HttpServerConfig;
use profcol_settings::{DecompressError, decompress};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Proto,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Proto => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

struct AppState {
    ingest: Arc<Ingest>,
    cfg: HttpServerConfig,
}

fn media_type(headers: &HeaderMap) -> Option<Encoding> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mt = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mt.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Proto),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

fn error_response(
    state: &AppState,
    status: StatusCode,
    grpc_code: i32,
    enc: Encoding,
    message: &str,
) -> Response {
    let body = match enc {
        Encoding::Proto => profcol_pdata::rpc::Status::new(grpc_code, message).encode_to_vec(),
        Encoding::Json => profcol_pdata::json::encode_status(grpc_code, message),
    };
    let mut resp = (status, [(header::CONTENT_TYPE, enc.content_type())], body).into_response();
    add_headers(state, &mut resp);
    resp
}

fn add_headers(state: &AppState, resp: &mut Response) {
    for (k, v) in &state.cfg.response_headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
}

/// Marks a response sent before the request body was read to its end: the server drops such a
/// connection afterwards, so the client must be told not to reuse it (else its next request on the
/// pooled connection fails with "connection closed before message completed").
fn close_connection(resp: &mut Response) {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

async fn export(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let Some(enc) = media_type(&headers) else {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("(none)");
        let mut resp = (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            [(header::CONTENT_TYPE, "text/plain")],
            format!(
                "unsupported Content-Type {ct:?}; use application/x-protobuf or application/json"
            ),
        )
            .into_response();
        add_headers(&state, &mut resp);
        close_connection(&mut resp);
        return resp;
    };
    let limit = state.cfg.max_body_bytes();
    // The limit bounds the body as sent and, below, the body after decompression.
    let raw = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let mut resp = if too_large {
                error_response(
                    &state,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    8,
                    enc,
                    &format!("request body exceeds the limit of {limit} bytes"),
                )
            } else {
                error_response(
                    &state,
                    StatusCode::BAD_REQUEST,
                    3,
                    enc,
                    &format!("reading request body: {e}"),
                )
            };
            close_connection(&mut resp);
            return resp;
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let identity = encoding.is_empty() || encoding.eq_ignore_ascii_case("identity");
    let plain: Bytes = match if identity {
        Ok(Vec::new())
    } else {
        decompress(&encoding, &raw, limit)
    } {
        Ok(_) if identity => raw,
        Ok(b) => Bytes::from(b),
        Err(DecompressError::TooLarge(l)) => {
            return error_response(
                &state,
                StatusCode::PAYLOAD_TOO_LARGE,
                8,
                enc,
                &format!("decompressed request body exceeds the limit of {l} bytes"),
            );
        }
        Err(e) => return error_response(&state, StatusCode::BAD_REQUEST, 3, enc, &e.to_string()),
    };
    // Admission before decoding: the bytes count against the process's in-flight budget until
    // the pipeline answered.
    let permit = match state.ingest.admit(Transport::Http, plain.len()) {
        Ok(p) => p,
        Err(e) => return refused(&state, enc, &e),
    };
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (req, encoded) = match enc {
        Encoding::Proto => match ExportProfilesServiceRequest::decode(plain.clone()) {
            Ok(r) => (r, Some(plain)),
            Err(e) => {
                tracing::warn!(user_agent = %agent, error = %e, "undecodable OTLP/HTTP profiles request");
                return error_response(
                    &state,
                    StatusCode::BAD_REQUEST,
                    3,
                    enc,
                    &format!("cannot decode ExportProfilesServiceRequest: {e}"),
                );
            }
        },
        Encoding::Json => match profcol_pdata::json::decode_request(&plain) {
            Ok(r) => (r, None),
            Err(e) => {
                tracing::warn!(user_agent = %agent, error = %e, "undecodable OTLP/JSON profiles request");
                return error_response(&state, StatusCode::BAD_REQUEST, 3, enc, &e.to_string());
            }
        },
    };
    let metadata = if state.cfg.include_metadata {
        metadata_from_headers(&headers)
    } else {
        BTreeMap::new()
    };
    match state
        .ingest
        .export(req, encoded, metadata, Transport::Http, permit)
        .await
    {
        Ok(resp) => {
            let body = match enc {
                Encoding::Proto => resp.encode_to_vec(),
                Encoding::Json => profcol_pdata::json::encode_response(&resp),
            };
            let mut r = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, enc.content_type())],
                body,
            )
                .into_response();
            add_headers(&state, &mut r);
            r
        }
        Err(e) => refused(&state, enc, &e),
    }
}

fn refused(state: &AppState, enc: Encoding, e: &IngestError) -> Response {
    let message = e.to_string();
    match e.answer() {
        Answer::Invalid => error_response(state, StatusCode::BAD_REQUEST, 3, enc, &message),
        Answer::Unavailable => {
            let mut r = error_response(state, StatusCode::SERVICE_UNAVAILABLE, 14, enc, &message);
            let retry_after = match e {
                IngestError::Refused(c) => c.retry_after(),
                IngestError::Invalid(_) => None,
            };
            let secs = retry_after.map(|d| d.as_secs().max(1)).unwrap_or(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

async fn method_not_allowed() -> Response {
    let mut resp = (
        StatusCode::METHOD_NOT_ALLOWED,
        [
            (header::ALLOW, "POST"),
            (header::CONTENT_TYPE, "text/plain"),
        ],
        "405 method not allowed, supported: [POST]",
    )
        .into_response();
    close_connection(&mut resp);
    resp
}

async fn not_found() -> Response {
    let mut resp = (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "404 page not found",
    )
        .into_response();
    close_connection(&mut resp);
    resp
}

/// Binds and serves until `stop` fires; returns the server task.
pub(super) async fn serve(
    cfg: HttpServerConfig,
    ingest: Arc<Ingest>,
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    let (listener, local) = bind("OTLP/HTTP", &cfg.endpoint).await?;
    let tls = cfg.tls.as_ref().map(|t| t.rustls_config()).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let path = cfg
        .profiles_url_path
        .clone()
        .unwrap_or_else(|| super::config::DEFAULT_PROFILES_PATH.into());
    let state = Arc::new(AppState { ingest, cfg });
    let app = axum::Router::new()
        .route(
            &path,
            axum::routing::post(export).fallback(method_not_allowed),
        )
        .fallback(not_found)
        .with_state(state);
    tracing::info!(endpoint = %local, path = %path, scheme, "OTLP/HTTP receiver listening");
    Ok(crate::http_server::spawn(
        listener,
        app,
        tls,
        stop,
        "OTLP/HTTP",
    ))
}
