//! One pass of one message through the active queue: read the queue file
//! (or the bytes its commit sent: a message committed by its log record
//! alone gets its file written out only once the pass needs one,
//! `written`), log `from=<S>, size=N, nrcpt=M (queue active)`, hand the pending
//! recipients to the delivery agent in per-destination requests (see
//! `destination`), log one line per outcome, make each request's outcomes
//! durable (append + fsync) as soon as it returns (once every recipient is
//! delivered, the removal that follows is the record), then
//! expire, send the non-delivery notice, send the one delay warning once
//! the message is `delay_warning_time` old, and either remove the message
//! (`ID: removed`) or move it to `deferred` with mtime = next retry time
//! (qmgr(8), docs/queue.md#retries-and-expiry).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gatepost_queue::manager::{
    append_records, blocking, read_committed_copy, read_queue_file_preloaded_from, short_blocking,
    QueueFile, RcptState, Reason, StatusRecord,
};
use gatepost_queue::{
    CommittedCopy, ContentAhead, Queue, QueueError, QueueId, QueueName, PRELOAD_CONTENT_LIMIT,
};

use crate::agent::{DeliveryAgent, DeliveryOutcome, DeliveryStatus, PreloadSlot, QueuedMessage};
use crate::bounce::{send_delay_warning, send_non_delivery};
use crate::delivery_log::{Delays, DeliveryLine};
use crate::destination::{
    batches, filter_route, resolve, site_failure, DeadDestinations, DestinationSlots,
    RoutedRecipient,
};
use crate::settings::QmgrSettings;

/// Everything a message pass needs.
pub(crate) struct Ctx {
    pub queue: Arc<Queue>,
    pub agent: Arc<dyn DeliveryAgent>,
    pub settings: Arc<QmgrSettings>,
    /// Per-destination concurrency slots, shared by all messages.
    pub slots: DestinationSlots,
    /// Destinations that could not be reached just now.
    pub dead: DeadDestinations,
}

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    b.duration_since(a).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// `soft_bounce = yes`: a bounce becomes a deferral, 5.X.Y becomes 4.X.Y.
fn soften(mut o: DeliveryOutcome) -> DeliveryOutcome {
    if o.status == DeliveryStatus::Bounced {
        o.status = DeliveryStatus::Deferred;
        if let Some(rest) = o.dsn.strip_prefix('5') {
            o.dsn = format!("4{rest}");
        }
    }
    o
}

/// Where a message's file stays during its pass: a message from
/// `incoming` is delivered where it was committed (the scheduler never
/// admits it twice, and recovery scans `incoming` and `active` alike, so a
/// move would only cost a rename per message); one from `deferred` is
/// moved into `active` first, out of the way of the next scan of
/// `deferred`.
fn pass_queue(from: QueueName) -> QueueName {
    match from {
        QueueName::Incoming => QueueName::Incoming,
        _ => QueueName::Active,
    }
}

