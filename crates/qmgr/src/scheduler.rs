//! The scheduler loop of the queue manager.
//!
//! On start it requeues everything left in `active` (a previous run died
//! mid-delivery) into `incoming` and removes abandoned `tmp` files. Then it
//! loops: admit messages from `incoming` and from due `deferred` files
//! (mtime ≤ now + slack; the deferred queue is scanned every
//! `queue_run_delay` or on `flush`), alternating between the two for
//! fairness, up to `max_concurrent_messages` in flight; each admitted
//! message is delivered by its own task (a deferred one after a rename
//! into `active`, a new one where it is, in `incoming`)
//! (`delivery_pass`), never two tasks for one message. It wakes on the
//! scan timer, when a delivery finishes, and on a request: from this
//! process through the queue's channel ([`ManagerRequest`]: the id of a
//! message committed into `incoming`, admitted without a scan of the
//! directory, or an operator command) or from other processes through the
//! `public/qmgr` socket ([`TriggerRequest`]). Announced messages that
//! arrive one by one are admitted in groups (`admission_gather`). It also runs
//! the pickup service (maildrop → cleanup → incoming) and wakes it on a
//! pickup request. `hold` and `corrupt` are never scheduled.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use gatepost_queue::manager::{run_pickup, TriggerListener};
use gatepost_queue::{CommittedCopy, ManagerRequest, Queue, QueueId, QueueName, TriggerRequest};

use crate::admission_gather::AdmissionGather;
use crate::agent::DeliveryAgent;
use crate::delivery_pass::{process, Ctx};
use crate::destination::{DeadDestinations, DestinationSlots};
use crate::settings::QmgrSettings;

/// Tmp files of other processes younger than this are left alone (another
/// process may still be writing them).
const TMP_MIN_AGE: Duration = Duration::from_secs(3600);

/// Requeue files left in `active` and clean `tmp`.
async fn recover(queue: &Arc<Queue>) {
    match queue.clean_tmp(TMP_MIN_AGE) {
        Ok(0) => {}
        Ok(n) => gatepost_log::info("qmgr", format!("removed {n} abandoned temporary file(s)")),
        Err(e) => gatepost_log::warning("qmgr", format!("clean tmp: {e}")),
    }
    let left = match queue.scan(QueueName::Active) {
        Ok(v) => v,
        Err(e) => {
            gatepost_log::warning("qmgr", format!("scan active queue: {e}"));
            return;
        }
    };
    for (id, _) in left {
        if let Err(e) = queue
            .move_file(&id, QueueName::Active, QueueName::Incoming)
            .await
        {
            gatepost_log::warning("qmgr", format!("{id}: requeue: {e}"));
        }
    }
}

/// Deferred files due now, oldest retry time first.
fn due_deferred(queue: &Queue, slack: Duration) -> Vec<QueueId> {
    let limit = SystemTime::now() + slack;
    let mut due: Vec<(SystemTime, QueueId)> = match queue.scan(QueueName::Deferred) {
        Ok(v) => v
            .into_iter()
            .filter_map(|(id, meta)| {
                let m = meta.modified().ok()?;
                (m <= limit).then_some((m, id))
            })
            .collect(),
        Err(e) => {
            gatepost_log::warning("qmgr", format!("scan deferred queue: {e}"));
            Vec::new()
        }
    };
    due.sort();
    due.into_iter().map(|(_, id)| id).collect()
}

/// Incoming files, oldest first.
fn incoming(queue: &Queue) -> VecDeque<QueueId> {
    let mut v: Vec<(SystemTime, QueueId)> = match queue.scan(QueueName::Incoming) {
        Ok(v) => v
            .into_iter()
            .map(|(id, meta)| (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), id))
            .collect(),
        Err(e) => {
            gatepost_log::warning("qmgr", format!("scan incoming queue: {e}"));
            Vec::new()
        }
    };
    v.sort();
    v.into_iter().map(|(_, id)| id).collect()
}

