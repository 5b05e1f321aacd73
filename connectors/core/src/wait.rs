//! Every wait a connector makes (a budget, a backoff, a marketplace's `Retry-After`) goes
//! through [`wait`], so whoever runs the connector can tell a loop that waits from one that
//! is stuck ([`observe_waits`]), and can stop work that only waits ([`stop_at_waits`]),
//! without the connector knowing who that is.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Told of each wait as it starts, with how long it will last.
pub type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// A stop asked of the work in scope, and how a wait says it parked there.
#[derive(Clone)]
struct Stop {
    asked: CancellationToken,
    parked: CancellationToken,
}

tokio::task_local! {
    static OBSERVER: WaitObserver;
    static STOP: Stop;
}

/// Runs `work`, telling `observer` of every wait a connector makes inside it (in this task).
pub async fn observe_waits<F: Future>(observer: WaitObserver, work: F) -> F::Output {
    OBSERVER.scope(observer, work).await
}

/// Runs `work` to its end, unless `stop` is cancelled while it waits in a connector wait (or
/// once it reaches one): nothing is in flight there, so `work` is dropped at that wait and
/// `None` returned. A request already sent is never cut: the stop takes effect at the next
/// wait, or not at all if the work ends first.
pub async fn stop_at_waits<F: Future>(stop: CancellationToken, work: F) -> Option<F::Output> {
    let parked = CancellationToken::new();
    let scope = Stop {
        asked: stop,
        parked: parked.clone(),
    };
    tokio::select! {
        biased;
        output = STOP.scope(scope, work) => Some(output),
        () = parked.cancelled() => None,
    }
}

/// Sleeps `duration`, having told the observer, if any; parks for good when a stop is asked.
pub(crate) async fn wait(duration: Duration) {
    // Outside `observe_waits` (tests, `run --once`) nobody is told.
    let _ = OBSERVER.try_with(|observe| observe(duration));
    let Ok(stop) = STOP.try_with(Stop::clone) else {
        return tokio::time::sleep(duration).await;
    };
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        () = stop.asked.cancelled() => {
            // `stop_at_waits` drops the work as soon as this is cancelled.
            stop.parked.cancel();
            std::future::pending::<()>().await;
        }
    }
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

    #[tokio::test(start_paused = true)]
    async fn a_stop_parks_the_work_at_its_wait() {
        let stop = CancellationToken::new();
        let steps = Arc::new(Mutex::new(Vec::new()));
        let log = steps.clone();
        let work = stop_at_waits(stop.clone(), async move {
            log.lock().unwrap().push("before");
            wait(Duration::from_secs(3600)).await;
            log.lock().unwrap().push("after");
        });
        let stopper = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop.cancel();
        };
        let start = tokio::time::Instant::now();
        let (outcome, ()) = tokio::join!(work, stopper);
        assert_eq!(outcome, None);
        assert_eq!(*steps.lock().unwrap(), ["before"]);
        assert_eq!(start.elapsed(), Duration::from_secs(1), "not the hour");
    }

    #[tokio::test(start_paused = true)]
    async fn work_between_waits_runs_on_until_its_next_wait() {
        let stop = CancellationToken::new();
        stop.cancel();
        // Asked before it starts: what comes before the first wait still runs.
        let ran = stop_at_waits(stop.clone(), async { 42 }).await;
        assert_eq!(ran, Some(42));
        let parked = stop_at_waits(stop, async {
            wait(Duration::from_secs(1)).await;
            42
        })
        .await;
        assert_eq!(parked, None);
    }
}
