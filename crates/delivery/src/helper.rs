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
//! a time each, on their stdin/stdout pipes (framed as in `wire`).

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
use crate::virtual_mailbox::VirtualAgent;
use crate::wire::{self, Dec, Enc, WireError};
use crate::MessageContent;

const LOCAL: u8 = 0;
const VIRTUAL: u8 = 1;
/// Read the configuration again now (and reopen the log), deliver nothing.
const RELOAD: u8 = 2;
/// A pipe(8) delivery; the address field is an encoded `PipeTarget`.
const PIPE: u8 = 3;

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
#[derive(Debug)]
pub struct HelperPool {
    conns: Vec<Mutex<Conn>>,
    generation: AtomicU64,
    next: AtomicUsize,
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
            conns.push(Mutex::new(Conn {
                _child: child,
                stdin,
                stdout,
                desynced: false,
            }));
        }
        Ok(HelperPool {
            conns,
            generation: AtomicU64::new(0),
            next: AtomicUsize::new(0),
        })
    }

    /// The configuration changed (a reload, a log rotation): every helper
    /// reads it again and reopens its log before this returns.
    pub async fn reload(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for conn in &self.conns {
            let mut conn = conn.lock().await;
            let empty = MessageContent::new(Vec::new(), ClientFacts::default());
            if let Err(e) = self.exchange(&mut conn, RELOAD, ("", "", ""), &empty).await {
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
        let mut conn = self.free_conn().await;
        self.exchange(&mut conn, transport, (sender, original, address), content)
            .await
    }

    /// One request and its answer on `conn`.
    async fn exchange(
        &self,
        conn: &mut Conn,
        transport: u8,
        (sender, original, address): (&str, &str, &str),
        content: &MessageContent,
    ) -> Result<Vec<u8>, String> {
        let mut e = Enc::default();
        e.u64(self.generation.load(Ordering::SeqCst))
            .u8(transport)
            .str(sender)
            .str(original)
            .str(address)
            .bytes(&content.data);
        client_env::encode(&content.client, &mut e);
        let body = e.0;
        if conn.desynced {
            return Err("local delivery helper: connection out of step".to_string());
        }
        conn.desynced = true;
        let len = u32::try_from(body.len()).map_err(|_| "message too large".to_string())?;
        let io = |e: std::io::Error| format!("local delivery helper: {e}");
        conn.stdin.write_all(&len.to_be_bytes()).await.map_err(io)?;
        conn.stdin.write_all(&body).await.map_err(io)?;
        conn.stdin.flush().await.map_err(io)?;
        let mut len = [0u8; 4];
        conn.stdout.read_exact(&mut len).await.map_err(io)?;
        let mut answer = vec![0u8; u32::from_be_bytes(len) as usize];
        conn.stdout.read_exact(&mut answer).await.map_err(io)?;
        conn.desynced = false;
        Ok(answer)
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

    /// A virtual(8) delivery.
    pub(crate) async fn virtual_mailbox(
        &self,
        sender: &str,
        original: &str,
        address: &str,
        content: &MessageContent,
    ) -> Result<Verdict, String> {
        let answer = self
            .call(VIRTUAL, sender, original, address, content)
            .await?;
        Dec::new(&answer, "local delivery helper")
            .verdict()
            .map_err(|e| e.to_string())
    }
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

fn build_agents(cfg: &Config, generation: u64) -> Result<Agents, String> {
    let mut settings = Settings::from_config(cfg).map_err(|e| e.to_string())?;
    settings.store_program =
        Some(std::env::current_exe().map_err(|e| format!("find the gatepost executable: {e}"))?);
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
    let sender = d.string()?;
    let original = d.string()?;
    let address = d.string()?;
    let data = d.bytes()?.to_vec();
    let content = MessageContent::new(data, client_env::decode(&mut d)?);
    if agents.as_ref().map(|a| a.generation) != Some(generation) {
        match load().and_then(|cfg| build_agents(&cfg, generation)) {
            Ok(fresh) => *agents = Some(fresh),
            Err(e) => gatepost_log::warning(
                "local",
                format!("delivery helper: {e}; keeping the previous configuration"),
            ),
        }
    }
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
        (_, agents) => {
            let verdict = match agents {
                Some(a) => a
                    .virtual_agent
                    .deliver_blocking(&sender, &original, &address, &content),
                None => unavailable(),
            };
            let mut e = Enc::default();
            e.verdict(&verdict);
            e.0
        }
    })
}
