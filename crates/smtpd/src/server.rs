//! The listener: accepts connections, caps how many run at once
//! (`default_process_limit`, 100, as master.cf's maxproc), runs one task per
//! session, and stops accepting when the shutdown future resolves (sessions
//! in progress are left to finish).

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::context::ServerContext;
use crate::session::Session;

/// Accept and serve connections until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<ServerContext>,
    max_sessions: usize,
    shutdown: impl Future<Output = ()>,
) {
    let limit = Arc::new(Semaphore::new(max_sessions.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => return,
            p = limit.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((sock, peer)) => {
                let ctx = ctx.clone();
                let server_addr = sock.local_addr().map(|a| a.ip()).unwrap_or(peer.ip());
                // Each session logs under a PID of its own, as a Postfix smtpd process.
                tokio::spawn(gatepost_log::scope(gatepost_log::next_pid(), async move {
                    let _ = sock.set_nodelay(true);
                    Session::new(ctx, sock, peer, server_addr).run().await;
                    drop(permit);
                }));
            }
            Err(e) => {
                gatepost_log::warning("smtpd", format!("accept: {e}"));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
