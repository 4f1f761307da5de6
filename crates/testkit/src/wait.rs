//! Waiting for an event with a deadline: tests never sleep a fixed time
//! and then assert; they poll for the event that proves what they check.

use std::time::{Duration, Instant};

/// How long any test waits for an event before it fails.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// Poll `cond` until it holds; panic naming `what` after [`EVENT_TIMEOUT`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < EVENT_TIMEOUT,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_until`] for async tests: polls without blocking the runtime.
pub async fn wait_until_async(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < EVENT_TIMEOUT,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
