//! Delivery to `|command` alias targets (Postfix local `command.c` +
//! `pipe_command()`): the message, with `From ` line and delivery headers,
//! goes to `/bin/sh -c COMMAND` (or `local_command_shell`) on stdin, in a
//! clean environment (`HOME`, `LOGNAME`, `USER`, `SENDER`, `RECIPIENT`,
//! `LOCAL`, `DOMAIN`, `EXTENSION`, `ORIGINAL_RECIPIENT`, `SHELL`, `PATH`),
//! values censored to Postfix's `command_expansion_filter` characters.
//!
//! Exit status mapping follows `sys_exits.h`: 0 is `delivered to command:
//! CMD`; `EX_TEMPFAIL` (75) and `EX_OSERR` (71) defer; other codes bounce
//! with `Command died with status N: "CMD". Command output: ...`. A signal
//! defers; `command_time_limit` kills the command's process group and
//! bounces. When running
//! as root the command runs as `default_privs`. Output kept for the reason
//! text is bounded (2048 bytes).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::privs::Owner;
use crate::verdict::Verdict;

/// Characters allowed in exported values (`command_expansion_filter`).
const EXPORT_FILTER: &str =
    "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Most output bytes kept for the bounce text.
const OUTPUT_LIMIT: usize = 2048;

/// One command delivery.
#[derive(Debug, Clone)]
pub(crate) struct CommandRequest<'a> {
    pub command: &'a str,
    /// `local_command_shell`; empty means `/bin/sh -c`.
    pub shell: &'a str,
    pub env: Vec<(&'static str, String)>,
    pub time_limit: Duration,
    /// Run as this user (only when we are root).
    pub run_as: Option<Owner>,
    pub cwd: Option<String>,
}

/// Replace characters outside the export filter by `_`.
pub(crate) fn censor(value: &str) -> String {
    value
        .chars()
        .map(|c| if EXPORT_FILTER.contains(c) { c } else { '_' })
        .collect()
}

/// `sys_exits.h` codes: (dsn, soft).
fn sys_exit(code: i32) -> (&'static str, bool) {
    match code {
        64 | 66 | 69 | 70 | 72 | 74 => ("5.3.0", false),
        65 => ("5.6.0", false),
        67 => ("5.1.1", false),
        68 => ("5.1.2", false),
        71 => ("4.3.0", true),
        73 => ("5.2.0", false),
        75 => ("4.3.0", true),
        76 => ("5.5.0", false),
        77 => ("5.7.0", false),
        78 => ("5.3.5", false),
        _ => ("5.3.0", false),
    }
}

fn printable_output(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(&raw[..raw.len().min(OUTPUT_LIMIT)]).into_owned();
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.trim().to_string()
}

/// Collect up to `OUTPUT_LIMIT` bytes of a pipe in a thread; the result
/// arrives on the channel at EOF.
fn spawn_reader<R: Read + Send + 'static>(mut source: R) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = source.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = OUTPUT_LIMIT.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        let _ = tx.send(kept);
    });
    rx
}

/// Kill the command's whole process group (it was started as a group
/// leader), so that background children cannot hold the pipes open.
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

enum Finish {
    Exited(ExitStatus),
    TimedOut,
}

