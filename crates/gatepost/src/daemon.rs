//! Running the server in the background (`gatepost start`), as Postfix's
//! `master -w`: the command starts `gatepost serve --daemon` as a child
//! with its standard output and error on pipes, relays what the child
//! prints while it starts, and returns once the child says it is up (or
//! has died). The child leaves the terminal's session and, once up, points
//! its standard streams at /dev/null, so that the pipes close and nothing
//! it writes later can reach (or block on) the command that started it.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// The line the child writes on standard error once it serves.
const READY_LINE: &str = "gatepost: daemon ready";

/// Start the server in the background; true once it is up, false when it
/// exited first (what it printed has been relayed to our stderr).
pub fn spawn_and_wait(config_dir: Option<&Path>) -> Result<bool> {
    let exe = std::env::current_exe().context("find the gatepost executable")?;
    let mut command = Command::new(&exe);
    if let Some(dir) = config_dir {
        command.arg("-c").arg(dir);
    }
    let mut child = command
        .args(["serve", "--daemon"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {}", exe.display()))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let stderr = child.stderr.take().context("child stderr")?;
    let relay = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
        }
    });
    let mut ready = false;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if line == READY_LINE {
            ready = true;
        } else {
            eprintln!("{line}");
        }
    }
    let _ = relay.join();
    if !ready {
        let _ = child.wait();
    }
    Ok(ready)
}

/// In the child, first thing: leave the session of the terminal that
/// started it, so that its hangup or interrupt does not reach the server
/// (the child of a spawn is never a process-group leader, so this works).
pub fn leave_terminal_session() {
    let _ = nix::unistd::setsid();
}

/// In the child, once it serves: tell the parent, then detach the standard
/// streams (from now on the log is the only output).
pub fn announce_ready() -> Result<()> {
    std::io::stdout().flush().context("flush stdout")?;
    eprintln!("{READY_LINE}");
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("open /dev/null")?;
    for fd in [0, 1, 2] {
        nix::unistd::dup2(null.as_raw_fd(), fd).context("detach standard streams")?;
    }
    Ok(())
}
