//! Delivery to external commands (Postfix local `command.c` +
//! `pipe_command()` + `exec_command()`): `|command` alias and `.forward`
//! targets and `mailbox_command`. The message, with `From ` line and
//! delivery headers, goes to the command on stdin, in a clean environment
//! (`HOME`, `LOGNAME`, `USER`, `SENDER`, `RECIPIENT`, `LOCAL`, `DOMAIN`,
//! `EXTENSION`, `ORIGINAL_RECIPIENT`, `SHELL`, `PATH`, and the client's
//! `CLIENT_*` / `SASL_*` when known, see `client_env`), values censored to
//! Postfix's `command_expansion_filter` characters. As exec_command(), a
//! command made only of those characters and blanks is split on blanks and
//! run directly; any other runs as `/bin/sh -c COMMAND` (or with
//! `local_command_shell`).
//!
//! Exit status mapping follows `sys_exits.h` as pipe_command(): 0 is
//! `delivered to command: CMD`; a `sys_exits.h` code (64..78) gives its
//! text and status (`temporary failure` 4.3.0 and `system resource
//! problem` 4.3.0 defer, `user unknown` 5.1.1 ... bounce), output that
//! starts with an `X.Y.Z` code gives that code and text, any other status
//! bounces with `Command died with status N: "CMD"`; each followed by
//! `. Command output: ...` when the command wrote something. A signal
//! defers; `command_time_limit` kills the command's process group and
//! bounces. Output kept for the reason text is bounded (2048 bytes).

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
    /// The command line, or (with `argv`) the name used in result texts.
    pub command: &'a str,
    /// pipe(8): the program and its arguments, run without a shell.
    pub argv: &'a [String],
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

/// `sys_exits.h` codes as Postfix's `sys_exits_detail()`: (dsn, text);
/// a 4.X.X code defers.
pub(crate) fn sys_exit(code: i32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        64 => ("5.3.0", "command line usage error"),
        65 => ("5.6.0", "data format error"),
        66 => ("5.3.0", "cannot open input"),
        67 => ("5.1.1", "user unknown"),
        68 => ("5.1.2", "host name unknown"),
        69 => ("5.3.0", "service unavailable"),
        70 => ("5.3.0", "internal software error"),
        71 => ("4.3.0", "system resource problem"),
        72 => ("5.3.0", "critical OS file missing"),
        73 => ("5.2.0", "can't create user output file"),
        74 => ("5.3.0", "input/output error"),
        75 => ("4.3.0", "temporary failure"),
        76 => ("5.5.0", "remote error in protocol"),
        77 => ("5.7.0", "permission denied"),
        78 => ("5.3.5", "local configuration error"),
        _ => return None,
    })
}

/// An `X.Y.Z` status code (class 4 or 5) at the start of command output,
/// with the text after it (Postfix's `dsn_valid()` use in pipe_command()).
fn output_dsn(output: &str) -> Option<(String, String)> {
    let (code, rest) = output.split_once(' ').unwrap_or((output, ""));
    let parts: Vec<&str> = code.split('.').collect();
    let valid = parts.len() == 3
        && matches!(parts[0], "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| (code.to_string(), rest.trim().to_string()))
}

/// Whether exec_command() would run `command` without a shell: only
/// `command_expansion_filter` characters and blanks.
pub(crate) fn needs_shell(command: &str) -> bool {
    command
        .chars()
        .any(|c| !(EXPORT_FILTER.contains(c) || c == ' ' || c == '\t'))
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
    let mut cmd = if let Some((program, args)) = req.argv.split_first() {
        let mut c = Command::new(program);
        c.args(args);
        c
    } else if !req.shell.is_empty() {
        let mut words = req.shell.split_whitespace();
        let program = words.next().unwrap_or("/bin/sh");
        let mut c = Command::new(program);
        c.args(words).arg(req.command);
        c
    } else if needs_shell(req.command) {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(req.command);
        c
    } else {
        let mut words = req.command.split_whitespace();
        let Some(program) = words.next() else {
            return Verdict::bounced("5.3.0", "Command failed: empty command");
        };
        let mut c = Command::new(program);
        c.args(words);
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
                if let Some((dsn, text)) = output_dsn(&output) {
                    return if dsn.starts_with('4') {
                        Verdict::deferred(&dsn, text)
                    } else {
                        Verdict::bounced(&dsn, text)
                    };
                }
                let (dsn, text) = match sys_exit(code) {
                    Some((dsn, text)) => (dsn, with_output(text.to_string())),
                    None => (
                        "5.3.0",
                        with_output(format!(
                            "Command died with status {code}: \"{}\"",
                            req.command
                        )),
                    ),
                };
                if dsn.starts_with('4') {
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
            argv: &[],
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
                "true; exit 75",
                DeliveryStatus::Deferred,
                "4.3.0",
                "temporary failure",
            ),
            (
                "true; exit 67",
                DeliveryStatus::Bounced,
                "5.1.1",
                "user unknown",
            ),
            (
                "true; exit 1",
                DeliveryStatus::Bounced,
                "5.3.0",
                "Command died with status 1: \"true; exit 1\"",
            ),
            (
                "echo nope; exit 1",
                DeliveryStatus::Bounced,
                "5.3.0",
                "Command died with status 1: \"echo nope; exit 1\". Command output: nope",
            ),
            (
                "echo try later; exit 75",
                DeliveryStatus::Deferred,
                "4.3.0",
                "temporary failure. Command output: try later",
            ),
            (
                "echo 4.2.2 mailbox full; exit 1",
                DeliveryStatus::Deferred,
                "4.2.2",
                "mailbox full",
            ),
            (
                "/bin/false",
                DeliveryStatus::Bounced,
                "5.3.0",
                "Command died with status 1: \"/bin/false\"",
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
    fn shell_only_for_metacharacters() {
        assert!(!needs_shell("/usr/bin/procmail -a ext-1 -d bob"));
        for cmd in ["cat > x", "a;b", "echo $HOME", "a|b", "a 'b'", "a*"] {
            assert!(needs_shell(cmd), "{cmd}");
        }
        // Run directly, `$0` is an argument, not the shell's expansion.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("argv");
        let script = dir.path().join("show");
        std::fs::write(&script, "#!/bin/sh\nprintf '%s|' \"$@\" > \"$1\"\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let cmd = format!("{} {} a:b x=y", script.display(), out.display());
        let v = run(&req(&cmd), Vec::new());
        assert_eq!(v.status, DeliveryStatus::Sent, "{v:?}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!("{}|a:b|x=y|", out.display())
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
