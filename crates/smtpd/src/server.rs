//! The listener: accepts connections, runs one task per session under the
//! service's process limit (master.cf maxproc, else `default_process_limit`;
//! shared by every listener of the service), and stops accepting when the
//! shutdown future resolves (sessions in progress are left to finish).
//! When every session slot is taken it logs master(8)'s warning, at most
//! once every 1000 seconds per service.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::context::ServerContext;
use crate::session::Session;

/// How often the process limit warning may repeat (master(8)).
const LIMIT_WARNING_INTERVAL: Duration = Duration::from_secs(1000);

/// The session slots of one service.
pub struct SessionLimit {
    slots: Arc<Semaphore>,
    /// The limit as configured (0: none).
    limit: usize,
    /// `"smtp" (25)`: the service as master.cf names it and its endpoint.
    label: String,
    last_warning: Mutex<Option<Instant>>,
}

impl SessionLimit {
    /// `limit` sessions at once (0: no limit) for the master.cf service
    /// `name` listening on `endpoint` (e.g. `25`, `127.0.0.1:2525`).
    pub fn new(limit: usize, name: &str, endpoint: &str) -> Arc<SessionLimit> {
        let permits = if limit == 0 {
            Semaphore::MAX_PERMITS
        } else {
            limit
        };
        Arc::new(SessionLimit {
            slots: Arc::new(Semaphore::new(permits)),
            limit,
            label: format!("\"{name}\" ({endpoint})"),
            last_warning: Mutex::new(None),
        })
    }

    /// master(8)'s three lines when the limit is reached.
    fn warn_reached(&self) {
        let mut last = match self.last_warning.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        if last.is_some_and(|t| t.elapsed() < LIMIT_WARNING_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        gatepost_log::warning(
            "master",
            format!(
                "service {} has reached its process limit \"{}\": new clients may experience noticeable delays",
                self.label, self.limit
            ),
        );
        gatepost_log::warning(
            "master",
            "to avoid this condition, increase the process count in master.cf or reduce the service time per client",
        );
        gatepost_log::warning(
            "master",
            "see http://www.postfix.org/STRESS_README.html for examples of stress-adapting configuration settings",
        );
    }
}

/// The task of one accepted connection: its session, logged under a PID of
/// its own (as a Postfix smtpd process), holding its slot until it ends.
/// What an idle session costs is mostly this future (see
/// `session_future_stays_small`).
fn session_task(
    ctx: Arc<ServerContext>,
    sock: TcpStream,
    peer: SocketAddr,
    bound: Option<IpAddr>,
    permit: OwnedSemaphorePermit,
) -> impl Future<Output = ()> + Send + 'static {
    // A listener bound to one address accepts only on it: no
    // getsockname(2) per connection then.
    let server_addr = bound
        .or_else(|| sock.local_addr().map(|a| a.ip()).ok())
        .unwrap_or(peer.ip());
    let _ = sock.set_nodelay(true);
    gatepost_log::scope(gatepost_log::next_pid(), async move {
        Session::new(ctx, sock, peer, server_addr).run().await;
        drop(permit);
    })
}

/// Accept and serve connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<ServerContext>,
    limit: Arc<SessionLimit>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let bound = listener
        .local_addr()
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified());
    loop {
        let permit = match limit.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                limit.warn_reached();
                tokio::select! {
                    _ = &mut shutdown => return,
                    p = limit.slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((sock, peer)) => {
                gatepost_metrics::connection(&ctx.service);
                tokio::spawn(session_task(ctx.clone(), sock, peer, bound, permit));
            }
            Err(e) => {
                gatepost_log::warning("smtpd", format!("accept: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an idle session's task may take, in bytes. It was 9.4 KiB
    /// before the session's large steps were boxed; a change that makes it
    /// grow past this should box the new large step instead (see
    /// `Session::run`).
    const IDLE_SESSION_FUTURE_MAX: usize = 2048;

    #[tokio::test]
    async fn session_future_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = gatepost_config::Config::parse_main_cf("myhostname = mx.spec.test\n", "main.cf")
            .unwrap();
        let queue = gatepost_queue::Queue::open(dir.path()).unwrap();
        let rewriter = Arc::new(gatepost_rewrite::Rewriter::from_config(&cfg).unwrap());
        let ctx = Arc::new(ServerContext::new("smtpd", &cfg, queue, rewriter).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (sock, peer) = listener.accept().await.unwrap();
        let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let task = session_task(ctx, sock, peer, None, permit);
        let size = std::mem::size_of_val(&task);
        println!("idle session future: {size} bytes");
        assert!(
            size <= IDLE_SESSION_FUTURE_MAX,
            "the session future takes {size} bytes, more than {IDLE_SESSION_FUTURE_MAX}"
        );
    }
}
