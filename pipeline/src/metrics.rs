//! The Collector's own internal metrics, declared once. Components build their series from these
//! definitions (through [`ReceiverObserver`](crate::receiver_helper::ReceiverObserver),
//! [`ProcessorItems`] and the exporter queue) instead of repeating names at call sites;
//! component-specific metrics are declared the same way beside their component.

use crate::telemetry::{Counter, MetricDef, Telemetry};

// Receivers (`receiverhelper`), labels `receiver`, `transport` (and `outcome` for requests).
pub const RECEIVER_ACCEPTED: MetricDef = MetricDef::new(
    "otelcol_receiver_accepted_profile_samples",
    "Number of profile samples successfully pushed into the pipeline.",
    "{sample}",
);
pub const RECEIVER_REFUSED: MetricDef = MetricDef::new(
    "otelcol_receiver_refused_profile_samples",
    "Number of profile samples that could not be pushed into the pipeline.",
    "{sample}",
);
pub const RECEIVER_REQUESTS: MetricDef = MetricDef::new(
    "otelcol_receiver_requests",
    "Number of requests received.",
    "{request}",
);

// Processors, labels `processor`, `otel_signal`.
pub const PROCESSOR_INCOMING: MetricDef = MetricDef::new(
    "otelcol_processor_incoming_items",
    "Number of items passed to the processor.",
    "{item}",
);
pub const PROCESSOR_OUTGOING: MetricDef = MetricDef::new(
    "otelcol_processor_outgoing_items",
    "Number of items emitted from the processor.",
    "{item}",
);

// Exporters (`exporterhelper`), label `exporter` (and `data_type` for the queue gauges).
pub const EXPORTER_SENT: MetricDef = MetricDef::new(
    "otelcol_exporter_sent_profile_samples",
    "Number of profile samples successfully sent to destination.",
    "{sample}",
);
pub const EXPORTER_SEND_FAILED: MetricDef = MetricDef::new(
    "otelcol_exporter_send_failed_profile_samples",
    "Number of profile samples in failed attempts to send to destination.",
    "{sample}",
);
pub const EXPORTER_ENQUEUE_FAILED: MetricDef = MetricDef::new(
    "otelcol_exporter_enqueue_failed_profile_samples",
    "Number of profile samples failed to be added to the sending queue.",
    "{sample}",
);
pub const EXPORTER_QUEUE_SIZE: MetricDef = MetricDef::new(
    "otelcol_exporter_queue_size",
    "Current size of the retry queue (in batches).",
    "{batch}",
);
pub const EXPORTER_QUEUE_CAPACITY: MetricDef = MetricDef::new(
    "otelcol_exporter_queue_capacity",
    "Fixed capacity of the retry queue (in batches).",
    "{batch}",
);

// profcol's own: the process-wide in-flight budget (`budget`).
pub const PROCESS_IN_FLIGHT_BYTES: MetricDef = MetricDef::new(
    "profcol_process_in_flight_bytes",
    "Bytes of request data admitted and not yet sent or released (receivers and exporter queues).",
    "By",
);
pub const PROCESS_IN_FLIGHT_LIMIT_BYTES: MetricDef = MetricDef::new(
    "profcol_process_in_flight_limit_bytes",
    "The process's in-flight budget (service.limits).",
    "By",
);

/// `otelcol_processor_incoming_items` / `otelcol_processor_outgoing_items` of one processor.
pub struct ProcessorItems {
    pub incoming: Counter,
    pub outgoing: Counter,
}

impl ProcessorItems {
    pub fn new(t: &Telemetry, processor: &str) -> ProcessorItems {
        let l = [("processor", processor), ("otel_signal", "profiles")];
        ProcessorItems {
            incoming: t.counter_of(&PROCESSOR_INCOMING, &l),
            outgoing: t.counter_of(&PROCESSOR_OUTGOING, &l),
        }
    }
}
