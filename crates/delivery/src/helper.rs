//! The privileged local delivery helper (privilege separation). A server
//! started as root starts a few `gatepost privsep-local` processes before
//! it gives up root; they stay root and do one thing: local(8) and
//! virtual(8) deliveries on request. A request names only the recipient
//! address, the envelope sender, the original recipient and the message;
//! the helper expands the address with its own reading of `main.cf`
//! (aliases, passwd, `home_mailbox`, `mail_spool_directory`,
//! `virtual_mailbox_maps`, `virtual_uid_maps` ...), so the server cannot
//! choose a path or a uid, and each store runs in a process with the
//! user's rights (`store_process`). Forwarded addresses go back to the
//! server. The helper reads its configuration again when the server's
//! generation number changes (a reload), and exits when the server does
//! (end of its input).
//!
//! `HelperPool` is the server's side: the helper processes, one request at
//! a time each, on their stdin/stdout pipes (framed as in `wire`). The
//! virtual(8) deliveries waiting when a helper becomes free (and, when
//! they are few, those that come within a few milliseconds) go to it as
//! one request, whose copies for one user are stored together
//! (`VirtualAgent::deliver_many_blocking`: one job for the user's store
//! process, one flush for all of them).

use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use gatepost_config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use gatepost_queue::ClientFacts;

use crate::client_env;
use crate::local::{Expanded, LocalExpander};
use crate::pass::Pass;
use crate::pipe::{self, PipeAgent, PipeDelivery, PipeTarget};
use crate::settings::Settings;
use crate::verdict::Verdict;
use crate::virtual_mailbox::{VirtualAgent, VirtualRequest};
use crate::wire::{self, Dec, Enc, WireError};
use crate::MessageContent;

const LOCAL: u8 = 0;
// 1 was one virtual(8) delivery; they all come as a `VIRTUAL_BATCH` now.
/// Read the configuration again now (and reopen the log), deliver nothing.
const RELOAD: u8 = 2;
/// A pipe(8) delivery; the address field is an encoded `PipeTarget`.
const PIPE: u8 = 3;
/// Several virtual(8) deliveries: a count, then each one's fields.
const VIRTUAL_BATCH: u8 = 4;

/// Most virtual deliveries sent to a helper in one request.
const MAX_BATCH: usize = 256;

/// A helper that finds fewer than `GATHER_MIN` virtual deliveries waiting
/// waits up to `GATHER_WINDOW` for more before it sends its request (the
/// other helpers meanwhile wait for the next one): a steady trickle of
/// mail is stored a few messages at a time, each batch one flush of the
/// store process (`batch_sync`), instead of a flush and four process
/// hand-overs per message. docs/privilege-separation.md has the
/// measurements.
///
/// Large messages are not held back: past `GATHER_BYTES` in a request the
/// store's writing outweighs the hand-overs saved, and the other helpers
/// had better share the work.
const GATHER_MIN: usize = 16;
const GATHER_BYTES: usize = 64 * 1024;
const GATHER_WINDOW: std::time::Duration = std::time::Duration::from_millis(3);

/// A virtual delivery waiting for a helper (its fields as in a
/// `VIRTUAL_BATCH`), and where its verdict goes.
struct VirtualJob {
    fields: DeliveryFields,
    reply: tokio::sync::oneshot::Sender<Result<Verdict, String>>,
}

/// One delivery's fields in a request, in three pieces: what comes before
/// the content, the content (shared, written to the pipe from where it
/// is, never copied into a frame), and the client's attributes after it.
struct DeliveryFields {
    head: Vec<u8>,
    data: Arc<Vec<u8>>,
    tail: Vec<u8>,
}

impl DeliveryFields {
    fn new((sender, original, address): (&str, &str, &str), content: &MessageContent) -> Self {
        let mut head = Enc::default();
        head.str(sender)
            .str(original)
            .str(address)
            .u32(u32::try_from(content.data.len()).unwrap_or(u32::MAX));
        let mut tail = Enc::default();
        client_env::encode(&content.client, &mut tail);
        DeliveryFields {
            head: head.0,
            data: Arc::clone(&content.data),
            tail: tail.0,
        }
    }