/// Run the queue manager until `shutdown` resolves. On start it picks up
/// everything left in incoming/active/deferred.
pub async fn run_qmgr(
    queue: Arc<Queue>,
    agent: Arc<dyn DeliveryAgent>,
    settings: QmgrSettings,
    shutdown: impl Future<Output = ()> + Send,
) {
    let settings = Arc::new(settings);
    let ctx = Arc::new(Ctx {
        queue: queue.clone(),
        agent,
        settings: settings.clone(),
        slots: DestinationSlots::default(),
        dead: DeadDestinations::default(),
    });
    recover(&queue).await;
    let trigger = match TriggerListener::bind(queue.root()) {
        Ok(t) => Some(t),
        Err(e) => {
            gatepost_log::warning(
                "qmgr",
                format!("cannot listen on {}: {e}", queue.trigger_path().display()),
            );
            None
        }
    };
    let mut requests = queue.manager_requests();
    let pickup_wakeup = Arc::new(Notify::new());
    let pickup = tokio::spawn(run_pickup(
        queue.clone(),
        settings.pickup(),
        pickup_wakeup.clone(),
    ));
    let max = settings.max_concurrent_messages.max(1);
    let run_delay = settings.queue_run_delay.max(Duration::from_millis(1));
    let mut tasks: JoinSet<QueueId> = JoinSet::new();
    // Messages admitted and not yet done.
    let mut in_flight: HashSet<QueueId> = HashSet::new();
    let mut deferred_ready: VecDeque<QueueId> = VecDeque::new();
    let mut deferred_known: HashSet<QueueId> = HashSet::new();
    // What the last scan of `incoming` found, and what this process
    // committed since (announced by id: no scan per message), not yet
    // admitted; a large backlog is scanned once, not once per admitted
    // message.
    let mut waiting = Waiting::default();
    let mut next_scan = Instant::now();
    let mut prefer_incoming = true;
    // Scan `incoming` only when something may have arrived (kick, timer,
    // start) or when earlier admissions were cut short by the limit.
    let mut scan_incoming = true;
    let mut backlog = false;
    let mut wanted = Wanted::default();
    let mut gather = AdmissionGather::default();
    tokio::pin!(shutdown);
    loop {
        // What was sent while the loop was busy or gathering.
        while let Ok(r) = requests.try_recv() {
            scan_incoming |=
                note_request(r, &mut waiting, &mut gather, &mut wanted, &pickup_wakeup);
        }
        if std::mem::take(&mut wanted.flush_dead) {
            ctx.dead.clear_all();
        }
        if std::mem::take(&mut wanted.scan_deferred) || Instant::now() >= next_scan {
            for id in due_deferred(&queue, settings.scan_slack()) {
                if deferred_known.insert(id.clone()) {
                    deferred_ready.push_back(id);
                }
            }
            next_scan = Instant::now() + run_delay;
        }
        let other_work = scan_incoming || !deferred_ready.is_empty();
        let gathering = gather.holds(waiting.ready.len(), other_work, Instant::now());
        if !gathering
            && tasks.len() < max
            && (scan_incoming || !waiting.ready.is_empty() || !deferred_ready.is_empty())
        {
            // A pending scan waits until what the last one found is in.
            if scan_incoming && waiting.ready.is_empty() {
                waiting.ready = incoming(&queue);
                waiting.known = waiting.ready.iter().cloned().collect();
                scan_incoming = false;
            }
            while tasks.len() < max && !(waiting.ready.is_empty() && deferred_ready.is_empty()) {
                let from_incoming =
                    !waiting.ready.is_empty() && (prefer_incoming || deferred_ready.is_empty());
                prefer_incoming = !from_incoming;
                let (id, from, copy) = if from_incoming {
                    match waiting.ready.pop_front() {
                        Some(id) => {
                            waiting.known.remove(&id);
                            let copy = waiting.copies.remove(&id);
                            (id, QueueName::Incoming, copy)
                        }
                        None => break,
                    }
                } else {
                    match deferred_ready.pop_front() {
                        Some(id) => {
                            deferred_known.remove(&id);
                            (id, QueueName::Deferred, None)
                        }
                        None => break,
                    }
                };
                // A message in its first delivery stays in `incoming`, and
                // scans see it: never admitted twice.
                if !in_flight.insert(id.clone()) {
                    continue;
                }
                let ctx = ctx.clone();
                tasks.spawn(async move {
                    process(&ctx, id.clone(), from, copy).await;
                    id
                });
            }
            backlog = !waiting.ready.is_empty();
        }
        tokio::select! {
            _ = &mut shutdown => break,
            // While a group is gathered nobody listens: senders wake no
            // thread, and the loop's next round (a delivery done, the
            // window's end) takes what they sent.
            Some(r) = requests.recv(), if !gathering => {
                scan_incoming |= note_request(r, &mut waiting, &mut gather, &mut wanted, &pickup_wakeup);
            }
            reqs = next_trigger(trigger.as_ref()) => {
                for r in reqs {
                    scan_incoming |= wanted.take(r, &pickup_wakeup);
                }
            }
            _ = tokio::time::sleep_until(next_scan) => scan_incoming = true,
            // The group being gathered is due (`holds` ends it).
            _ = tokio::time::sleep_until(gather.deadline().unwrap_or(next_scan)), if gathering => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                scan_incoming |= backlog;
                match done {
                    Ok(id) => {
                        in_flight.remove(&id);
                    }
                    Err(e) if e.is_panic() => {
                        gatepost_log::warning("qmgr", "delivery task panicked; message stays in the active queue until restart");
                    }
                    Err(_) => {}
                }
            }
        }
    }
    // Messages still in delivery stay in `active` and are requeued on the
    // next start (at most one duplicate delivery per recipient).
    pickup.abort();
    let _ = pickup.await;
    drop(trigger);
    tasks.shutdown().await;
}

