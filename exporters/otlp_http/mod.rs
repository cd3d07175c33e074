//! The `otlp_http` exporter: `POST {endpoint}/v1development/profiles`, protobuf or JSON.

pub mod config;
mod error;

use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::Batch;
use profcol_pdata::collector::ExportProfilesServiceResponse;
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::exporter_helper::{QueuedExporter, SendError, Sender, into_parts};
use profcol_pipeline::{BuildError, Built, ComponentInfo, Context, ExporterFactory};
use profcol_settings::ComponentConfig;
use prost::Message;

pub use config::OtlpHttpConfig;
pub use error::{HttpBuildError, HttpSendError, classify};

use profcol_settings::Compression;

pub struct OtlpHttpFactory;

impl ExporterFactory for OtlpHttpFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(
            Kind::Exporter,
            "otlp_http",
            "OTLP profiles over HTTP (protobuf or JSON)",
        )
        .with_aliases(&["otlphttp"])
    }
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        OtlpHttpConfig::validate(section)
    }
    fn create(&self, ctx: Context, section: &Section) -> Result<Built, BuildError> {
        let cfg = OtlpHttpConfig::load(section)?;
        let sender = HttpSender::new(&cfg).map_err(|e| BuildError::component(&ctx.id, e))?;
        Ok(into_parts(QueuedExporter::new(
            &ctx,
            sender,
            cfg.sending_queue.clone(),
            cfg.retry_on_failure.clone(),
        )))
    }
}

pub struct HttpSender {
    client: reqwest::Client,
    url: String,
    json: bool,
    compression: Compression,
    headers: reqwest::header::HeaderMap,
}

impl HttpSender {
    pub fn new(cfg: &OtlpHttpConfig) -> Result<HttpSender, HttpBuildError> {
        let url = cfg.profiles_url().map_err(HttpBuildError::settings)?;
        let client = crate::http_client::http_client(&cfg.tls, cfg.timeout)
            .map_err(HttpBuildError::settings)?;
        let headers =
            profcol_settings::header_map(&cfg.headers).map_err(HttpBuildError::settings)?;
        Ok(HttpSender {
            client,
            url,
            json: cfg.encoding == "json",
            compression: cfg.compression,
            headers,
        })
    }
}

impl Sender for HttpSender {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let raw = if self.json {
                profcol_pdata::json::encode_request(&batch.request)
            } else {
                match &batch.encoded {
                    Some(b) => b.to_vec(),
                    None => batch.request.encode_to_vec(),
                }
            };
            let body = self
                .compression
                .compress(&raw)
                .map_err(HttpSendError::Compress)?;
            let ct = if self.json {
                "application/json"
            } else {
                "application/x-protobuf"
            };
            let mut req = self
                .client
                .post(&self.url)
                .headers(self.headers.clone())
                .header(reqwest::header::CONTENT_TYPE, ct)
                .body(body);
            if let Some(enc) = self.compression.header() {
                req = req.header(reqwest::header::CONTENT_ENCODING, enc);
            }
            let resp = req.send().await.map_err(|source| HttpSendError::Request {
                url: self.url.clone(),
                source,
            })?;
            let status = resp.status();
            let ra = profcol_settings::retry::retry_after(resp.headers());
            let is_json = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            let bytes = resp.bytes().await.unwrap_or_default();
            if status.is_success() {
                let decoded = if is_json {
                    profcol_pdata::json::decode_response(&bytes).ok()
                } else {
                    ExportProfilesServiceResponse::decode(bytes.as_ref()).ok()
                };
                if let Some(p) = decoded.and_then(|r| r.partial_success)
                    && (p.rejected_profiles > 0 || !p.error_message.is_empty())
                {
                    tracing::warn!(url = %self.url, rejected_profiles = p.rejected_profiles, message = %p.error_message, "server accepted the request partially");
                }
                return Ok(());
            }
            let message = if is_json {
                profcol_pdata::json::decode_status(&bytes)
                    .map(|(_, m)| m)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned())
            } else {
                match profcol_pdata::rpc::Status::decode(bytes.as_ref()) {
                    Ok(s) if !s.message.is_empty() => s.message,
                    _ => String::from_utf8_lossy(&bytes).chars().take(512).collect(),
                }
            };
            Err(HttpSendError::Status {
                status,
                url: self.url.clone(),
                message,
                retry_after: ra,
            }
            .into())
        })
    }
}