/// Deliver message `id` from `from` once, in the queue `pass_queue`
/// names (a move without directory fsync when that is another one:
/// recovery scans both alike). The move and the read of the file are
/// done together, on the queue manager's own thread (`short_blocking`);
/// a new message whose commit sent its bytes (`copy`) is read from them.
pub(crate) async fn process(ctx: &Ctx, id: QueueId, from: QueueName, copy: Option<CommittedCopy>) {
    let at = pass_queue(from);
    let path = ctx.queue.path_of(at, &id);
    let entered = SystemTime::now();
    let read = if let Some(copy) = copy.filter(|_| at == from) {
        // Announced after a scan found its file and its pass delivered
        // it: gone, not to be delivered again from the bytes.
        if !ctx.queue.still_incoming(&id) {
            return;
        }
        let read = read_committed_copy(&copy, id.as_str());
        // Anything but a clean read goes the file's way.
        if !matches!(read, Ok((_, Some(_)))) && !written(ctx, &id).await {
            return;
        }
        Ok(read)
    } else {
        let (p, i, queue) = (path.clone(), id.clone(), ctx.queue.clone());
        // Outer error: the move (or the write of an unwritten file);
        // inner: the read.
        short_blocking(&path, move || {
            queue.write_out(&i)?;
            if at != from {
                queue.move_file_unsynced_blocking(&i, from, at)?;
            }
            // The read's errors, the open's included, are the inner ones.
            Ok(queue.open_in(at, &i).and_then(|file| {
                read_queue_file_preloaded_from(file, &p, i.as_str(), PRELOAD_CONTENT_LIMIT)
                    .map(|(qf, preloaded)| (qf, preloaded.map(ContentAhead::Read)))
            }))
        })
        .await
    };
    let read = match read {
        Ok(read) => read,
        Err(e) if e.is_not_found() => return,
        Err(e) => {
            gatepost_log::warning("qmgr", format!("{id}: activate: {e}"));
            return;
        }
    };
    let (mut qf, preloaded) = match read {
        Ok(read) => read,
        Err(e) if e.is_not_found() => return,
        Err(QueueError::Corrupt(_, why)) => {
            gatepost_log::warning("qmgr", format!("{id}: corrupt queue file: {why}"));
            gatepost_log::warning(
                "qmgr",
                // Postfix's words: the queue manager's active queue, the
                // file's directory notwithstanding.
                format!("saving corrupt file \"{id}\" from queue \"active\" to queue \"corrupt\""),
            );
            if let Err(e) = ctx.queue.move_file(&id, at, QueueName::Corrupt).await {
                gatepost_log::warning("qmgr", format!("{id}: {e}"));
            }
            return;
        }
        Err(e) => {
            gatepost_log::warning("qmgr", format!("{id}: {e}"));
            defer(
                ctx,
                &id,
                at,
                SystemTime::now() + ctx.settings.minimal_backoff_time,
            )
            .await;
            return;
        }
    };
    let pending = qf.pending();
    gatepost_log::info(
        "qmgr",
        format!(
            "{id}: from=<{}>, size={}, nrcpt={} (queue active)",
            gatepost_log::sanitize(&qf.envelope.sender),
            qf.wire_size,
            pending.len()
        ),
    );
    if !pending.is_empty() && !deliver(ctx, &id, &path, &mut qf, &pending, entered, preloaded).await
    {
        defer(
            ctx,
            &id,
            at,
            SystemTime::now() + ctx.settings.minimal_backoff_time,
        )
        .await;
        return;
    }
    finish(ctx, &id, at, &mut qf).await;
}

/// What one delivery request returned, with its timing.
struct BatchResult {
    recipients: Vec<usize>,
    outcomes: Vec<DeliveryOutcome>,
    started: SystemTime,
    finished: SystemTime,
}

/// Run one delivery request once its destination has a free slot.
async fn run_batch(
    agent: Arc<dyn DeliveryAgent>,
    msg: Arc<QueuedMessage>,
    slot: Arc<tokio::sync::Semaphore>,
    recipients: Vec<RoutedRecipient>,
) -> BatchResult {
    let permit = slot.acquire_owned().await;
    let started = SystemTime::now();
    let outcomes = agent.deliver(&msg, &recipients).await;
    drop(permit);
    BatchResult {
        recipients: recipients.iter().map(|r| r.index).collect(),
        outcomes,
        started,
        finished: SystemTime::now(),
    }
}

