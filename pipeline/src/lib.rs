//! Component traits, the factory registry, graph building, fan-out, the exporter queue, shutdown
//! and internal telemetry (metrics, health).

pub mod component;
pub mod consumer;
pub mod exporter_helper;
pub mod health;
pub mod service;
pub mod telemetry;

pub use component::{
    BuildError, Built, Component, ComponentInfo, Context, ExporterFactory, ExtensionFactory,
    Factory, ProcessorFactory, ReceiverFactory, Registry, StartError,
};
pub use consumer::{BoxFuture, ConsumeError, Consumer, Fanout};
pub use service::Service;
pub use telemetry::{Counter, Gauge, Telemetry};

#[cfg(test)]
mod tests;
