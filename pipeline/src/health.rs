//! The `health_check` extension: `GET /` answers 200 while the service runs, 503 otherwise.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use profcol_config::{ConfigErrors, Kind, Section, Signal};
use profcol_settings::{ComponentConfig, Problems};
use serde::Deserialize;

use crate::component::{
    BuildError, BuiltExtension, ComponentInfo, Context, ExtensionFactory, StartError,
};
use crate::consumer::BoxFuture;
use crate::host::Offers;
use crate::task::{TaskComponent, TaskSet, Tasks};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    pub endpoint: String,
    pub path: String,
    /// Accepted for compatibility; profcol reports the service state.
    pub check_collector_pipeline: Option<serde_json::Value>,
    pub response_body: Option<ResponseBody>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseBody {
    pub healthy: String,
    pub unhealthy: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: "localhost:13133".into(),
            path: "/".into(),
            check_collector_pipeline: None,
            response_body: None,
        }
    }
}

impl ComponentConfig for HealthCheckConfig {
    fn check(&mut self, p: &mut Problems<'_>) {
        if !self.path.starts_with('/') {
            p.push("path", "must start with '/'");
        }
        if self.endpoint.is_empty() {
            p.push("endpoint", "must not be empty");
        }
    }
}

pub struct HealthCheckFactory;

impl ExtensionFactory for HealthCheckFactory {
    fn info(&self) -> ComponentInfo {
        ComponentInfo {
            kind: Kind::Extension,
            ty: "health_check",
            aliases: &[],
            signals: &[
                Signal::Traces,
                Signal::Metrics,
                Signal::Logs,
                Signal::Profiles,
            ],
            description: "HTTP health endpoint (default localhost:13133/)",
        }
    }
    fn validate(&self, section: &Section) -> Result<(), ConfigErrors> {
        HealthCheckConfig::validate(section)
    }
    fn create(&self, ctx: Context, section: &Section) -> Result<BuiltExtension, BuildError> {
        let check = HealthCheck {
            cfg: HealthCheckConfig::load(section)?,
            ctx,
        };
        let component = TaskComponent::with_wait(check, std::time::Duration::from_secs(2));
        Ok((Box::new(component), Offers::default()))
    }
}

struct HealthCheck {
    cfg: HealthCheckConfig,
    ctx: Context,
}

impl Tasks for HealthCheck {
    fn start<'a>(&'a self, tasks: &'a TaskSet) -> BoxFuture<'a, Result<(), StartError>> {
        Box::pin(async move {
            let listener = tokio::net::TcpListener::bind(&self.cfg.endpoint)
                .await
                .map_err(|e| {
                    StartError::new(
                        &self.ctx.id,
                        format!("cannot listen on {}: {e}", self.cfg.endpoint),
                    )
                })?;
            let ready = self.ctx.ready.clone();
            let since = SystemTime::now();
            let body = self.cfg.response_body.clone();
            let handler = move || {
                let ready = ready.clone();
                let body = body.clone();
                async move {
                    let up = ready.load(Ordering::Relaxed);
                    let status = if up {
                        axum::http::StatusCode::OK
                    } else {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    };
                    let text = match (&body, up) {
                        (Some(b), true) => b.healthy.clone(),
                        (Some(b), false) => b.unhealthy.clone(),
                        (None, _) => {
                            let uptime = since.elapsed().unwrap_or_default();
                            let since_s = since
                                .duration_since(SystemTime::UNIX_EPOCH)
                                .unwrap_or_default()
                                .as_secs();
                            serde_json::json!({
                                "status": if up { "Server available" } else { "Server not available" },
                                "upSince": since_s,
                                "uptime": format!("{:.3}s", uptime.as_secs_f64()),
                            })
                            .to_string()
                        }
                    };
                    (status, [("content-type", "application/json")], text)
                }
            };
            let app = axum::Router::new().route(&self.cfg.path, axum::routing::get(handler));
            let stop = tasks.stop_token();
            tasks.spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await;
            });
            Ok(())
        })
    }
}

/// Keeps the `Arc` import used for readers of this module's API.
pub type Ready = Arc<std::sync::atomic::AtomicBool>;
