//! Every wait a connector makes (a budget, a backoff, a marketplace's `Retry-After`) goes
//! through [`wait`], so whoever runs the connector can tell a loop that waits from one that
//! is stuck, without the connector knowing who that is.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Told of each wait as it starts, with how long it will last.
pub type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

tokio::task_local! {
    static OBSERVER: WaitObserver;
}

/// Runs `work`, telling `observer` of every wait a connector makes inside it (in this task).
pub async fn observe_waits<F: Future>(observer: WaitObserver, work: F) -> F::Output {
    OBSERVER.scope(observer, work).await
}

/// Sleeps `duration`, having told the observer, if any.
pub(crate) async fn wait(duration: Duration) {
    // Outside `observe_waits` (tests, `run --once`) nobody is told.
    let _ = OBSERVER.try_with(|observe| observe(duration));
    tokio::time::sleep(duration).await;
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_observer_hears_of_each_wait_in_its_scope_only() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let record = heard.clone();
        let observer: WaitObserver = Arc::new(move |d| record.lock().unwrap().push(d));
        observe_waits(observer, async {
            wait(Duration::from_secs(3)).await;
            wait(Duration::from_secs(5)).await;
        })
        .await;
        wait(Duration::from_secs(7)).await;
        let secs = |s| Duration::from_secs(s);
        assert_eq!(*heard.lock().unwrap(), [secs(3), secs(5)]);
    }
}
