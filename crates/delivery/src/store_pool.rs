//! The privileged helper's running store processes (`store_process`): a
//! `gatepost privsep-store` started with one owner's uid and gid serves
//! every store for that owner, one framed job after another, instead of a
//! process per store. At most `MAX_OWNERS` idle processes are kept (the
//! least recently used is closed first), and one idle longer than
//! `max_idle` (postconf(5), as Postfix's daemon processes) is closed by a
//! reaper thread. Closing a process's input ends it; each is waited for,
//! so none is left behind as a zombie. A process that died while idle is
//! reaped and replaced; one whose pipe breaks during a job, or that
//! answers garbage, is killed and never reused.

use std::io::{BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::privs::Owner;
use crate::wire;

/// Idle store processes kept per helper (one per owner, as the helper
/// serves one request at a time).
const MAX_OWNERS: usize = 16;

/// One running store process.
struct Worker {
    owner: Owner,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    idle_since: Instant,
}

impl Worker {
    fn spawn(program: &Path, owner: Owner) -> Result<Worker, String> {
        let mut child = Command::new(program)
            .arg("privsep-store")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir("/")
            .uid(owner.uid)
            .gid(owner.gid)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start {}: {e}", program.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            close(child);
            return Err("no pipes to the delivery process".to_string());
        };
        Ok(Worker {
            owner,
            child,
            stdin,
            stdout: BufReader::new(stdout),
            idle_since: Instant::now(),
        })
    }

    /// Whether the process has ended (killed while idle, say).
    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Send one request frame.
    fn send(&mut self, request: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(request.len()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "message too large")
        })?;
        let mut framed = Vec::with_capacity(request.len() + 4);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(request);
        self.stdin.write_all(&framed)?;
        self.stdin.flush()
    }

    /// Read the answer frame; without one, the process is killed and
    /// reaped, and the error says why (its exit status when it ended).
    fn receive(&mut self) -> Result<Vec<u8>, String> {
        match wire::read_frame(&mut self.stdout) {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => Err("no answer".to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Kill and reap the process; `why` it failed, with its exit status
    /// when it had ended by itself.
    fn kill(mut self, why: String) -> String {
        let _ = self.child.kill();
        match self.child.wait() {
            Ok(status) if why == "no answer" && status.code().is_some() => {
                format!("exit {status}")
            }
            _ => why,
        }
    }

    /// End the process by closing its input, and reap it.
    fn close(self) {
        let Worker { child, stdin, .. } = self;
        drop(stdin);
        close(child);
    }
}

fn close(mut child: Child) {
    let _ = child.wait();
}

/// The idle processes, and the `max_idle` in effect.
struct Idle {
    workers: Vec<Worker>,
    max_idle: Duration,
}

struct Pool {
    idle: Mutex<Idle>,
    /// Wakes the reaper when a process goes idle.
    changed: Condvar,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// The pool, and its reaper thread once.
fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("store-reaper".to_string())
            .spawn(reap);
        if let Err(e) = spawned {
            gatepost_log::warning("local", format!("start the store process reaper: {e}"));
        }
        Pool {
            idle: Mutex::new(Idle {
                workers: Vec::new(),
                max_idle: Duration::from_secs(100),
            }),
            changed: Condvar::new(),
        }
    })
}

fn lock(pool: &Pool) -> MutexGuard<'_, Idle> {
    pool.idle.lock().unwrap_or_else(|e| e.into_inner())
}

/// The reaper thread: close processes idle longer than `max_idle`.
fn reap() {
    let pool = pool();
    let mut idle = lock(pool);
    loop {
        let now = Instant::now();
        let max_idle = idle.max_idle;
        let (expired, kept) = std::mem::take(&mut idle.workers)
            .into_iter()
            .partition(|w| now.duration_since(w.idle_since) >= max_idle);
        idle.workers = kept;
        if !Vec::is_empty(&expired) {
            drop(idle);
            expired.into_iter().for_each(Worker::close);
            idle = lock(pool);
            continue;
        }
        let next = idle.workers.iter().map(|w| w.idle_since + max_idle).min();
        idle = match next {
            Some(at) => {
                let wait = at.saturating_duration_since(now);
                pool.changed
                    .wait_timeout(idle, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            }
            None => pool.changed.wait(idle).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

/// An idle process for `owner`, if one is still alive.
fn take(owner: Owner) -> Option<Worker> {
    let pool = pool();
    let mut idle = lock(pool);
    let mut dead = Vec::new();
    let mut found = None;
    while let Some(i) = idle.workers.iter().rposition(|w| w.owner == owner) {
        let mut worker = idle.workers.swap_remove(i);
        if worker.exited() {
            dead.push(worker);
        } else {
            found = Some(worker);
            break;
        }
    }
    drop(idle);
    dead.into_iter().for_each(Worker::close);
    found
}

/// Keep `worker` for the next job of its owner.
fn put(mut worker: Worker, max_idle: Duration) {
    let pool = pool();
    worker.idle_since = Instant::now();
    let mut idle = lock(pool);
    idle.max_idle = max_idle;
    idle.workers.push(worker);
    let evicted = if idle.workers.len() > MAX_OWNERS {
        let oldest = idle
            .workers
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| w.idle_since)
            .map(|(i, _)| i);
        oldest.map(|i| idle.workers.swap_remove(i))
    } else {
        None
    };
    drop(idle);
    pool.changed.notify_one();
    if let Some(worker) = evicted {
        worker.close();
    }
}

/// Run one job (`request`, a frame body) in a store process running as
/// `owner` and `decode` its answer. An idle process of the owner is
/// reused; a job that could not be sent whole to it (it died meanwhile)
/// goes to a fresh one, as the first never saw all of it. A process that
/// fails after it got the job, or answers what `decode` refuses, is
/// killed: the job may have been stored, so it is not sent again.
pub(crate) fn run<T>(
    program: &Path,
    owner: Owner,
    request: &[u8],
    max_idle: Duration,
    decode: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<T, String> {
    let mut worker = match take(owner) {
        Some(mut cached) => match cached.send(request) {
            Ok(()) => cached,
            Err(e) => {
                let _ = cached.kill(e.to_string());
                fresh(program, owner, request)?
            }
        },
        None => fresh(program, owner, request)?,
    };
    match worker.receive().and_then(|answer| decode(&answer)) {
        Ok(value) => {
            put(worker, max_idle);
            Ok(value)
        }
        Err(why) => Err(worker.kill(why)),
    }
}

fn fresh(program: &Path, owner: Owner, request: &[u8]) -> Result<Worker, String> {
    let mut worker = Worker::spawn(program, owner)?;
    match worker.send(request) {
        Ok(()) => Ok(worker),
        Err(e) => Err(worker.kill(e.to_string())),
    }
}

/// Close every idle process (the helper is ending).
pub(crate) fn close_all() {
    let Some(pool) = POOL.get() else {
        return;
    };
    let workers = std::mem::take(&mut lock(pool).workers);
    workers.into_iter().for_each(Worker::close);
}