/// Resolve each of `pending` once, then hand them to the agent, one
/// request per destination batch (run concurrently within the
/// destinations' limits); log and durably record each request's outcomes
/// as it completes (recipients that cannot be resolved first). False when
/// some outcomes could not be made durable.
async fn deliver(
    ctx: &Ctx,
    id: &QueueId,
    path: &std::path::Path,
    qf: &mut QueueFile,
    pending: &[usize],
    entered: SystemTime,
    preloaded: Option<ContentAhead>,
) -> bool {
    let path = path.to_path_buf();
    let (queue, i) = (ctx.queue.clone(), id.clone());
    let msg = Arc::new(QueuedMessage {
        id: id.clone(),
        envelope: qf.envelope.clone(),
        path: path.clone(),
        preloaded: PreloadSlot::with_write_out(preloaded, move || queue.write_out(&i).map(drop)),
    });
    let agent = ctx.agent.clone();
    let address = |i: usize| {
        msg.envelope
            .recipients
            .get(i)
            .map(|r| r.address.clone())
            .unwrap_or_default()
    };
    let mut routed = Vec::new();
    let mut unroutable = Vec::new();
    for &i in pending {
        if let Some(filter) = &msg.envelope.filter {
            routed.push(filter_route(&ctx.settings, i, &address(i), filter));
            continue;
        }
        match resolve(&ctx.settings, i, &address(i)) {
            Ok(r) => routed.push(r),
            Err(outcome) => unroutable.push(outcome),
        }
    }
    let mut durable = true;
    if !unroutable.is_empty() {
        let now = SystemTime::now();
        let result = BatchResult {
            recipients: unroutable.iter().map(|o| o.recipient).collect(),
            outcomes: unroutable,
            started: now,
            finished: now,
        };
        durable &= record_batch(ctx, id, qf, &path, result, entered).await;
    }
    let plan = batches(&ctx.settings, routed, address);
    let mut running = tokio::task::JoinSet::new();
    for b in plan {
        if let Some((dsn, reason)) = ctx.dead.check(&b.key) {
            let now = SystemTime::now();
            let outcomes = b
                .recipients
                .iter()
                .map(|r| DeliveryOutcome {
                    recipient: r.index,
                    status: DeliveryStatus::Deferred,
                    agent: "error".into(),
                    relay: "none".into(),
                    dsn: dsn.clone(),
                    text: format!("delivery temporarily suspended: {reason}"),
                })
                .collect();
            let result = BatchResult {
                recipients: b.recipients.iter().map(|r| r.index).collect(),
                outcomes,
                started: now,
                finished: now,
            };
            if !record_batch(ctx, id, qf, &path, result, entered).await {
                durable = false;
            }
            continue;
        }
        let slot = ctx.slots.get(&b.key, b.concurrency);
        let key = b.key.clone();
        let agent = agent.clone();
        let msg = msg.clone();
        // Each delivery request logs under a PID of its own, as a Postfix
        // delivery agent process.
        let pid = gatepost_log::next_pid();
        running.spawn(gatepost_log::scope(pid, async move {
            (key, pid, run_batch(agent, msg, slot, b.recipients).await)
        }));
    }
    while let Some(done) = running.join_next().await {
        let (key, pid, result) = match done {
            Ok(r) => r,
            Err(e) => {
                gatepost_log::warning("qmgr", format!("{id}: delivery request failed: {e}"));
                continue;
            }
        };
        match site_failure(&result.outcomes) {
            Some((dsn, reason)) => {
                ctx.dead
                    .mark(&key, ctx.settings.minimal_backoff_time, &dsn, &reason)
            }
            None if result
                .outcomes
                .iter()
                .any(|o| o.status == DeliveryStatus::Sent) =>
            {
                ctx.dead.clear(&key)
            }
            None => {}
        }
        if !gatepost_log::scope(pid, record_batch(ctx, id, qf, &path, result, entered)).await {
            durable = false;
        }
    }
    ctx.slots.prune();
    durable
}

