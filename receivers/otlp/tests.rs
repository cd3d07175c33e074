use std::sync::{Arc, Mutex};

use profcol_config::Section;
use profcol_pdata::collector::profiles_service_client::ProfilesServiceClient;
use profcol_pdata::{Batch, ExportProfilesServiceRequest};
use profcol_pipeline::consumer::BoxFuture;
use profcol_pipeline::{ConsumeError, Consumer, Context, ReceiverFactory, Telemetry};
use profcol_testkit::synth::stacks;
use prost::Message;
use serde_json::json;

use super::OtlpReceiverFactory;

struct Sink {
    got: Mutex<Vec<Batch>>,
    refuse: bool,
}

impl Consumer for Sink {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if self.refuse {
                return Err(ConsumeError::retryable("queue full")
                    .with_retry_after(Some(std::time::Duration::from_secs(7))));
            }
            self.got.lock().unwrap().push(batch);
            Ok(())
        })
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running {
    grpc: String,
    http: String,
    sink: Arc<Sink>,
    comp: Box<dyn profcol_pipeline::Component>,
    telemetry: Telemetry,
}

async fn start(refuse: bool, extra_grpc: serde_json::Value) -> Running {
    let (g, h) = (free_port(), free_port());
    let mut grpc = json!({"endpoint": format!("127.0.0.1:{g}")});
    if let (Some(o), Some(e)) = (grpc.as_object_mut(), extra_grpc.as_object()) {
        o.extend(e.clone());
    }
    let cfg = json!({"protocols": {"grpc": grpc, "http": {"endpoint": format!("127.0.0.1:{h}")}}});
    let sink = Arc::new(Sink {
        got: Mutex::new(Vec::new()),
        refuse,
    });
    let telemetry = Telemetry::new();
    let ctx = Context::new(
        profcol_config::ComponentId::new("otlp", None),
        telemetry.clone(),
    );
    let comp = OtlpReceiverFactory
        .create(
            ctx,
            &Section::from_value("receivers.otlp", cfg),
            sink.clone(),
        )
        .unwrap();
    comp.start().await.unwrap();
    Running {
        grpc: format!("http://127.0.0.1:{g}"),
        http: format!("http://127.0.0.1:{h}/v1development/profiles"),
        sink,
        comp,
        telemetry,
    }
}

fn request() -> ExportProfilesServiceRequest {
    stacks(
        "checkout",
        &[(&["main", "serve", "hot"], 30), (&["main", "idle"], 5)],
    )
}

#[tokio::test]
async fn grpc_accepts_and_keeps_original_bytes() {
    let r = start(false, json!({})).await;
    let mut client = ProfilesServiceClient::connect(r.grpc.clone())
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let resp = client.export(request()).await.unwrap().into_inner();
    assert!(resp.partial_success.is_none());
    let got = r.sink.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].sample_count(), 2);
    assert_eq!(
        got[0].encoded.as_deref(),
        Some(request().encode_to_vec().as_slice()),
        "original bytes travel with the batch"
    );
    assert_eq!(
        r.telemetry.value(
            "otelcol_receiver_accepted_profile_samples",
            &[("transport", "grpc")]
        ),
        Some(2)
    );
    r.comp.shutdown().await;
}

#[tokio::test]
async fn grpc_oversize_is_resource_exhausted() {
    let r = start(false, json!({"max_recv_msg_size_mib": 1})).await;
    let mut big = request();
    big.dictionary
        .as_mut()
        .unwrap()
        .string_table
        .push("x".repeat(2 << 20));
    let mut client = ProfilesServiceClient::connect(r.grpc.clone())
        .await
        .unwrap()
        .max_encoding_message_size(64 << 20);
    let err = client.export(big.clone()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    // Compressed below the limit but over it once decompressed: also RESOURCE_EXHAUSTED.
    let mut client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let err = client.export(big).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    // And it keeps serving.
    client.export(request()).await.unwrap();
    r.comp.shutdown().await;
}

#[tokio::test]
async fn pushback_is_unavailable_and_503_with_retry_after() {
    let r = start(true, json!({})).await;
    let mut client = ProfilesServiceClient::connect(r.grpc.clone())
        .await
        .unwrap();
    let err = client.export(request()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    let resp = reqwest::Client::new()
        .post(&r.http)
        .header("content-type", "application/x-protobuf")
        .body(request().encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "7");
    assert_eq!(
        r.telemetry.value(
            "otelcol_receiver_refused_profile_samples",
            &[("transport", "http")]
        ),
        Some(2)
    );
    r.comp.shutdown().await;
}

#[tokio::test]
async fn http_json_round_trip_and_invalid_index_message() {
    let r = start(false, json!({})).await;
    let http = reqwest::Client::new();
    let body = profcol_pdata::json::encode_request(&request());
    let resp = http
        .post(&r.http)
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/json"
    );
    let mut bad = request();
    bad.resource_profiles[0].scope_profiles[0].profiles[0].samples[1].stack_index = -3;
    let resp = http
        .post(&r.http)
        .header("content-type", "application/x-protobuf")
        .body(bad.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let text = String::from_utf8_lossy(&resp.bytes().await.unwrap()).into_owned();
    assert!(
        text.contains("samples[1].stack_index") && text.contains("-3"),
        "{text}"
    );
    assert_eq!(r.sink.got.lock().unwrap().len(), 1);
    r.comp.shutdown().await;
}
