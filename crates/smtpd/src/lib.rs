//! The SMTP server (Postfix's smtpd): listeners, the per-connection session
//! and per-message transaction state machines, Postfix's replies, limits
//! and log lines, the restriction checks at each stage, STARTTLS / implicit
//! TLS and SMTP AUTH, and the hand-off to the queue (`250` only after the
//! message is durable).
//!
//! Modules: `server` (listener, [`serve`]), `context` (what outlives a
//! session), `settings`, `session` (one connection), `handlers` (commands
//! other than DATA), `data_phase` (DATA, cleanup, commit), `bdat` (BDAT), `etrn` (ETRN and fast flush), `footer` (smtpd_reject_footer), `client_facts` (the client attributes stored with a message), `transaction`,
//! `stream` (the client byte stream), `peername` (client name), `received`
//! (the `Received:` header), `counters` (the `disconnect` line), `storage`
//! (free space), `security` (the TLS and AUTH settings of a service),
//! `tls_session` (STARTTLS and wrapper mode), `auth` (the AUTH command).
#![forbid(unsafe_code)]

pub mod anvil;
mod auth;
mod bdat;
mod client_facts;
mod client_limits;
mod content_verdict;
mod context;
mod counters;
mod data_phase;
mod etrn;
mod footer;
mod handlers;
mod mail_auth;
mod milter_glue;
mod peername;
mod received;
mod security;
mod server;
mod session;
mod settings;
mod storage;
mod stream;
mod tls_session;
mod transaction;

pub use context::{ContextError, ServerContext};
pub use server::{serve, SessionLimit};
pub use settings::SmtpdSettings;
pub use stream::ClientIo;

/// Run one SMTP session on a byte stream that is not a socket, as Postfix's
/// stand-alone smtpd does for `sendmail -bs`: `client` is who the session
/// is logged and checked as (e.g. `127.0.0.1`), `server` our own address.
pub async fn serve_stream(
    ctx: std::sync::Arc<ServerContext>,
    io: Box<dyn ClientIo>,
    client: std::net::SocketAddr,
    server: std::net::IpAddr,
) {
    let settings = &ctx.settings;
    let stream = stream::ClientStream::from_io(io, settings.line_length_limit, settings.timeout);
    // Postfix's stand-alone smtpd calls a peer that is not a socket
    // `localhost`, whatever smtpd_peername_lookup says.
    session::Session::with_stream(ctx, stream, client, server)
        .with_client_name("localhost")
        .run()
        .await;
}