    fn len(&self) -> usize {
        self.head.len() + self.data.len() + self.tail.len()
    }

    fn parts(&self) -> [&[u8]; 3] {
        [&self.head, &self.data, &self.tail]
    }
}

type BatchQueue = tokio::sync::mpsc::UnboundedReceiver<VirtualJob>;

/// One helper process and its pipes.
#[derive(Debug)]
struct Conn {
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::process::ChildStdout,
    /// A request was sent whose answer was never read (the caller went
    /// away): the next answer on the pipe would be the wrong one.
    desynced: bool,
}

/// The server's handle on the helper processes.
pub struct HelperPool {
    conns: Vec<Arc<Mutex<Conn>>>,
    generation: Arc<AtomicU64>,
    next: AtomicUsize,
    /// Virtual deliveries waiting for a helper, taken by one task per
    /// helper (started on first use).
    batches: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<VirtualJob>>,
}

impl std::fmt::Debug for HelperPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperPool")
            .field("helpers", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl HelperPool {
    /// Start `count` helpers: `program ARGS...` (the caller passes
    /// `-c DIR privsep-local` and the like). Called while still root.
    /// `inherit_stderr`: the server logs to its standard error (in the
    /// foreground); a daemon's helpers must not hold the pipe of the
    /// command that started it.
    pub fn spawn(
        program: &Path,
        args: &[String],
        count: usize,
        inherit_stderr: bool,
    ) -> std::io::Result<HelperPool> {
        let mut conns = Vec::new();
        for _ in 0..count.max(1) {
            let mut child = tokio::process::Command::new(program)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(if inherit_stderr {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .kill_on_drop(false)
                .spawn()?;
            let stdin = child.stdin.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
            let stdout = child.stdout.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
            conns.push(Arc::new(Mutex::new(Conn {
                _child: child,
                stdin,
                stdout,
                desynced: false,
            })));
        }
        Ok(HelperPool {
            conns,
            generation: Arc::new(AtomicU64::new(0)),
            next: AtomicUsize::new(0),
            batches: std::sync::OnceLock::new(),
        })
    }

    /// The configuration changed (a reload, a log rotation): every helper
    /// reads it again and reopens its log before this returns.
    pub async fn reload(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for conn in &self.conns {
            let mut conn = conn.lock().await;
            let empty = MessageContent::new(Vec::new(), ClientFacts::default());
            let (head, fields) = self.request(RELOAD, ("", "", ""), &empty);
            let [a, b, c] = fields.parts();
            if let Err(e) = exchange(&mut conn, &[&head, a, b, c]).await {
                gatepost_log::warning("master", e);
            }
        }
    }

    async fn call(
        &self,
        transport: u8,
        sender: &str,
        original: &str,
        address: &str,
        content: &MessageContent,
    ) -> Result<Vec<u8>, String> {
        let (head, fields) = self.request(transport, (sender, original, address), content);
        let mut conn = self.free_conn().await;
        let [a, b, c] = fields.parts();
        exchange(&mut conn, &[&head, a, b, c]).await
    }

    /// A request of one delivery (or a reload): its start, then the
    /// delivery's fields.
    fn request(
        &self,
        transport: u8,
        fields: (&str, &str, &str),
        content: &MessageContent,
    ) -> (Vec<u8>, DeliveryFields) {
        let mut e = Enc::default();
        e.u64(self.generation.load(Ordering::SeqCst)).u8(transport);
        (e.0, DeliveryFields::new(fields, content))
    }

    /// The queue of virtual deliveries, with one task per helper taking
    /// what waits in it as one request.
    fn batch_queue(&self) -> &tokio::sync::mpsc::UnboundedSender<VirtualJob> {
        self.batches.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let rx = Arc::new(Mutex::new(rx));
            for conn in &self.conns {
                tokio::spawn(drive_batches(
                    Arc::clone(conn),
                    Arc::clone(&rx),
                    Arc::clone(&self.generation),
                ));
            }
            tx
        })
    }

    /// An idle helper, else wait for one in turn.
    async fn free_conn(&self) -> tokio::sync::MutexGuard<'_, Conn> {
        for conn in &self.conns {
            if let Ok(guard) = conn.try_lock() {
                return guard;
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.conns[i].lock().await
    }

    /// A local(8) delivery: per-target results and forwards.
    pub(crate) async fn local(
        &self,
        sender: &str,
        original: &str,
        address: &str,
        content: &MessageContent,
    ) -> Result<Expanded, String> {
        let answer = self.call(LOCAL, sender, original, address, content).await?;
        decode_expanded(&answer).map_err(|e| e.to_string())
    }

    /// A pipe(8) delivery, run as the service's `user=`.
    pub(crate) async fn pipe(
        &self,
        sender: &str,
        original: &str,
        target: &PipeTarget,
        content: &MessageContent,
    ) -> Result<Verdict, String> {
        let answer = self
            .call(PIPE, sender, original, &target.encode(), content)
            .await?;
        Dec::new(&answer, "local delivery helper")
            .verdict()
            .map_err(|e| e.to_string())
    }

    /// A virtual(8) delivery, sent to a helper together with the others
    /// waiting at the same time.
    pub(crate) async fn virtual_mailbox(
        &self,
        sender: &str,
        original: &str,
        address: &str,
        content: &MessageContent,
    ) -> Result<Verdict, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = VirtualJob {
            fields: DeliveryFields::new((sender, original, address), content),
            reply,
        };
        if self.batch_queue().send(job).is_err() {
            return Err("local delivery helper: gone".to_string());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("local delivery helper: no answer".to_string()))
    }
}

/// The fields of one delivery, as `DeliveryFields` wrote them.
fn decode_delivery(d: &mut Dec<'_>) -> Result<VirtualRequest, WireError> {
    let sender = d.string()?;
    let original = d.string()?;
    let address = d.string()?;
    let data = d.bytes()?.to_vec();
    Ok(VirtualRequest {
        sender,
        original,
        address,
        content: MessageContent::new(data, client_env::decode(d)?),
    })
}

/// One request (a frame body, the concatenation of `parts`) and its
/// answer on `conn`. Small parts are gathered in a buffer, large ones
/// (message contents) written from where they are.
async fn exchange(conn: &mut Conn, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
    if conn.desynced {
        return Err("local delivery helper: connection out of step".to_string());
    }
    conn.desynced = true;
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let len = u32::try_from(total).map_err(|_| "message too large".to_string())?;
    let io = |e: std::io::Error| format!("local delivery helper: {e}");
    let mut out = tokio::io::BufWriter::new(&mut conn.stdin);
    out.write_all(&len.to_be_bytes()).await.map_err(io)?;
    for part in parts {
        out.write_all(part).await.map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    let mut len = [0u8; 4];
    conn.stdout.read_exact(&mut len).await.map_err(io)?;
    let mut answer = vec![0u8; u32::from_be_bytes(len) as usize];
    conn.stdout.read_exact(&mut answer).await.map_err(io)?;
    conn.desynced = false;
    Ok(answer)
}

/// One helper's share of the virtual deliveries: take everything waiting
/// (at least one, at most `MAX_BATCH`; while they are fewer than
/// `GATHER_MIN` and smaller than `GATHER_BYTES`, what comes within
/// `GATHER_WINDOW` too), send it as one request, hand out the verdicts;
/// until the server ends.
async fn drive_batches(
    conn: Arc<Mutex<Conn>>,
    queue: Arc<Mutex<BatchQueue>>,
    generation: Arc<AtomicU64>,
) {
    loop {
        let jobs = {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            let until = tokio::time::Instant::now() + GATHER_WINDOW;
            let mut bytes: usize = jobs.iter().map(|j| j.fields.len()).sum();
            while jobs.len() < GATHER_MIN && bytes < GATHER_BYTES {
                match tokio::time::timeout_at(until, queue.recv()).await {
                    Ok(Some(job)) => {
                        bytes += job.fields.len();
                        jobs.push(job);
                    }
                    _ => break,
                }
            }
            jobs
        };
        let mut head = Enc::default();
        head.u64(generation.load(Ordering::SeqCst))
            .u8(VIRTUAL_BATCH)
            .u32(jobs.len() as u32);
        // Each job as a byte string: its length, then its fields.
        let lengths: Vec<[u8; 4]> = jobs
            .iter()
            .map(|j| {
                u32::try_from(j.fields.len())
                    .unwrap_or(u32::MAX)
                    .to_be_bytes()
            })
            .collect();
        let mut parts: Vec<&[u8]> = vec![&head.0];
        for (job, length) in jobs.iter().zip(&lengths) {
            parts.push(length);
            parts.extend(job.fields.parts());
        }
        let answer = {
            let mut conn = conn.lock().await;
            exchange(&mut conn, &parts).await
        };
        let verdicts = answer.and_then(|a| decode_verdicts(&a, jobs.len()));
        match verdicts {
            Ok(verdicts) => {
                for (job, v) in jobs.into_iter().zip(verdicts) {
                    let _ = job.reply.send(Ok(v));
                }
            }
            Err(why) => {
                for job in jobs {
                    let _ = job.reply.send(Err(why.clone()));
                }
            }
        }
    }
}

/// The answer to a `VIRTUAL_BATCH`: one verdict per delivery, in order.
fn decode_verdicts(answer: &[u8], expected: usize) -> Result<Vec<Verdict>, String> {
    let mut d = Dec::new(answer, "local delivery helper");
    let n = d.u32().map_err(|e| e.to_string())? as usize;
    if n != expected {
        return Err(format!(
            "local delivery helper: {n} answers for {expected} deliveries"
        ));
    }
    (0..n)
        .map(|_| d.verdict().map_err(|e| e.to_string()))
        .collect()
}

fn encode_expanded(expanded: &Expanded) -> Vec<u8> {
    let mut e = Enc::default();
    e.u32(expanded.results.len() as u32);
    for (label, verdict) in &expanded.results {
        e.str(label).verdict(verdict);
    }
    e.u32(expanded.forwards.len() as u32);
    for (delivered, addresses) in &expanded.forwards {
        e.str(delivered).u32(addresses.len() as u32);
        for a in addresses {
            e.str(a);
        }
    }
    e.u32(expanded.passes.len() as u32);
    for pass in &expanded.passes {
        e.str(&pass.service).str(&pass.address);
    }
    e.0
}

fn decode_expanded(body: &[u8]) -> Result<Expanded, WireError> {
    let mut d = Dec::new(body, "local delivery helper");
    let mut results = Vec::new();
    for _ in 0..d.u32()? {
        results.push((d.string()?, d.verdict()?));
    }
    let mut forwards = Vec::new();
    for _ in 0..d.u32()? {
        let delivered = d.string()?;
        let mut addresses = Vec::new();
        for _ in 0..d.u32()? {
            addresses.push(d.string()?);
        }
        forwards.push((delivered, addresses));
    }
    let mut passes = Vec::new();
    for _ in 0..d.u32()? {
        passes.push(Pass {
            service: d.string()?,
            address: d.string()?,
        });
    }
    Ok(Expanded {
        results,
        forwards,
        passes,
    })
}

/// The helper's agents, built from its own reading of the configuration.
struct Agents {
    generation: u64,
    local: LocalExpander,
    virtual_agent: VirtualAgent,
    pipe: PipeAgent,
}

/// What a store process runs: this executable. Through `/proc/self/exe`
/// where there is one: the store runs as the recipient, who may have no
/// right to walk to the executable's directory (a build under a private
/// directory); the magic link reaches the file without that walk.
fn store_program() -> Result<std::path::PathBuf, String> {
    let magic = std::path::Path::new("/proc/self/exe");
    if magic.exists() {
        return Ok(magic.to_path_buf());
    }
    std::env::current_exe().map_err(|e| format!("find the gatepost executable: {e}"))
}

fn build_agents(cfg: &Config, generation: u64) -> Result<Agents, String> {
    let mut settings = Settings::from_config(cfg).map_err(|e| e.to_string())?;
    settings.store_program = Some(store_program()?);
    let rewriter = gatepost_rewrite::Rewriter::from_config(cfg).map_err(|e| e.to_string())?;
    let (local, virtual_agent, pipe) =
        crate::build_expanders(cfg, settings, Arc::new(rewriter), None);
    Ok(Agents {
        generation,
        local,
        virtual_agent,
        pipe,
    })
}

/// `gatepost privsep-local`: serve delivery requests on stdin/stdout until
/// the server goes away, then close the store processes. `load` reads the
/// configuration.
pub fn run_helper(load: &dyn Fn() -> Result<Config, String>) -> ExitCode {
    let code = serve_requests(load);
    crate::store_pool::close_all();
    code
}

fn serve_requests(load: &dyn Fn() -> Result<Config, String>) -> ExitCode {
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut output = BufWriter::new(std::io::stdout().lock());
    let mut agents: Option<Agents> = None;
    loop {
        let body = match wire::read_frame(&mut input) {
            Ok(Some(body)) => body,
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => {
                gatepost_log::warning("local", format!("delivery helper: {e}"));
                return ExitCode::from(1);
            }
        };
        let answer = match serve_one(&body, &mut agents, load) {
            Ok(answer) => answer,
            Err(e) => {
                gatepost_log::warning("local", e.to_string());
                return ExitCode::from(1);
            }
        };
        if wire::write_frame(&mut output, &answer).is_err() {
            return ExitCode::SUCCESS;
        }
    }
}

fn serve_one(
    body: &[u8],
    agents: &mut Option<Agents>,
    load: &dyn Fn() -> Result<Config, String>,
) -> Result<Vec<u8>, WireError> {
    let mut d = Dec::new(body, "the server");
    let generation = d.u64()?;
    let transport = d.u8()?;
    if transport == VIRTUAL_BATCH {
        let mut requests = Vec::new();
        for _ in 0..d.u32()? {
            requests.push(decode_delivery(&mut Dec::new(d.bytes()?, "the server"))?);
        }
        ensure_agents(generation, agents, load);
        let verdicts = match agents.as_ref() {
            Some(a) => a.virtual_agent.deliver_many_blocking(&requests),
            None => requests
                .iter()
                .map(|_| Verdict::deferred("4.3.5", "mail system configuration error"))
                .collect(),
        };
        let mut e = Enc::default();
        e.u32(verdicts.len() as u32);
        for v in &verdicts {
            e.verdict(v);
        }
        return Ok(e.0);
    }
    let VirtualRequest {
        sender,
        original,
        address,
        content,
    } = decode_delivery(&mut d)?;
    ensure_agents(generation, agents, load);
    let unavailable = || Verdict::deferred("4.3.5", "mail system configuration error");
    Ok(match (transport, agents.as_ref()) {
        (RELOAD, _) => Vec::new(),
        (LOCAL, Some(a)) => encode_expanded(
            &a.local
                .expand_and_store(&sender, &original, &address, &content),
        ),
        (LOCAL, None) => encode_expanded(&Expanded {
            results: vec![(address, unavailable())],
            ..Expanded::default()
        }),
        (PIPE, agents) => {
            let verdict = match (agents, PipeTarget::decode(&address)) {
                (_, None) => return Err(WireError("the server")),
                (None, Some(_)) => unavailable(),
                (Some(a), Some(t)) => match a.pipe.service(&t.service) {
                    Some(service) => {
                        let d = PipeDelivery {
                            sender: &sender,
                            original: &original,
                            recipient: &t.recipient,
                            nexthop: &t.nexthop,
                            queue_id: &t.queue_id,
                            client: &content.client,
                        };
                        pipe::deliver(service, &a.pipe.settings, &d, &content.data)
                    }
                    None => Verdict::deferred("4.3.0", "mail transport unavailable"),
                },
            };
            let mut e = Enc::default();
            e.verdict(&verdict);
            e.0
        }
        _ => return Err(WireError("the server")),
    })
}

/// Read the configuration again when the server's generation changed.
fn ensure_agents(
    generation: u64,
    agents: &mut Option<Agents>,
    load: &dyn Fn() -> Result<Config, String>,
) {
    if agents.as_ref().map(|a| a.generation) != Some(generation) {
        match load().and_then(|cfg| build_agents(&cfg, generation)) {
            Ok(fresh) => *agents = Some(fresh),
            Err(e) => gatepost_log::warning(
                "local",
                format!("delivery helper: {e}; keeping the previous configuration"),
            ),
        }
    }
}
