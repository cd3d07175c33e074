//! The process-wide budget of bytes in flight (admission control).
//!
//! One [`ByteBudget`] per service, sized by `service.limits` (default: a quarter of the memory
//! available to the process). A receiver takes a [`BytePermit`] for a request's bytes before it
//! decodes them and holds it until the pipeline answered (the batch is in every exporter queue);
//! an exporter queue takes one for each batch it holds until the batch is sent or dropped. When
//! the budget is spent, new requests are refused with a retry delay instead of being buffered,
//! so memory stays bounded by the budget whatever the load.
//!
//! Bytes are counted as the request's encoded (uncompressed protobuf) size, the measure the
//! Collector's `bytes` queue sizer uses too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::ConsumeError;
use crate::metrics::{PROCESS_IN_FLIGHT_BYTES, PROCESS_IN_FLIGHT_LIMIT_BYTES};
use crate::telemetry::{Gauge, Telemetry};

/// How long a refused client is told to wait before trying again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why bytes were not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// The budget is spent for now; retrying later may succeed.
    #[error(
        "the process holds {in_flight} bytes in flight, and {requested} more would exceed its budget of {limit} bytes (service.limits)"
    )]
    Exhausted {
        requested: u64,
        in_flight: u64,
        limit: u64,
    },
    /// The request alone is larger than the whole budget: it can never be admitted.
    #[error(
        "a request of {requested} bytes exceeds the process's in-flight budget of {limit} bytes (service.limits)"
    )]
    TooLarge { requested: u64, limit: u64 },
}

impl BudgetError {
    /// As a pipeline error: throttled with [`RETRY_AFTER`], or permanent for a request larger
    /// than the budget.
    pub fn into_consume_error(self) -> ConsumeError {
        match self {
            BudgetError::Exhausted { .. } => {
                ConsumeError::throttled(self).with_retry_after(Some(RETRY_AFTER))
            }
            BudgetError::TooLarge { .. } => ConsumeError::permanent(self),
        }
    }
}

impl From<BudgetError> for ConsumeError {
    fn from(e: BudgetError) -> ConsumeError {
        e.into_consume_error()
    }
}

/// A budget of bytes shared by every receiver and exporter queue of the process.
pub struct ByteBudget {
    limit: u64,
    used: AtomicU64,
    gauge: Gauge,
}

impl ByteBudget {
    /// A budget of `limit` bytes, reported as `profcol_process_in_flight_bytes` and
    /// `profcol_process_in_flight_limit_bytes`.
    pub fn new(limit: u64, telemetry: &Telemetry) -> Arc<ByteBudget> {
        telemetry
            .gauge_of(&PROCESS_IN_FLIGHT_LIMIT_BYTES, &[])
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
        Arc::new(ByteBudget {
            limit,
            used: AtomicU64::new(0),
            gauge: telemetry.gauge_of(&PROCESS_IN_FLIGHT_BYTES, &[]),
        })
    }

    /// A budget that admits everything (tests and tools that run components by hand).
    pub fn unlimited() -> Arc<ByteBudget> {
        Arc::new(ByteBudget {
            limit: u64::MAX,
            used: AtomicU64::new(0),
            gauge: Gauge::default(),
        })
    }

    /// The budget sized per `service.limits`: `in_flight_mib`, or `in_flight_percentage` of
    /// `available` bytes, or a quarter of `available` (at least 64 MiB).
    pub fn from_config(
        limits: &profcol_config::LimitsConfig,
        available: u64,
        telemetry: &Telemetry,
    ) -> Arc<ByteBudget> {
        const MIB: u64 = 1 << 20;
        let limit = match (limits.in_flight_mib, limits.in_flight_percentage) {
            (Some(mib), _) => mib.saturating_mul(MIB),
            (None, Some(pct)) => available / 100 * pct,
            (None, None) => (available / 4).max(64 * MIB),
        };
        ByteBudget::new(limit.max(1), telemetry)
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes currently held by permits.
    pub fn in_flight(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes `bytes` from the budget, or says why not. The bytes return when the permit drops.
    pub fn try_acquire(self: &Arc<Self>, bytes: u64) -> Result<BytePermit, BudgetError> {
        if bytes > self.limit {
            return Err(BudgetError::TooLarge {
                requested: bytes,
                limit: self.limit,
            });
        }
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let next = cur.saturating_add(bytes);
            if next > self.limit {
                return Err(BudgetError::Exhausted {
                    requested: bytes,
                    in_flight: cur,
                    limit: self.limit,
                });
            }
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        self.gauge.add(i64::try_from(bytes).unwrap_or(i64::MAX));
        Ok(BytePermit {
            budget: Some(self.clone()),
            bytes,
        })
    }
}

/// Bytes taken from a [`ByteBudget`]; they return to it when the permit drops.
pub struct BytePermit {
    budget: Option<Arc<ByteBudget>>,
    bytes: u64,
}

impl BytePermit {
    /// A permit holding nothing.
    pub fn empty() -> BytePermit {
        BytePermit {
            budget: None,
            bytes: 0,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for BytePermit {
    fn drop(&mut self) {
        if let Some(b) = self.budget.take() {
            b.used.fetch_sub(self.bytes, Ordering::AcqRel);
            b.gauge.add(-i64::try_from(self.bytes).unwrap_or(i64::MAX));
        }
    }
}

impl std::fmt::Debug for BytePermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BytePermit")
            .field("bytes", &self.bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_return_their_bytes() {
        let t = Telemetry::new();
        let b = ByteBudget::new(100, &t);
        let p1 = b.try_acquire(60).unwrap();
        assert_eq!(b.in_flight(), 60);
        let err = b.try_acquire(50).unwrap_err();
        assert!(matches!(err, BudgetError::Exhausted { in_flight: 60, .. }));
        let ce = err.into_consume_error();
        assert!(ce.is_retryable());
        assert_eq!(ce.retry_after(), Some(RETRY_AFTER));
        assert!(ce.to_string().contains("service.limits"), "{ce}");
        drop(p1);
        assert_eq!(b.in_flight(), 0);
        let _p2 = b.try_acquire(100).unwrap();
        assert_eq!(
            t.value("profcol_process_in_flight_bytes", &[]),
            Some(100),
            "{}",
            t.render()
        );
        let too = b.try_acquire(101).unwrap_err();
        assert!(matches!(too, BudgetError::TooLarge { .. }));
        assert!(too.into_consume_error().is_permanent());
    }

    #[test]
    fn sized_from_config() {
        let t = Telemetry::new();
        let l = profcol_config::LimitsConfig {
            in_flight_mib: Some(3),
            in_flight_percentage: None,
        };
        assert_eq!(ByteBudget::from_config(&l, 0, &t).limit(), 3 << 20);
        let l = profcol_config::LimitsConfig {
            in_flight_mib: None,
            in_flight_percentage: Some(10),
        };
        assert_eq!(
            ByteBudget::from_config(&l, 1000 << 20, &t).limit(),
            100 << 20
        );
        let d = ByteBudget::from_config(&Default::default(), 1 << 30, &t);
        assert_eq!(d.limit(), 256 << 20);
    }
}
