//! What every receiver shares (the Collector's `receiverhelper`): a [`ReceiverObserver`] that
//! forwards batches to the next consumer and counts accepted and refused samples and requests per
//! transport, and [`metadata_from_headers`] for `include_metadata`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use profcol_pdata::Batch;

use crate::budget::{ByteBudget, BytePermit};
use crate::component::Context;
use crate::consumer::{ConsumeError, Consumer};
use crate::metrics::{RECEIVER_ACCEPTED, RECEIVER_REFUSED, RECEIVER_REQUESTS};
use crate::telemetry::{Counter, Telemetry};

/// The Collector's receiver series of one transport (`grpc`, `http`, ...).
pub struct TransportMetrics {
    /// `otelcol_receiver_accepted_profile_samples`
    pub accepted: Counter,
    /// `otelcol_receiver_refused_profile_samples`
    pub refused: Counter,
    /// `otelcol_receiver_requests{outcome="success"}`
    pub requests_ok: Counter,
    /// `otelcol_receiver_requests{outcome="failure"}`
    pub requests_failed: Counter,
}

impl TransportMetrics {
    fn new(t: &Telemetry, receiver: &str, transport: &str) -> TransportMetrics {
        let l = [("receiver", receiver), ("transport", transport)];
        let req = |outcome| {
            t.counter_of(
                &RECEIVER_REQUESTS,
                &[
                    ("receiver", receiver),
                    ("transport", transport),
                    ("outcome", outcome),
                ],
            )
        };
        TransportMetrics {
            accepted: t.counter_of(&RECEIVER_ACCEPTED, &l),
            refused: t.counter_of(&RECEIVER_REFUSED, &l),
            requests_ok: req("success"),
            requests_failed: req("failure"),
        }
    }
}

/// Forwards a receiver's batches to the next consumer and counts them per transport.
///
/// [`forward`](ReceiverObserver::forward) hands a batch on and counts its samples as accepted
/// with a successful request, or as refused with a failed one; [`refuse`](ReceiverObserver::refuse)
/// counts a request refused before anything was forwarded (undecodable, invalid) and
/// [`succeed`](ReceiverObserver::succeed) one that had nothing to forward.
pub struct ReceiverObserver {
    id: String,
    telemetry: Telemetry,
    next: Arc<dyn Consumer>,
    budget: Arc<ByteBudget>,
    transports: Mutex<BTreeMap<&'static str, Arc<TransportMetrics>>>,
}

impl ReceiverObserver {
    /// An observer for receiver `ctx.id`; the series of `transports` exist from the start (others
    /// on first use).
    pub fn new(
        ctx: &Context,
        next: Arc<dyn Consumer>,
        transports: &[&'static str],
    ) -> ReceiverObserver {
        let o = ReceiverObserver {
            id: ctx.id.to_string(),
            telemetry: ctx.telemetry.clone(),
            next,
            budget: ctx.budget.clone(),
            transports: Mutex::new(BTreeMap::new()),
        };
        for t in transports {
            o.transport(t);
        }
        o
    }

    /// The receiver's id (for logs and labels).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// The series of `transport`.
    pub fn transport(&self, transport: &'static str) -> Arc<TransportMetrics> {
        let mut m = match self.transports.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.entry(transport)
            .or_insert_with(|| {
                Arc::new(TransportMetrics::new(&self.telemetry, &self.id, transport))
            })
            .clone()
    }

    /// Admits `bytes` of request data into the process's in-flight budget before they are
    /// decoded; the permit is held until the pipeline answered
    /// ([`forward_admitted`](ReceiverObserver::forward_admitted)). A refusal (throttled, with a
    /// retry delay; permanent for a request larger than the whole budget) is counted as a failed
    /// request.
    pub fn admit(&self, transport: &'static str, bytes: usize) -> Result<BytePermit, ConsumeError> {
        self.budget
            .try_acquire(u64::try_from(bytes).unwrap_or(u64::MAX))
            .map_err(|e| {
                self.transport(transport).requests_failed.add(1);
                tracing::debug!(receiver = %self.id, bytes, error = %e, "request refused: in-flight budget spent");
                e.into_consume_error()
            })
    }

    /// Hands `batch` to the next consumer, counting its samples as accepted or refused. Its bytes
    /// are admitted into the in-flight budget first (see [`admit`](ReceiverObserver::admit));
    /// receivers that admitted the request before decoding it use
    /// [`forward_admitted`](ReceiverObserver::forward_admitted).
    pub async fn forward(&self, transport: &'static str, batch: Batch) -> Result<(), ConsumeError> {
        let permit = match self.admit(transport, batch.encoded_len()) {
            Ok(p) => p,
            Err(e) => {
                self.transport(transport)
                    .refused
                    .add(batch.sample_count() as u64);
                return Err(e);
            }
        };
        self.forward_admitted(transport, batch, permit).await
    }

    /// [`forward`](ReceiverObserver::forward) for a batch whose bytes `permit` already holds;
    /// the permit is released once the pipeline answered.
    pub async fn forward_admitted(
        &self,
        transport: &'static str,
        batch: Batch,
        permit: BytePermit,
    ) -> Result<(), ConsumeError> {
        let m = self.transport(transport);
        let n = batch.sample_count() as u64;
        let result = self.next.consume(batch).await;
        drop(permit);
        match result {
            Ok(()) => {
                m.accepted.add(n);
                m.requests_ok.add(1);
                Ok(())
            }
            Err(e) => {
                m.refused.add(n);
                m.requests_failed.add(1);
                tracing::warn!(receiver = %self.id, samples = n, kind = %e.kind(), error = %e, "pipeline refused data");
                Err(e)
            }
        }
    }

    /// A request refused before forwarding, with the samples it held (0 when unknown).
    pub fn refuse(&self, transport: &'static str, samples: u64) {
        let m = self.transport(transport);
        m.refused.add(samples);
        m.requests_failed.add(1);
    }

    /// A request answered with success that had nothing to forward.
    pub fn succeed(&self, transport: &'static str) {
        self.transport(transport).requests_ok.add(1);
    }
}

/// Request metadata from HTTP headers or gRPC metadata (`MetadataMap::into_headers`): lower-case
/// names, every value of a repeated header, non-text values skipped.
pub fn metadata_from_headers(headers: &http::HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in headers {
        if let Ok(v) = v.to_str() {
            m.entry(k.as_str().to_ascii_lowercase())
                .or_default()
                .push(v.to_owned());
        }
    }
    m
}

/// [`metadata_from_headers`] for a gRPC request's metadata (binary `-bin` entries skipped).
pub fn metadata_from_grpc(
    metadata: &tonic::metadata::MetadataMap,
) -> BTreeMap<String, Vec<String>> {
    metadata_from_headers(&metadata.clone().into_headers())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::{BoxFuture, Discard};

    struct Refuse;
    impl Consumer for Refuse {
        fn consume(&self, _b: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async { Err(ConsumeError::throttled("full")) })
        }
    }