/// Log and durably record one request's outcomes. Recipients the agent
/// did not report on stay pending (deferred with a qmgr reason).
async fn record_batch(
    ctx: &Ctx,
    id: &QueueId,
    qf: &mut QueueFile,
    path: &std::path::Path,
    result: BatchResult,
    entered: SystemTime,
) -> bool {
    let BatchResult {
        recipients: pending,
        outcomes,
        started,
        finished,
    } = result;
    let delays = Delays {
        before_active: secs_between(qf.envelope.arrival, entered),
        in_active: secs_between(entered, started),
        conn_setup: 0.0,
        transmission: secs_between(started, finished),
    };
    let wanted: HashSet<usize> = pending.iter().copied().collect();
    let mut seen = HashSet::new();
    let mut records = Vec::new();
    let mut all = Vec::new();
    for o in outcomes {
        if !wanted.contains(&o.recipient) || !seen.insert(o.recipient) {
            gatepost_log::warning(
                "qmgr",
                format!(
                    "{id}: delivery agent {} returned a status for unexpected recipient {}",
                    o.agent, o.recipient
                ),
            );
            continue;
        }
        all.push(o);
    }
    for &i in &pending {
        if !seen.contains(&i) {
            all.push(DeliveryOutcome {
                recipient: i,
                status: DeliveryStatus::Deferred,
                agent: "qmgr".into(),
                relay: "none".into(),
                dsn: "4.3.0".into(),
                text: "delivery agent did not report a status".into(),
            });
        }
    }
    for o in all {
        let o = if ctx.settings.soft_bounce {
            soften(o)
        } else {
            o
        };
        let Some(rcpt) = qf.envelope.recipients.get(o.recipient) else {
            continue;
        };
        let line = DeliveryLine {
            id,
            recipient: rcpt,
            relay: &o.relay,
            delays,
            dsn: &o.dsn,
            status: o.status.as_str(),
            text: &o.text,
        };
        gatepost_log::info(&o.agent, line.render());
        gatepost_metrics::delivery(o.status.as_str(), &o.agent);
        let reason = Reason {
            recipient: o.recipient,
            dsn: o.dsn.clone(),
            agent: o.agent.clone(),
            relay: o.relay.clone(),
            text: o.text.clone(),
        };
        let (record, state) = match o.status {
            DeliveryStatus::Sent => (StatusRecord::Sent(o.recipient), RcptState::Sent),
            DeliveryStatus::Bounced => (
                StatusRecord::Bounced(reason.clone()),
                RcptState::Bounced {
                    reason,
                    notified: false,
                },
            ),
            DeliveryStatus::Deferred => (
                StatusRecord::Deferred(reason.clone()),
                RcptState::Pending(Some(reason)),
            ),
        };
        records.push(record);
        qf.states[o.recipient] = state;
    }
    // When every recipient is now delivered the file is removed next, and
    // the removal's tombstone is the record: nothing to append (a crash in
    // between delivers again, at most once more).
    if qf.states.iter().all(|s| matches!(s, RcptState::Sent)) {
        return true;
    }
    if !written(ctx, id).await {
        return false;
    }
    let p = path.to_path_buf();
    match blocking(path, move || append_records(&p, &records, true)).await {
        Ok(()) => true,
        Err(e) => {
            gatepost_log::warning("qmgr", format!("{id}: cannot record delivery status: {e}"));
            false
        }
    }
}

/// After delivery: expire, notify the sender of bounces, then remove or defer.
async fn finish(ctx: &Ctx, id: &QueueId, at: QueueName, qf: &mut QueueFile) {
    // Only a message whose every recipient was delivered leaves without
    // its file ever written.
    if !qf.states.iter().all(|s| matches!(s, RcptState::Sent)) && !written(ctx, id).await {
        return;
    }
    let s = &ctx.settings;
    let path = ctx.queue.path_of(at, id);
    let now = SystemTime::now();
    let age = now
        .duration_since(qf.envelope.arrival)
        .unwrap_or(Duration::ZERO);
    let pending = qf.pending();
    if !pending.is_empty() && age >= s.lifetime_for(&qf.envelope.sender) {
        gatepost_log::info(
            "qmgr",
            format!(
                "{id}: from=<{}>, status=expired, returned to sender",
                gatepost_log::sanitize(&qf.envelope.sender)
            ),
        );
        let mut records = Vec::new();
        for i in pending {
            let reason = match &qf.states[i] {
                RcptState::Pending(Some(r)) => r.clone(),
                _ => Reason {
                    recipient: i,
                    dsn: "4.4.7".into(),
                    agent: "qmgr".into(),
                    relay: "none".into(),
                    text: "delivery time expired".into(),
                },
            };
            records.push(StatusRecord::Bounced(reason.clone()));
            qf.states[i] = RcptState::Bounced {
                reason,
                notified: false,
            };
        }
        let p = path.clone();
        if let Err(e) = blocking(&path, move || append_records(&p, &records, true)).await {
            gatepost_log::warning("qmgr", format!("{id}: cannot record expiry: {e}"));
            defer(ctx, id, at, now + s.minimal_backoff_time).await;
            return;
        }
    }

    let bounces = qf.unnotified_bounces();
    if !bounces.is_empty() {
        let sent = send_non_delivery(&ctx.queue, s, id, &qf.envelope, &path, &bounces).await;
        if let Err(e) = sent {
            gatepost_log::warning(
                "bounce",
                format!("{id}: cannot send non-delivery notification: {e}"),
            );
            defer(ctx, id, at, now + s.minimal_backoff_time).await;
            return;
        }
        let records: Vec<StatusRecord> = bounces
            .iter()
            .map(|r| StatusRecord::Notified(r.recipient))
            .collect();
        let p = path.clone();
        if let Err(e) = blocking(&path, move || append_records(&p, &records, true)).await {
            gatepost_log::warning("qmgr", format!("{id}: cannot record bounce notice: {e}"));
        }
    }

    let pending = qf.pending();
    if !pending.is_empty()
        && !qf.warned
        && !s.delay_warning_time.is_zero()
        && age >= s.delay_warning_time
    {
        warn_delayed(ctx, id, at, qf, &pending).await;
    }

    if qf.pending().is_empty() {
        match ctx.queue.remove_file(id, at).await {
            Ok(()) => gatepost_log::info("qmgr", format!("{id}: removed")),
            Err(e) if e.is_not_found() => {}
            Err(e) => gatepost_log::warning("qmgr", format!("{id}: remove: {e}")),
        }
    } else {
        defer(ctx, id, at, now + s.backoff(age)).await;
    }
}

