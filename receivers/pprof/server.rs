//! `server` mode: `POST /v1/pprof` with a raw or gzip pprof body, or multipart with a `profile`
//! part. Answers 204 on success.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use profcol_pdata::pprof::PprofError;
use profcol_pipeline::metadata_from_headers;
use tokio_util::sync::CancellationToken;

use super::config::ServerMode;
use super::{Ingest, IngestError};
use crate::error::{ServeError, bind};
use crate::multipart;
use profcol_settings::{DecompressError, decompress};

struct AppState {
    ingest: Arc<Ingest>,
    cfg: ServerMode,
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.into(),
    )
        .into_response();
    if status != StatusCode::NO_CONTENT && status.is_client_error() {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

async fn push(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let limit = usize::try_from(state.cfg.max_request_body_size).unwrap_or(usize::MAX);
    let raw = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body exceeds {limit} bytes"),
            );
        }
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("reading request body: {e}"),
            );
        }
    };
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body = match decompress(encoding, &raw, limit) {
        Ok(b) => b,
        Err(DecompressError::TooLarge(l)) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("decompressed body exceeds {l} bytes"),
            );
        }
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let payload: &[u8] = if ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        let Some(b) = multipart::boundary(&ct) else {
            return text(
                StatusCode::BAD_REQUEST,
                "multipart Content-Type has no boundary",
            );
        };
        let parts = match multipart::parse(&body, &b) {
            Ok(p) => p,
            Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
        };
        match parts.into_iter().find(|p| p.name == "profile") {
            Some(p) => p.body,
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    "multipart body has no \"profile\" part",
                );
            }
        }
    } else {
        &body
    };
    let metadata = if state.cfg.include_metadata {
        metadata_from_headers(&headers)
    } else {
        BTreeMap::new()
    };
    match state
        .ingest
        .ingest(payload, &BTreeMap::new(), metadata, "http")
        .await
    {
        Ok(_) => text(StatusCode::NO_CONTENT, ""),
        Err(IngestError::Invalid(PprofError::TooLarge { limit })) => text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("pprof exceeds {limit} bytes after decompression"),
        ),
        Err(IngestError::Invalid(e)) => text(StatusCode::BAD_REQUEST, e.to_string()),
        Err(IngestError::Refused(e)) if e.is_permanent() => {
            text(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(IngestError::Refused(e)) => {
            let mut r = text(StatusCode::SERVICE_UNAVAILABLE, e.to_string());
            let secs = e.retry_after().map_or(1, |d| d.as_secs().max(1));
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

async fn method_not_allowed() -> Response {
    let mut r = text(
        StatusCode::METHOD_NOT_ALLOWED,
        "405 method not allowed, supported: [POST]",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

pub(super) async fn serve(
    cfg: ServerMode,
    ingest: Arc<Ingest>,
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, ServeError> {
    let (listener, local) = bind("pprof pushes", &cfg.endpoint).await?;
    let tls = cfg.tls.as_ref().map(|t| t.rustls_config()).transpose()?;
    let path = cfg.path.clone();
    let app = axum::Router::new()
        .route(
            &path,
            axum::routing::post(push).fallback(method_not_allowed),
        )
        .fallback(|| async { text(StatusCode::NOT_FOUND, "404 page not found") })
        .with_state(Arc::new(AppState { ingest, cfg }));
    tracing::info!(endpoint = %local, path = %path, "pprof push receiver listening");
    Ok(crate::http_server::spawn(
        listener,
        app,
        tls,
        stop,
        "pprof push",
    ))
}
