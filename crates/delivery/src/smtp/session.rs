//! One SMTP conversation with one server (Postfix `smtp_proto.c`): the
//! greeting, EHLO with fallback to HELO (421 gives up), the feature list,
//! the SIZE check, `MAIL FROM` (with `SIZE=` and `BODY=8BITMIME` when
//! offered), `RCPT TO` for each recipient and `DATA` — written in one go
//! when the server offers PIPELINING, in lock-step otherwise — then the
//! content and `QUIT`. Each recipient ends with a verdict:
//!
//! | event | text | DSN |
//! |---|---|---|
//! | greeting / HELO rejected | `host H[A] refused to talk to me: REPLY` | reply's (5xx greeting → 4.x.x with `smtp_skip_5xx_greeting`) |
//! | command rejected | `host H[A] said: REPLY (in reply to X command)` | reply's |
//! | delivered | the end-of-data reply, e.g. `250 2.0.0 Ok: queued as X` | reply's |
//! | broken conversation | `lost connection with H[A] while WHERE` | 4.4.2 |
//! | server greets us with our own name | `mail for NEXTHOP loops back to myself` | 5.4.6 (4.4.6 when not the best MX) |
//!
//! Deferred verdicts may be retried on the next server by the caller.
//! STARTTLS follows the EHLO exchange when the TLS policy asks for it
//! (`starttls.rs`); EHLO is then sent again inside TLS. AUTH follows the
//! last EHLO when `smtp_sasl_auth_enable` and the password table say so
//! (`sasl_client.rs`); after a login `MAIL FROM` carries `AUTH=` with
//! the identity stored with the message (or `AUTH=<>` with
//! `smtp_send_dummy_mail_auth = yes`).
//!
//! In LMTP mode (RFC 2033) the greeting is answered with `LHLO` (no HELO
//! fallback: a refused LHLO is `refused to talk to me`), and after the
//! content the server sends one reply per accepted recipient, in `RCPT TO`
//! order: each recipient is delivered, deferred or bounced on its own
//! reply (`host H[A] said: REPLY (in reply to end of DATA command)`).

use crate::smtp::addr_list::Target;
use crate::smtp::conn::{Broken, Conn};
use crate::smtp::destination::Destination;
use crate::smtp::ehlo::{parse_ehlo, Features};
use crate::smtp::reply::Reply;
use crate::smtp::sasl_client::{authenticate, xtext, Security};
use crate::smtp::smtp_params::SmtpParams;
use crate::smtp::starttls::{starttls, Step};
use crate::smtp::tls_policy::DestPolicy;
use crate::verdict::Verdict;

/// What is being delivered in this conversation.
pub(crate) struct Job<'a> {
    /// Envelope sender, external form, empty for `<>`.
    pub sender: &'a str,
    /// (recipient index, external-form address).
    pub recipients: &'a [(usize, String)],
    /// Encoded content (CRLF, dot-stuffed, final `.` CRLF included).
    pub data: &'a [u8],
    /// Message size for `SIZE=`.
    pub size: u64,
    pub eight_bit: bool,
    pub queue_id: &'a str,
    /// The `AUTH=` identity stored with the message, if any.
    pub auth: Option<&'a str>,
}

/// Per-session facts from the caller.
pub(crate) struct SessionCtx<'a> {
    pub params: &'a SmtpParams,
    pub myhostname: &'a str,
    pub nexthop: &'a str,
    /// The next hop as written (`[host]:port`, `domain`), parsed in `dest`.
    pub nexthop_spec: &'a str,
    pub dest: &'a Destination,
    pub tls: &'a DestPolicy,
    /// Port 25: apply Postfix's loop checks.
    pub loop_detect: bool,
    /// This server has the best MX preference.
    pub best_mx: bool,
}

/// Collects one verdict per recipient.
struct Results {
    verdicts: Vec<Option<Verdict>>,
}

impl Results {
    fn set_all(&mut self, v: &Verdict) {
        for slot in self.verdicts.iter_mut().filter(|s| s.is_none()) {
            *slot = Some(v.clone());
        }
    }
}