/// Messages of `incoming` not admitted yet: what the last scan found and
/// what was announced since.
#[derive(Debug, Default)]
struct Waiting {
    ready: VecDeque<QueueId>,
    /// The same ids as `ready`: none is queued twice.
    known: HashSet<QueueId>,
    /// The queue file bytes sent with announced ids of `ready`, for their
    /// first delivery.
    copies: HashMap<QueueId, CommittedCopy>,
}

/// Take one request from this process: an announced id joins `waiting`
/// (the first of a group starts its clock), a trigger is noted in
/// `wanted`. True when `incoming` is to be scanned.
fn note_request(
    request: ManagerRequest,
    waiting: &mut Waiting,
    gather: &mut AdmissionGather,
    wanted: &mut Wanted,
    pickup: &Notify,
) -> bool {
    match request {
        ManagerRequest::Trigger(r) => wanted.take(r, pickup),
        ManagerRequest::Committed(id, copy) => {
            gather.announced(waiting.ready.len(), Instant::now());
            if waiting.known.insert(id.clone()) {
                if let Some(copy) = copy {
                    waiting.copies.insert(id.clone(), copy);
                }
                waiting.ready.push_back(id);
            }
            false
        }
    }
}

/// What requests asked of the next round (beyond scanning `incoming`).
#[derive(Debug, Default)]
struct Wanted {
    /// Scan `deferred` now, not at the next `queue_run_delay`.
    scan_deferred: bool,
    /// Forget which destinations are unreachable (Postfix's QMGR_REQ_FLUSH_DEAD).
    flush_dead: bool,
}

impl Wanted {
    /// Note `request`; true when `incoming` is to be scanned.
    fn take(&mut self, request: TriggerRequest, pickup: &Notify) -> bool {
        match request {
            TriggerRequest::ScanIncoming => true,
            TriggerRequest::ScanDeferred | TriggerRequest::ScanAll => {
                self.scan_deferred = true;
                true
            }
            TriggerRequest::Flush => {
                self.flush_dead = true;
                self.scan_deferred = true;
                true
            }
            TriggerRequest::Pickup => {
                pickup.notify_one();
                false
            }
        }
    }
}

/// The next trigger datagram, or never when there is no socket.
async fn next_trigger(trigger: Option<&TriggerListener>) -> Vec<TriggerRequest> {
    match trigger {
        Some(t) => t.recv().await,
        None => std::future::pending().await,
    }
}