    fn ctx(t: &Telemetry) -> Context {
        Context::new(profcol_config::ComponentId::new("otlp", None), t.clone())
    }

    fn batch() -> Batch {
        Batch::new(
            profcol_testkit::synth::stacks("svc", &[(&["a", "b"], 3)]),
            profcol_pdata::RequestContext::default(),
        )
    }

    #[tokio::test]
    async fn forward_counts_per_transport() {
        let t = Telemetry::new();
        let ok = ReceiverObserver::new(&ctx(&t), Arc::new(Discard), &["grpc"]);
        assert_eq!(
            t.value(RECEIVER_ACCEPTED.name, &[("transport", "grpc")]),
            Some(0)
        );
        let n = batch().sample_count() as i64;
        ok.forward("http", batch())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.value(RECEIVER_ACCEPTED.name, &[("transport", "http")]),
            Some(n)
        );
        let ok_requests = [("transport", "http"), ("outcome", "success")];
        assert_eq!(t.value(RECEIVER_REQUESTS.name, &ok_requests), Some(1));

        let t = Telemetry::new();
        let refusing = ReceiverObserver::new(&ctx(&t), Arc::new(Refuse), &[]);
        let e = refusing.forward("grpc", batch()).await.err();
        assert!(e.is_some_and(|e| e.kind() == crate::ErrorKind::Throttled));
        assert_eq!(
            t.value(RECEIVER_REFUSED.name, &[("transport", "grpc")]),
            Some(n)
        );
        refusing.refuse("grpc", 5);
        let failed = [("transport", "grpc"), ("outcome", "failure")];
        assert_eq!(t.value(RECEIVER_REQUESTS.name, &failed), Some(2));
    }

    #[tokio::test]
    async fn admission_holds_bytes_until_the_pipeline_answered() {
        let t = Telemetry::new();
        let b = batch();
        let size = b.encoded_len();
        let mut c = ctx(&t);
        c.budget = ByteBudget::new(size as u64 * 3 / 2, &t);
        let budget = c.budget.clone();
        let obs = ReceiverObserver::new(&c, Arc::new(Discard), &["http"]);
        let held = obs.admit("http", size).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(budget.in_flight(), size as u64);
        // A second request does not fit while the first is held: throttled, counted.
        let e = obs.forward("http", batch()).await.err();
        assert!(
            e.as_ref().is_some_and(
                |e| e.kind() == crate::ErrorKind::Throttled && e.retry_after().is_some()
            ),
            "{e:?}"
        );
        let failed = [("transport", "http"), ("outcome", "failure")];
        assert_eq!(t.value(RECEIVER_REQUESTS.name, &failed), Some(1));
        obs.forward_admitted("http", b, held)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(budget.in_flight(), 0, "released once the pipeline answered");
        obs.forward("http", batch())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(budget.in_flight(), 0);
    }

    #[test]
    fn headers_to_metadata() {
        let mut h = http::HeaderMap::new();
        h.append("X-Scope-OrgID", http::HeaderValue::from_static("t1"));
        h.append("x-scope-orgid", http::HeaderValue::from_static("t2"));
        h.append(
            "bin",
            http::HeaderValue::from_bytes(&[0xff]).unwrap_or(http::HeaderValue::from_static("")),
        );
        let m = metadata_from_headers(&h);
        assert_eq!(m.get("x-scope-orgid").map(Vec::len), Some(2));
        let mut g = tonic::metadata::MetadataMap::new();
        g.insert("tenant", tonic::metadata::MetadataValue::from_static("a"));
        assert_eq!(
            metadata_from_grpc(&g).get("tenant"),
            Some(&vec!["a".to_owned()])
        );
    }
}