fn verdict_from(dsn: &str, text: String) -> Verdict {
    if dsn.starts_with('2') {
        Verdict::sent(dsn, text)
    } else if dsn.starts_with('5') {
        Verdict::bounced(dsn, text)
    } else {
        Verdict::deferred(dsn, text)
    }
}

fn said(namaddr: &str, reply: &Reply, command: &str) -> Verdict {
    verdict_from(
        &reply.dsn,
        format!(
            "host {namaddr} said: {} (in reply to {command} command)",
            gatepost_log::sanitize(&reply.text())
        ),
    )
}

/// The verdict of an end-of-data reply.
fn end_of_data(namaddr: &str, done: &Reply) -> Verdict {
    if done.class() == 2 {
        Verdict::sent(&done.dsn, gatepost_log::sanitize(&done.text()))
    } else {
        said(namaddr, done, "end of DATA")
    }
}

fn refused(namaddr: &str, reply: &Reply, soften: bool) -> Verdict {
    let mut dsn = reply.dsn.clone();
    if soften && dsn.starts_with('5') {
        dsn.replace_range(..1, "4");
    }
    verdict_from(
        &dsn,
        format!(
            "host {namaddr} refused to talk to me: {}",
            gatepost_log::sanitize(&reply.text())
        ),
    )
}

/// How a mail transaction left the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Between transactions: the connection could carry another one.
    Clean,
    /// A transaction that failed before the content: clean after RSET.
    NeedsRset,
    /// Not reusable (a refused greeting or handshake, a size bounce).
    Dirty,
}

/// The result of one conversation.
pub(crate) struct Finished {
    /// One verdict per `job.recipients` entry.
    pub results: Vec<(usize, Verdict)>,
    /// The session state when the connection may be cached (no QUIT was
    /// sent): asked for by `keep`, a clean end, no TLS and no AUTH.
    pub keep: Option<Ready>,
}

/// Run one conversation: a new one from the greeting, or a transaction on
/// a `reused` connection (already probed with RSET). With `keep` the
/// connection is left open for the cache when it can be.
pub(crate) async fn deliver(
    conn: &mut Conn,
    target: &Target,
    ctx: &SessionCtx<'_>,
    job: &Job<'_>,
    reused: Option<Ready>,
    keep: bool,
) -> Finished {
    let mut results = Results {
        verdicts: vec![None; job.recipients.len()],
    };
    let namaddr = target.namaddr();
    let outcome = match reused {
        Some(ready) => transaction(conn, target, ctx, job, &ready, &mut results)
            .await
            .map(|end| Some((ready, end))),
        None => converse(conn, target, ctx, job, &mut results).await,
    };
    let mut kept = None;
    match outcome {
        Err(broken) => {
            let (dsn, text) = broken.describe(&namaddr);
            results.set_all(&Verdict::deferred(dsn, text));
        }
        Ok(ended) => {
            let t = ctx.params.timeouts;
            let mut ended = ended.filter(|(ready, _)| keep && !ready.tls && !ready.authenticated);
            if let Some((_, end @ End::NeedsRset)) = &mut ended {
                *end = match conn.command("RSET", t.quit, "sending final RSET").await {
                    Ok(reply) if reply.class() == 2 => End::Clean,
                    _ => End::Dirty,
                };
            }
            match ended {
                Some((ready, End::Clean)) => kept = Some(ready),
                _ => {
                    let _ = conn.command("QUIT", t.quit, "sending QUIT").await;
                }
            }
        }
    }
    let results = job
        .recipients
        .iter()
        .zip(results.verdicts)
        .map(|((index, _), v)| {
            (
                *index,
                v.unwrap_or_else(|| {
                    Verdict::deferred("4.3.0", "server unavailable or unable to receive mail")
                }),
            )
        })
        .collect();
    Finished {
        results,
        keep: kept,
    }
}

