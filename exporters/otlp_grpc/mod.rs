//! The `otlp_grpc` exporter: `ProfilesService/Export` to any OTLP gRPC endpoint.
//!
//! Sends the batch's original protobuf bytes when it still has them (an OTLP→OTLP hop does not
//! re-encode), otherwise encodes the request.

pub mod config;
mod error;

use bytes::Bytes;
use profcol_config::{ConfigErrors, Kind, Section};
use profcol_pdata::Batch;
use profcol_pdata::collector::ExportProfilesServiceResponse;
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::exporter_helper::{QueuedExporter, SendError, Sender, into_parts};
use profcol_pipeline::{BuildError, Built, ComponentInfo, Context, ExporterFactory, RawCodec};
use profcol_settings::ComponentConfig;
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

pub use config::OtlpGrpcConfig;
pub use error::{GrpcBuildError, GrpcSendError, classify, retry_delay};

use profcol_settings::Compression;

const EXPORT_PATH: &str =
    "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export";

pub struct OtlpGrpcFactory;

impl ExporterFactory for OtlpGrpcFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo::profiles(Kind::Exporter, "otlp_grpc", "OTLP profiles over gRPC")
            .with_aliases(&["otlp"])
    }
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        OtlpGrpcConfig::validate(section)
    }
    fn create(&self, ctx: Context, section: &Section) -> Result<Built, BuildError> {
        let cfg = OtlpGrpcConfig::load(section)?;
        let sender = GrpcSender::new(&cfg).map_err(|e| BuildError::component(&ctx.id, e))?;
        let q = QueuedExporter::new(
            &ctx,
            sender,
            cfg.sending_queue.clone(),
            cfg.retry_on_failure.clone(),
        );
        Ok(into_parts(q))
    }
}

pub struct GrpcSender {
    channel: Channel,
    headers: tonic::metadata::MetadataMap,
    compression: Option<CompressionEncoding>,
    timeout: std::time::Duration,
    endpoint: String,
}

impl GrpcSender {
    pub fn new(cfg: &OtlpGrpcConfig) -> Result<GrpcSender, GrpcBuildError> {
        let target = cfg.target().map_err(GrpcBuildError::settings)?;
        let scheme = if target.tls { "https" } else { "http" };
        let mut ep = Endpoint::from_shared(format!("{scheme}://{}", target.authority))
            .map_err(GrpcBuildError::Endpoint)?;
        ep = ep.connect_timeout(cfg.timeout).tcp_nodelay(true);
        let ua = cfg
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("profcol/{}", env!("CARGO_PKG_VERSION")));
        ep = ep.user_agent(ua).map_err(GrpcBuildError::UserAgent)?;
        if target.tls {
            let mut tls = ClientTlsConfig::new();
            match cfg.tls.ca().map_err(GrpcBuildError::settings)? {
                Some(ca) => {
                    tls = tls.ca_certificate(Certificate::from_pem(ca));
                    if cfg.tls.include_system_ca_certs_pool {
                        tls = tls.with_webpki_roots();
                    }
                }
                None => tls = tls.with_webpki_roots(),
            }
            if let Some((c, k)) = cfg.tls.identity().map_err(GrpcBuildError::settings)? {
                tls = tls.identity(Identity::from_pem(c, k));
            }
            let host = target
                .authority
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or(&target.authority);
            let name = cfg
                .tls
                .server_name_override
                .clone()
                .unwrap_or_else(|| host.trim_matches(['[', ']']).to_owned());
            tls = tls.domain_name(name);
            ep = ep.tls_config(tls).map_err(GrpcBuildError::Tls)?;
        }
        let mut headers = tonic::metadata::MetadataMap::new();
        for (k, v) in &cfg.headers {
            let key = tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|source| GrpcBuildError::HeaderName {
                key: k.clone(),
                source,
            })?;
            let val = v.parse().map_err(|source| GrpcBuildError::HeaderValue {
                key: k.clone(),
                source,
            })?;
            headers.insert(key, val);
        }
        let compression = match cfg.compression {
            Compression::Gzip => Some(CompressionEncoding::Gzip),
            Compression::Zstd => Some(CompressionEncoding::Zstd),
            Compression::Deflate => Some(CompressionEncoding::Deflate),
            _ => None,
        };
        Ok(GrpcSender {
            channel: ep.connect_lazy(),
            headers,
            compression,
            timeout: cfg.timeout,
            endpoint: cfg.endpoint.clone(),
        })
    }
}

impl Sender for GrpcSender {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let body = match &batch.encoded {
                Some(b) => b.clone(),
                None => Bytes::from(batch.request.encode_to_vec()),
            };
            let mut grpc = tonic::client::Grpc::new(self.channel.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(4 << 20);
            if let Some(c) = self.compression {
                grpc = grpc.send_compressed(c);
            }
            grpc.ready()
                .await
                .map_err(|source| GrpcSendError::Connect {
                    endpoint: self.endpoint.clone(),
                    source,
                })?;
            let mut req = tonic::Request::new(body);
            *req.metadata_mut() = self.headers.clone();
            req.set_timeout(self.timeout);
            let path = http::uri::PathAndQuery::from_static(EXPORT_PATH);
            let resp = grpc
                .unary(req, path, RawCodec)
                .await
                .map_err(GrpcSendError::Status)?;
            let resp = ExportProfilesServiceResponse::decode(resp.into_inner())
                .map_err(GrpcSendError::Response)?;
            if let Some(p) = &resp.partial_success
                && (p.rejected_profiles > 0 || !p.error_message.is_empty())
            {
                tracing::warn!(endpoint = %self.endpoint, rejected_profiles = p.rejected_profiles, message = %p.error_message, "server accepted the request partially");
            }
            Ok(())
        })
    }
}
