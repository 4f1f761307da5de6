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
//! (`starttls.rs`); EHLO is then sent again inside TLS.

use crate::smtp::addr_list::Target;
use crate::smtp::conn::{Broken, Conn};
use crate::smtp::ehlo::{parse_ehlo, Features};
use crate::smtp::reply::Reply;
use crate::smtp::smtp_params::SmtpParams;
use crate::smtp::starttls::{starttls, Step};
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
}

/// Per-session facts from the caller.
pub(crate) struct SessionCtx<'a> {
    pub params: &'a SmtpParams,
    pub myhostname: &'a str,
    pub nexthop: &'a str,
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

/// Run one conversation; returns one verdict per `job.recipients` entry.
pub(crate) async fn deliver(
    conn: &mut Conn,
    target: &Target,
    ctx: &SessionCtx<'_>,
    job: &Job<'_>,
) -> Vec<(usize, Verdict)> {
    let mut results = Results {
        verdicts: vec![None; job.recipients.len()],
    };
    let namaddr = target.namaddr();
    let outcome = converse(conn, target, ctx, job, &mut results).await;
    let mut quit = true;
    if let Err(broken) = outcome {
        let (dsn, text) = broken.describe(&namaddr);
        results.set_all(&Verdict::deferred(dsn, text));
        quit = false;
    }
    if quit {
        let t = ctx.params.timeouts.quit;
        let _ = conn.command("QUIT", t, "sending QUIT").await;
    }
    job.recipients
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
        .collect()
}

/// Greeting, EHLO/HELO and STARTTLS. `Ok(None)` means a verdict for
/// everyone was set.
async fn handshake(
    conn: &mut Conn,
    target: &Target,
    ctx: &SessionCtx<'_>,
    results: &mut Results,
) -> Result<Option<Features>, Broken> {
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
    match starttls(conn, target, &p.tls, p.timeouts.helo, features).await? {
        Step::Plain(features) => Ok(Some(features)),
        Step::Stop(verdict) => {
            results.set_all(&verdict);
            Ok(None)
        }
        Step::Encrypted => ehlo(conn, target, ctx, results).await,
    }
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
    let ehlo = conn
        .command(
            &format!("EHLO {}", p.helo_name),
            p.timeouts.helo,
            "performing the EHLO handshake",
        )
        .await?;
    let features = if ehlo.class() == 2 {
        let (features, warnings) = parse_ehlo(&ehlo, &namaddr);
        for w in warnings {
            gatepost_log::warning("smtp", w);
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
    } else if ehlo.code == 421 {
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

fn mail_command(job: &Job<'_>, features: &Features) -> String {
    let mut cmd = format!("MAIL FROM:<{}>", job.sender);
    if features.size.is_some() {
        cmd.push_str(&format!(" SIZE={}", job.size));
    }
    if features.eight_bit_mime && job.eight_bit {
        cmd.push_str(" BODY=8BITMIME");
    }
    cmd
}

async fn converse(
    conn: &mut Conn,
    target: &Target,
    ctx: &SessionCtx<'_>,
    job: &Job<'_>,
    results: &mut Results,
) -> Result<(), Broken> {
    let p = ctx.params;
    let namaddr = target.namaddr();
    let Some(features) = handshake(conn, target, ctx, results).await? else {
        return Ok(());
    };
    if let Some(limit) = features.size.filter(|l| *l > 0) {
        if job.size > limit {
            results.set_all(&Verdict::bounced(
                "5.3.4",
                format!(
                    "message size {} exceeds size limit {} of server {namaddr}",
                    job.size, limit
                ),
            ));
            return Ok(());
        }
    }
    let mail = mail_command(job, &features);
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
        return Ok(());
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
        return Ok(());
    };
    if data_reply.code != 354 {
        let v = said(&namaddr, &data_reply, "DATA");
        for &i in &accepted {
            results.verdicts[i] = Some(v.clone());
        }
        // As Postfix: end the failed transaction with RSET before QUIT.
        let _ = conn.command("RSET", t.quit, "sending RSET").await;
        return Ok(());
    }
    let stage = "sending end of data -- message may be sent more than once";
    if accepted.is_empty() {
        conn.send(b".\r\n", t.data_done, stage).await?;
        let _ = conn.reply(t.data_done, stage).await?;
        return Ok(());
    }
    conn.send(job.data, t.data_xfer, "sending message body")
        .await?;
    let done = conn.reply(t.data_done, stage).await?;
    let v = if done.class() == 2 {
        Verdict::sent(&done.dsn, gatepost_log::sanitize(&done.text()))
    } else {
        said(&namaddr, &done, "end of DATA")
    };
    for &i in &accepted {
        results.verdicts[i] = Some(v.clone());
    }
    Ok(())
}
