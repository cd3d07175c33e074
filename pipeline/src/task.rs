//! Components made of background tasks: a [`TaskSet`] holds the tasks and the token that stops
//! them and waits a bounded time for them on shutdown; [`TaskComponent`] is the
//! [`Component`] of anything that only starts tasks ([`Tasks`]).

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::component::{Component, StartError};
use crate::consumer::BoxFuture;

/// How long [`TaskSet::shutdown`] waits for each task by default.
pub const DEFAULT_STOP_WAIT: Duration = Duration::from_secs(10);

/// Background tasks, their stop token and a bounded wait.
pub struct TaskSet {
    stop: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    wait: Duration,
}

impl Default for TaskSet {
    fn default() -> Self {
        TaskSet::new()
    }
}

impl TaskSet {
    pub fn new() -> TaskSet {
        TaskSet::with_wait(DEFAULT_STOP_WAIT)
    }

    /// A set whose shutdown waits at most `wait` for each task.
    pub fn with_wait(wait: Duration) -> TaskSet {
        TaskSet {
            stop: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
            wait,
        }
    }

    /// The token that fires when [`shutdown`](TaskSet::shutdown) begins; tasks watch it.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Holds a task already spawned.
    pub fn add(&self, task: JoinHandle<()>) {
        self.extend([task]);
    }

    pub fn extend(&self, tasks: impl IntoIterator<Item = JoinHandle<()>>) {
        let mut t = match self.tasks.lock() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        t.extend(tasks);
    }

    /// Spawns and holds a task.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.add(tokio::spawn(task));
    }

    /// Fires the stop token and waits for every task (each at most the set's wait).
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let tasks: Vec<_> = match self.tasks.lock() {
            Ok(mut t) => t.drain(..).collect(),
            Err(p) => p.into_inner().drain(..).collect(),
        };
        for t in tasks {
            if tokio::time::timeout(self.wait, t).await.is_err() {
                tracing::warn!(wait = ?self.wait, "a task did not stop in time");
            }
        }
    }
}

/// Something that runs as background tasks (a receiver's servers, scrapers, watchers).
pub trait Tasks: Send + Sync + 'static {
    /// Binds, opens and spawns, holding the tasks in `tasks` (which watch its stop token).
    fn start<'a>(&'a self, tasks: &'a TaskSet) -> BoxFuture<'a, Result<(), StartError>>;
}

/// The component of a [`Tasks`]: start runs it, shutdown stops its tasks with a bounded wait.
pub struct TaskComponent<T: Tasks> {
    inner: T,
    tasks: TaskSet,
}

impl<T: Tasks> TaskComponent<T> {
    pub fn new(inner: T) -> TaskComponent<T> {
        TaskComponent::with_wait(inner, DEFAULT_STOP_WAIT)
    }

    /// A component whose shutdown waits at most `wait` for each task.
    pub fn with_wait(inner: T, wait: Duration) -> TaskComponent<T> {
        TaskComponent {
            inner,
            tasks: TaskSet::with_wait(wait),
        }
    }

    pub fn inner(&self) -> &T {
        &self.inner
    }
}

impl<T: Tasks> Component for TaskComponent<T> {
    fn start(&self) -> BoxFuture<'_, Result<(), StartError>> {
        self.inner.start(&self.tasks)
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.tasks.shutdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_stops_tasks_and_bounds_the_wait() {
        let set = TaskSet::with_wait(Duration::from_millis(50));
        let stop = set.stop_token();
        set.spawn(async move { stop.cancelled().await });
        // A task that ignores the token: shutdown gives up on it after the wait.
        set.spawn(async { tokio::time::sleep(Duration::from_secs(3600)).await });
        let started = std::time::Instant::now();
        set.shutdown().await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(set.stop_token().is_cancelled());
    }
}
