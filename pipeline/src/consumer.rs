//! The push interface between components.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use profcol_pdata::Batch;

pub use crate::error::ConsumeError;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that takes batches: a processor, an exporter's queue, or a fan-out.
pub trait Consumer: Send + Sync + 'static {
    /// Takes the batch. Returns once the batch is held by every downstream exporter queue (or was
    /// deliberately dropped by a processor), or with the reason it was not.
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>>;
}

/// Sends each batch to every consumer; succeeds only when all accepted.
pub struct Fanout {
    consumers: Vec<Arc<dyn Consumer>>,
}

impl Fanout {
    /// A single consumer is returned as is.
    pub fn of(mut consumers: Vec<Arc<dyn Consumer>>) -> Arc<dyn Consumer> {
        if consumers.len() == 1
            && let Some(c) = consumers.pop()
        {
            return c;
        }
        Arc::new(Fanout { consumers })
    }
}

impl Consumer for Fanout {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let results =
                futures::future::join_all(self.consumers.iter().map(|c| c.consume(batch.clone())))
                    .await;
            let mut first_err: Option<ConsumeError> = None;
            for r in results {
                if let Err(e) = r {
                    // A retryable error wins: the sender should try again.
                    let replace = match &first_err {
                        None => true,
                        Some(f) => f.is_permanent() && e.is_retryable(),
                    };
                    if replace {
                        first_err = Some(e);
                    }
                }
            }
            first_err.map_or(Ok(()), Err)
        })
    }
}

/// A consumer that accepts and discards (used when nothing is downstream, e.g. in tests).
pub struct Discard;

impl Consumer for Discard {
    fn consume(&self, _batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async { Ok(()) })
    }
}
