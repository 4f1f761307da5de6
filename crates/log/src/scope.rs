//! The PID shown in log lines. Postfix runs each smtpd session and each
//! delivery in a process of its own, and log tools (pflogsumm, ...) pair
//! `connect from` with `disconnect from` by that PID. gatepost runs them as
//! tasks of one process, so each gets a number of its own instead: the
//! accept loop and the queue manager wrap a session's or delivery's future
//! in [`scope`] with a number from [`next_pid`]; lines logged outside any
//! scope show the real process id.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

tokio::task_local! {
    static LOG_PID: u32;
}

/// The last number handed out; starts at the process id.
static LAST_PID: OnceLock<AtomicU32> = OnceLock::new();

/// A fresh PID-like number for one session or delivery: the process id
/// plus a counter, never 0.
pub fn next_pid() -> u32 {
    let last = LAST_PID.get_or_init(|| AtomicU32::new(std::process::id()));
    loop {
        let n = last.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if n != 0 {
            return n;
        }
    }
}

/// Run `future` with its log lines under `pid`.
pub fn scope<F: Future>(pid: u32, future: F) -> impl Future<Output = F::Output> {
    LOG_PID.scope(pid, future)
}

/// The PID for a line logged now: the scope's, else the process id
/// (asked of the kernel once: the server never forks without exec).
pub(crate) fn current_pid() -> u32 {
    static PROCESS_ID: OnceLock<u32> = OnceLock::new();
    LOG_PID
        .try_with(|pid| *pid)
        .unwrap_or_else(|_| *PROCESS_ID.get_or_init(std::process::id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scopes_have_their_own_pid() {
        let a = next_pid();
        let b = next_pid();
        assert_ne!(a, b);
        assert_eq!(current_pid(), std::process::id());
        assert_eq!(scope(a, async { current_pid() }).await, a);
        assert_eq!(scope(b, async { current_pid() }).await, b);
    }
}