/// Send the delay warning for the pending recipients and record that it
/// was sent (once per message; a failure is retried at the next pass).
async fn warn_delayed(
    ctx: &Ctx,
    id: &QueueId,
    at: QueueName,
    qf: &mut QueueFile,
    pending: &[usize],
) {
    let path = ctx.queue.path_of(at, id);
    let delayed: Vec<Reason> = pending
        .iter()
        .map(|&i| match &qf.states[i] {
            RcptState::Pending(Some(r)) => r.clone(),
            _ => Reason {
                recipient: i,
                dsn: "4.0.0".into(),
                agent: "qmgr".into(),
                relay: "none".into(),
                text: "delivery temporarily suspended".into(),
            },
        })
        .collect();
    let sent =
        send_delay_warning(&ctx.queue, &ctx.settings, id, &qf.envelope, &path, &delayed).await;
    if let Err(e) = sent {
        gatepost_log::warning(
            "bounce",
            format!("{id}: cannot send delay notification: {e}"),
        );
        return;
    }
    let p = path.clone();
    match blocking(&path, move || {
        append_records(&p, &[StatusRecord::Warned], true)
    })
    .await
    {
        Ok(()) => qf.warned = true,
        Err(e) => gatepost_log::warning("qmgr", format!("{id}: cannot record delay notice: {e}")),
    }
}

/// Move `id` from `at` (its pass's queue) to `deferred` with mtime =
/// `next_try`.
async fn defer(ctx: &Ctx, id: &QueueId, at: QueueName, next_try: SystemTime) {
    if !written(ctx, id).await {
        return;
    }
    let path = ctx.queue.path_of(at, id);
    let (queue, retry_id) = (ctx.queue.clone(), id.clone());
    let touched = blocking(&path, move || queue.touch(at, &retry_id, next_try)).await;
    if let Err(e) = touched {
        if e.is_not_found() {
            return;
        }
        gatepost_log::warning("qmgr", format!("{id}: set retry time: {e}"));
    }
    if let Err(e) = ctx
        .queue
        .move_file_unsynced(id, at, QueueName::Deferred)
        .await
    {
        if !e.is_not_found() {
            gatepost_log::warning("qmgr", format!("{id}: move to deferred: {e}"));
        }
    }
}

/// Make sure `id`'s queue file exists before the pass uses it: a new
/// message committed by its log record alone has none until something
/// needs it (`Queue::write_out`). False, with a warning, when it cannot
/// be written (the log's next checkpoint tries again, and the message is
/// found in `incoming` then); false without one when the operator
/// removed it (`postsuper -d`).
async fn written(ctx: &Ctx, id: &QueueId) -> bool {
    let (queue, i) = (ctx.queue.clone(), id.clone());
    let path = ctx.queue.path_of(QueueName::Incoming, id);
    match short_blocking(&path, move || queue.write_out(&i)).await {
        Ok(_) => true,
        // The operator removed it (`postsuper -d`).
        Err(e) if e.is_not_found() => false,
        Err(e) => {
            gatepost_log::warning("qmgr", format!("{id}: write queue file: {e}"));
            false
        }
    }
}
