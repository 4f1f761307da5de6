//! Start the real `gatepost serve` as a child process with a configuration
//! in a temporary directory, learn its listening address from its output,
//! read its log, kill it hard and restart it on the same directory. The
//! directory itself is prepared by [`crate::ConfigDir`].

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::ConfigDir;

pub struct TestServer {
    pub dir: tempfile::TempDir,
    /// The first listening address (the only one with the test master.cf).
    pub addr: SocketAddr,
    /// Every listening address, in master.cf order.
    pub addrs: Vec<SocketAddr>,
    bin: PathBuf,
    child: Option<Child>,
}

impl TestServer {
    /// Start with the base configuration plus `extra_main_cf` lines.
    pub fn start(bin: &Path, extra_main_cf: &str) -> Result<TestServer> {
        ConfigDir::new()?.main_cf(extra_main_cf)?.start(bin)
    }

    pub(crate) fn launch(bin: &Path, dir: tempfile::TempDir) -> Result<TestServer> {
        let mut child = Command::new(bin)
            .arg("-c")
            .arg(dir.path())
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("spawn {}", bin.display()))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        // The listening lines come first, then the queue directory line.
        let mut addrs = Vec::new();
        loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("gatepost: listening on ") {
                        addrs.push(
                            rest.trim()
                                .parse::<SocketAddr>()
                                .context("listen address")?,
                        );
                    } else if line.starts_with("gatepost: queue directory ") {
                        break;
                    }
                }
                Some(Err(e)) => bail!("reading server output: {e}"),
                None => {
                    let status = child.wait()?;
                    bail!("server exited before listening: {status}");
                }
            }
        }
        let addr = *addrs.first().context("no listening address")?;
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Ok(TestServer {
            dir,
            addr,
            addrs,
            bin: bin.to_path_buf(),
            child: Some(child),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The server's process id (the process that listens and talks SMTP).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL the server: no shutdown code runs.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kill hard and start again on the same directory (new port).
    pub fn restart(mut self) -> Result<TestServer> {
        self.kill_hard();
        let bin = self.bin.clone();
        let dir = std::mem::replace(&mut self.dir, crate::shared_tempdir()?);
        TestServer::launch(&bin, dir)
    }

    /// Replace the first `from` in this server's main.cf by `to` (takes
    /// effect at the next [`TestServer::restart`] or CLI run).
    pub fn edit_main_cf(&self, from: &str, to: &str) {
        crate::config_dir::edit_main_cf(self.path(), from, to);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Wait until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Wait until message `id` is done (`ID: removed` logged); fails the
    /// test with the log when it does not come.
    pub fn expect_removed(&self, id: &str) {
        assert!(
            self.wait_for_log(&format!("{id}: removed"), crate::EVENT_TIMEOUT),
            "{}",
            self.log()
        );
    }

    /// Messages delivered to `user`'s Maildir (new/), as text.
    pub fn maildir_messages(&self, user: &str) -> Vec<String> {
        let dir = self.dir.path().join("mail").join(user).join("new");
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                if let Ok(text) = std::fs::read_to_string(e.path()) {
                    out.push(text);
                }
            }
        }
        out
    }

    /// Wait until `user` has at least `n` messages.
    pub fn wait_for_mail(&self, user: &str, n: usize, timeout: Duration) -> Vec<String> {
        let start = Instant::now();
        loop {
            let msgs = self.maildir_messages(user);
            if msgs.len() >= n || start.elapsed() > timeout {
                return msgs;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `BIN -c DIR ARGS` (a gatepost command such as `reload` or `mailq`),
/// run to its end: its whole output.
pub fn gatepost_output(bin: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin)
        .arg("-c")
        .arg(dir)
        .args(args)
        .output()
        .expect("run gatepost")
}

/// As [`gatepost_output`]: its exit code (`-1` when killed by a signal)
/// and its standard error.
pub fn run_gatepost(bin: &Path, dir: &Path, args: &[&str]) -> (i32, String) {
    let out = gatepost_output(bin, dir, args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}
