//! profcol exporters: one folder per exporter.

pub mod debug;
pub mod file;
pub mod http_client;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod parquet;
pub mod pyroscope;

use profcol_pipeline::{Factory, Registry};

/// Adds every exporter factory to the registry.
pub fn register(registry: &mut Registry) {
    registry.register(Factory::Exporter(Box::new(otlp_grpc::OtlpGrpcFactory)));
    registry.register(Factory::Exporter(Box::new(otlp_http::OtlpHttpFactory)));
    registry.register(Factory::Exporter(Box::new(debug::DebugFactory)));
    registry.register(Factory::Exporter(Box::new(file::FileFactory)));
    registry.register(Factory::Exporter(Box::new(parquet::ParquetFactory)));
    registry.register(Factory::Exporter(Box::new(pyroscope::PyroscopeFactory)));
}