/// What the session set up before the mail transaction.
#[derive(Debug, Clone)]
pub(crate) struct Ready {
    pub features: Features,
    /// Logged in to the server.
    authenticated: bool,
    /// The connection speaks TLS.
    tls: bool,
}

/// Greeting, EHLO/HELO, STARTTLS and AUTH. `Ok(None)` means a verdict for
/// everyone was set.
async fn handshake(
    conn: &mut Conn,
    target: &Target,
    ctx: &SessionCtx<'_>,
    job: &Job<'_>,
    results: &mut Results,
) -> Result<Option<Ready>, Broken> {
    let p = ctx.params;
    let namaddr = target.namaddr();
    let greeting = conn
        .reply(p.timeouts.helo, "receiving the initial server greeting")
        .await?;
    if greeting.class() != 2 {
        results.set_all(&refused(&namaddr, &greeting, p.skip_5xx_greeting));
        return Ok(None);
    }
    let greeted_name = greeting
        .bodies()
        .next()
        .and_then(|b| b.split_whitespace().next());
    if ctx.loop_detect && greeted_name.is_some_and(|n| n.eq_ignore_ascii_case(ctx.myhostname)) {
        gatepost_log::warning(
            "smtp",
            format!(
                "host {} greeted me with my own hostname {}",
                target.relay(),
                ctx.myhostname
            ),
        );
    }
    let Some(features) = ehlo(conn, target, ctx, results).await? else {
        return Ok(None);
    };
    let (features, security) =
        match starttls(conn, target, ctx.dest, ctx.tls, p.timeouts.helo, features).await? {
            Step::Plain(features) => (features, Security::Plaintext),
            Step::Stop(verdict) => {
                results.set_all(&verdict);
                return Ok(None);
            }
            Step::Encrypted { verified } => {
                let Some(features) = ehlo(conn, target, ctx, results).await? else {
                    return Ok(None);
                };
                let security = if verified {
                    Security::VerifiedTls
                } else {
                    Security::Tls
                };
                (features, security)
            }
        };
    let authenticated = match login(conn, target, ctx, job, &features, security).await? {
        Ok(done) => done,
        Err(verdict) => {
            results.set_all(&verdict);
            return Ok(None);
        }
    };
    Ok(Some(Ready {
        features,
        authenticated,
        tls: security != Security::Plaintext,
    }))
}

/// AUTH when it is enabled, the server offers it and the password table
/// has credentials for it: `Ok(true)` logged in, `Ok(false)` no login
/// attempted, `Err` the deferral or bounce of a failed one.
async fn login(
    conn: &mut Conn,
    target: &Target,
    ctx: &SessionCtx<'_>,
    job: &Job<'_>,
    features: &Features,
    security: Security,
) -> Result<Result<bool, Verdict>, Broken> {
    let sasl = &ctx.params.sasl;
    let Some(offered) = features.auth.as_ref().filter(|_| sasl.enabled) else {
        return Ok(Ok(false));
    };
    let namaddr = target.namaddr();
    let mechanisms = sasl.filter(offered);
    if mechanisms.is_empty() {
        let words = offered.join(" ");
        gatepost_log::warning(
            "smtp",
            if words.is_empty() {
                format!("{} offered null AUTH mechanism list", target.relay())
            } else {
                format!(
                    "{} offered no supported AUTH mechanisms: '{words}'",
                    target.relay()
                )
            },
        );
    }
    let credentials = sasl.credentials(
        job.queue_id,
        job.sender,
        &target.host,
        ctx.nexthop_spec,
        &namaddr,
    );
    let login = match credentials {
        Ok(Some(login)) => login,
        Ok(None) => return Ok(Ok(false)),
        Err(verdict) => return Ok(Err(verdict)),
    };
    if mechanisms.is_empty() {
        return Ok(Err(Verdict::deferred(
            "4.7.0",
            format!(
                "SASL authentication failed: server {namaddr} offered no compatible authentication mechanisms for this type of connection security"
            ),
        )));
    }
    let t = ctx.params.timeouts.helo;
    Ok(
        authenticate(conn, target, sasl, &login, &mechanisms, security, t)
            .await?
            .map(|()| true),
    )
}