/// Run the command with `input` on stdin and turn its exit into a verdict.
pub(crate) fn run(req: &CommandRequest<'_>, input: Vec<u8>) -> Verdict {
    let mut cmd = if req.shell.is_empty() {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(req.command);
        c
    } else {
        let mut words = req.shell.split_whitespace();
        let program = words.next().unwrap_or("/bin/sh");
        let mut c = Command::new(program);
        c.args(words).arg(req.command);
        c
    };
    cmd.env_clear().env("PATH", "/usr/bin:/bin");
    for (name, value) in &req.env {
        cmd.env(name, censor(value));
    }
    if let Some(dir) = &req.cwd {
        cmd.current_dir(dir);
    }
    if let Some(owner) = req.run_as {
        cmd.uid(owner.uid).gid(owner.gid);
    }
    cmd.process_group(0);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Verdict::deferred(
                "4.3.0",
                format!("Command failed: {err}: \"{}\"", req.command),
            )
        }
    };
    let stdin = child.stdin.take();
    // Detached: a command may exit without reading everything, and a
    // left-over child may keep the pipe open.
    std::thread::spawn(move || {
        if let Some(mut pipe) = stdin {
            let _ = pipe.write_all(&input);
        }
    });
    let out = child.stdout.take().map(spawn_reader);
    let err = child.stderr.take().map(spawn_reader);

    let deadline = Instant::now() + req.time_limit;
    let finish = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(Finish::Exited(status)),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                break Ok(Finish::TimedOut);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => break Err(e),
        }
    };
    // Output normally ends with the command; do not wait long for pipes a
    // background child still holds.
    let grace = Duration::from_millis(500);
    let collect = |rx: Option<mpsc::Receiver<Vec<u8>>>| {
        rx.and_then(|r| r.recv_timeout(grace).ok())
            .unwrap_or_default()
    };
    let mut output = collect(out);
    output.extend(collect(err));
    let output = printable_output(&output);
    let with_output = |text: String| {
        if output.is_empty() {
            text
        } else {
            format!("{text}. Command output: {output}")
        }
    };
    match finish {
        Err(e) => Verdict::deferred("4.3.0", format!("Command failed: {e}: \"{}\"", req.command)),
        Ok(Finish::TimedOut) => Verdict::bounced(
            "5.3.0",
            format!("Command time limit exceeded: \"{}\"", req.command),
        ),
        Ok(Finish::Exited(status)) => match status.code() {
            Some(0) => Verdict::sent("2.0.0", format!("delivered to command: {}", req.command)),
            Some(code) => {
                let (dsn, soft) = sys_exit(code);
                let text = with_output(format!(
                    "Command died with status {code}: \"{}\"",
                    req.command
                ));
                if soft {
                    Verdict::deferred(dsn, text)
                } else {
                    Verdict::bounced(dsn, text)
                }
            }
            None => {
                use std::os::unix::process::ExitStatusExt;
                let signal = status.signal().unwrap_or(0);
                Verdict::deferred(
                    "4.3.0",
                    with_output(format!(
                        "Command died with signal {signal}: \"{}\"",
                        req.command
                    )),
                )
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatepost_qmgr::DeliveryStatus;

    fn req(command: &str) -> CommandRequest<'_> {
        CommandRequest {
            command,
            shell: "",
            env: vec![
                ("RECIPIENT", "bob@example.com".into()),
                ("SENDER", "a b;c@x".into()),
            ],
            time_limit: Duration::from_secs(10),
            run_as: None,
            cwd: None,
        }
    }

    #[test]
    fn exit_codes() {
        for (cmd, status, dsn, text) in [
            (
                "cat >/dev/null",
                DeliveryStatus::Sent,
                "2.0.0",
                "delivered to command: cat >/dev/null",
            ),
            (
                "exit 75",
                DeliveryStatus::Deferred,
                "4.3.0",
                "Command died with status 75: \"exit 75\"",
            ),
            (
                "exit 67",
                DeliveryStatus::Bounced,
                "5.1.1",
                "Command died with status 67: \"exit 67\"",
            ),
            (
                "exit 1",
                DeliveryStatus::Bounced,
                "5.3.0",
                "Command died with status 1: \"exit 1\"",
            ),
            (
                "echo nope; exit 1",
                DeliveryStatus::Bounced,
                "5.3.0",
                "Command died with status 1: \"echo nope; exit 1\". Command output: nope",
            ),
            (
                "kill -9 $$",
                DeliveryStatus::Deferred,
                "4.3.0",
                "Command died with signal 9: \"kill -9 $$\"",
            ),
        ] {
            let v = run(&req(cmd), b"Subject: x\n\nbody\n".to_vec());
            assert_eq!(
                (v.status, v.dsn.as_str(), v.text.as_str()),
                (status, dsn, text),
                "{cmd}"
            );
        }
    }

    #[test]
    fn environment_and_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let cmd = format!(
            "{{ echo \"$RECIPIENT|$SENDER|$PATH\"; cat; }} > {}",
            out.display()
        );
        let v = run(&req(&cmd), b"hello\n".to_vec());
        assert_eq!(v.status, DeliveryStatus::Sent, "{v:?}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "bob@example.com|a_b_c@x|/usr/bin:/bin\nhello\n"
        );
    }

    #[test]
    fn time_limit() {
        let mut r = req("sleep 5");
        r.time_limit = Duration::from_millis(50);
        let v = run(&r, Vec::new());
        assert_eq!(
            (v.status, v.text.as_str()),
            (
                DeliveryStatus::Bounced,
                "Command time limit exceeded: \"sleep 5\""
            )
        );
    }
}