/// EHLO, or HELO when EHLO is refused. `Ok(None)` means a verdict for
/// everyone was set.
async fn ehlo(
    conn: &mut Conn,
    target: &Target,
    ctx: &SessionCtx<'_>,
    results: &mut Results,
) -> Result<Option<Features>, Broken> {
    let p = ctx.params;
    let namaddr = target.namaddr();
    let (verb, stage) = if p.lmtp {
        ("LHLO", "performing the LHLO handshake")
    } else {
        ("EHLO", "performing the EHLO handshake")
    };
    let ehlo = conn
        .command(&format!("{verb} {}", p.helo_name), p.timeouts.helo, stage)
        .await?;
    let features = if ehlo.class() == 2 {
        let (features, warnings) = parse_ehlo(&ehlo, &namaddr);
        for w in warnings {
            gatepost_log::warning(p.agent, w);
        }
        let name = ehlo
            .bodies()
            .next()
            .and_then(|b| b.split_whitespace().next());
        if ctx.loop_detect && name.is_some_and(|n| n.eq_ignore_ascii_case(ctx.myhostname)) {
            gatepost_log::warning(
                "smtp",
                format!(
                    "host {} replied to HELO/EHLO with my own hostname {}",
                    target.relay(),
                    ctx.myhostname
                ),
            );
            let dsn = if ctx.best_mx { "5.4.6" } else { "4.4.6" };
            results.set_all(&verdict_from(
                dsn,
                format!("mail for {} loops back to myself", ctx.nexthop),
            ));
            return Ok(None);
        }
        features
    } else if ehlo.code == 421 || p.lmtp {
        results.set_all(&refused(&namaddr, &ehlo, false));
        return Ok(None);
    } else {
        let helo = conn
            .command(
                &format!("HELO {}", p.helo_name),
                p.timeouts.helo,
                "performing the HELO handshake",
            )
            .await?;
        if helo.class() != 2 {
            results.set_all(&refused(&namaddr, &helo, false));
            return Ok(None);
        }
        Features::default()
    };
    Ok(Some(features))
}

fn mail_command(job: &Job<'_>, ready: &Ready, dummy_auth: bool) -> String {
    let features = &ready.features;
    let mut cmd = format!("MAIL FROM:<{}>", job.sender);
    if features.size.is_some() {
        cmd.push_str(&format!(" SIZE={}", job.size));
    }
    if features.eight_bit_mime && job.eight_bit {
        cmd.push_str(" BODY=8BITMIME");
    }
    if ready.authenticated {
        match job.auth {
            Some(identity) => cmd.push_str(&format!(" AUTH={}", xtext(identity))),
            None if dummy_auth => cmd.push_str(" AUTH=<>"),
            None => {}
        }
    }
    cmd
}

/// A new session: the handshake, then one transaction. `None` when the
/// handshake set a verdict for everyone.
async fn converse(
    conn: &mut Conn,
    target: &Target,
    ctx: &SessionCtx<'_>,
    job: &Job<'_>,
    results: &mut Results,
) -> Result<Option<(Ready, End)>, Broken> {
    let Some(ready) = handshake(conn, target, ctx, job, results).await? else {
        return Ok(None);
    };
    let end = transaction(conn, target, ctx, job, &ready, results).await?;
    Ok(Some((ready, end)))
}

/// One mail transaction: MAIL, RCPT, DATA, the content.
async fn transaction(
    conn: &mut Conn,
    target: &Target,
    ctx: &SessionCtx<'_>,
    job: &Job<'_>,
    ready: &Ready,
    results: &mut Results,
) -> Result<End, Broken> {
    let p = ctx.params;
    let namaddr = target.namaddr();
    let features = &ready.features;
    if let Some(limit) = features.size.filter(|l| *l > 0) {
        if job.size > limit {
            results.set_all(&Verdict::bounced(
                "5.3.4",
                format!(
                    "message size {} exceeds size limit {} of server {namaddr}",
                    job.size, limit
                ),
            ));
            return Ok(End::Dirty);
        }
    }
    let mail = mail_command(job, ready, p.sasl.dummy_mail_auth);
    let rcpts: Vec<String> = job
        .recipients
        .iter()
        .map(|(_, r)| format!("RCPT TO:<{r}>"))
        .collect();
    let t = &p.timeouts;
    // Replies, pipelined or in lock-step.
    let mail_reply;
    let mut rcpt_replies: Vec<Reply> = Vec::with_capacity(rcpts.len());
    let data_reply;
    if features.pipelining {
        let mut batch = format!("{mail}\r\n");
        for r in &rcpts {
            batch.push_str(r);
            batch.push_str("\r\n");
        }
        batch.push_str("DATA\r\n");
        conn.send(batch.as_bytes(), t.mail, "sending MAIL FROM")
            .await?;
        mail_reply = conn.reply(t.mail, "sending MAIL FROM").await?;
        for _ in &rcpts {
            rcpt_replies.push(conn.reply(t.rcpt, "sending RCPT TO").await?);
        }
        data_reply = Some(conn.reply(t.data_init, "sending DATA command").await?);
    } else {
        mail_reply = conn.command(&mail, t.mail, "sending MAIL FROM").await?;
        if mail_reply.class() == 2 {
            for r in &rcpts {
                rcpt_replies.push(conn.command(r, t.rcpt, "sending RCPT TO").await?);
            }
        }
        data_reply = if rcpt_replies.iter().any(|r| r.class() == 2) {
            Some(
                conn.command("DATA", t.data_init, "sending DATA command")
                    .await?,
            )
        } else {
            None
        };
    }
    if mail_reply.class() != 2 {
        results.set_all(&said(&namaddr, &mail_reply, "MAIL FROM"));
        if data_reply.as_ref().is_some_and(|r| r.code == 354) {
            conn.send(
                b".\r\n",
                t.data_done,
                "sending end of data -- message may be sent more than once",
            )
            .await?;
            let _ = conn
                .reply(
                    t.data_done,
                    "sending end of data -- message may be sent more than once",
                )
                .await?;
        }
        return Ok(End::NeedsRset);
    }
    let mut accepted = Vec::new();
    for (i, reply) in rcpt_replies.iter().enumerate() {
        if reply.class() == 2 {
            accepted.push(i);
        } else if let Some(slot) = results.verdicts.get_mut(i) {
            *slot = Some(said(&namaddr, reply, "RCPT TO"));
        }
    }
    let Some(data_reply) = data_reply else {
        return Ok(End::NeedsRset);
    };
    if data_reply.code != 354 {
        let v = said(&namaddr, &data_reply, "DATA");
        for &i in &accepted {
            results.verdicts[i] = Some(v.clone());
        }
        // As Postfix: end the failed transaction with RSET before QUIT.
        return Ok(match conn.command("RSET", t.quit, "sending RSET").await {
            Ok(reply) if reply.class() == 2 => End::Clean,
            _ => End::Dirty,
        });
    }
    let stage = "sending end of data -- message may be sent more than once";
    if accepted.is_empty() {
        conn.send(b".\r\n", t.data_done, stage).await?;
        let _ = conn.reply(t.data_done, stage).await?;
        return Ok(End::Clean);
    }
    conn.send(job.data, t.data_xfer, "sending message body")
        .await?;
    if p.lmtp {
        // One reply per accepted recipient; a broken connection leaves the
        // rest to the caller's deferral.
        for &i in &accepted {
            let done = conn.reply(t.data_done, stage).await?;
            results.verdicts[i] = Some(end_of_data(&namaddr, &done));
        }
        return Ok(End::Clean);
    }
    let done = conn.reply(t.data_done, stage).await?;
    let v = end_of_data(&namaddr, &done);
    for &i in &accepted {
        results.verdicts[i] = Some(v.clone());
    }
    Ok(End::Clean)
}
