//! The benchmark's load tool (bench/compare.sh runs it): SMTP sessions
//! against any server, and the server's memory from /proc.
//!
//! ```text
//! gatepost-load send ADDR SESSIONS MESSAGES SIZE   one message per connection, SESSIONS at once;
//!                                                  prints: msgs secs rate p50_ms p99_ms failed
//! gatepost-load idle ADDR SESSIONS PID             open SESSIONS connections, wait for each 220,
//!                                                  prints: greeted kib_per_session (RSS of PID's tree)
//! gatepost-load peak PID                           peak RSS (VmHWM) of PID's process tree in KiB
//! gatepost-load sink ADDR                          a null server: answers every command, discards
//!                                                  the mail (no queue, no disk), until killed
//! ```
//!
//! The latency is end of data (the `.` line sent) to the `250` reply.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> Result<&str> {
        args.get(i)
            .map(String::as_str)
            .context("usage: gatepost-load send|idle|peak|sink ...")
    };
    let num = |i: usize| -> Result<usize> { Ok(arg(i)?.parse()?) };
    raise_nofile();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match arg(0)? {
        "send" => rt.block_on(send(arg(1)?.to_string(), num(2)?, num(3)?, num(4)?)),
        "idle" => rt.block_on(idle(arg(1)?.to_string(), num(2)?, num(3)? as u32)),
        "sink" => rt.block_on(sink(arg(1)?.to_string())),
        "peak" => {
            println!("{}", tree_kib(num(1)? as u32, "VmHWM:"));
            Ok(())
        }
        other => bail!("unknown mode {other}"),
    }
}

/// As many open files as the hard limit allows (10,000 sessions need it).
fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// The message: headers, then lines of 78 characters up to `size` bytes.
fn message(size: usize) -> Vec<u8> {
    let mut m =
        b"From: <sender@bench.test>\r\nTo: <rcpt@bench.test>\r\nSubject: bench\r\n\r\n".to_vec();
    let line = [b'x'; 78];
    while m.len() < size {
        m.extend_from_slice(&line);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b".\r\n");
    m
}

async fn reply(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut String,
) -> Result<u16> {
    loop {
        line.clear();
        if r.read_line(line).await? == 0 {
            bail!("connection closed");
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0));
        }
    }
}

/// One connection, one message; the end-of-data → 250 latency.
async fn one(addr: &str, body: &[u8]) -> Result<Duration> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    let expect = |got: u16, want: u16, what: &str| -> Result<()> {
        if got != want {
            bail!("{what}: {got}");
        }
        Ok(())
    };
    expect(reply(&mut r, &mut line).await?, 220, "greeting")?;
    w.write_all(b"EHLO load.bench.test\r\n").await?;
    expect(reply(&mut r, &mut line).await?, 250, "EHLO")?;
    w.write_all(b"MAIL FROM:<sender@bench.test>\r\n").await?;
    expect(reply(&mut r, &mut line).await?, 250, "MAIL")?;
    w.write_all(b"RCPT TO:<rcpt@bench.test>\r\n").await?;
    expect(reply(&mut r, &mut line).await?, 250, "RCPT")?;
    w.write_all(b"DATA\r\n").await?;
    expect(reply(&mut r, &mut line).await?, 354, "DATA")?;
    w.write_all(body).await?;
    let sent = Instant::now();
    expect(reply(&mut r, &mut line).await?, 250, "end of data")?;
    let latency = sent.elapsed();
    w.write_all(b"QUIT\r\n").await?;
    let _ = reply(&mut r, &mut line).await;
    Ok(latency)
}

async fn send(addr: String, sessions: usize, messages: usize, size: usize) -> Result<()> {
    let body = std::sync::Arc::new(message(size));
    let left = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(messages));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..sessions.max(1) {
        let (addr, body, left) = (addr.clone(), body.clone(), left.clone());
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let mut failed = 0usize;
            use std::sync::atomic::Ordering::Relaxed;
            while left
                .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                match one(&addr, &body).await {
                    Ok(d) => lat.push(d),
                    Err(_) => failed += 1,
                }
            }
            (lat, failed)
        });
    }
    let mut all = Vec::new();
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        let (lat, f) = done?;
        all.extend(lat);
        failed += f;
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[i].as_secs_f64() * 1000.0
    };
    println!(
        "msgs={} secs={secs:.3} rate={:.1} p50_ms={:.2} p99_ms={:.2} failed={failed}",
        all.len(),
        all.len() as f64 / secs,
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

/// The null server: every session is answered as fast as this machine
/// allows and its mail thrown away, the ceiling of what any server can
/// show under the same load (bench/README.md). A task per connection on
/// the same two-thread runtime as the load.
async fn sink(addr: String) -> Result<()> {
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("listen on {addr}"))?;
    serve_null(listener).await
}

async fn serve_null(listener: TcpListener) -> Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = null_session(stream).await;
        });
    }
}

/// One session of the null server: a reply to each command line, the
/// message text skipped up to its end-of-data line.
async fn null_session(mut stream: TcpStream) -> Result<()> {
    const END: &[u8] = b"\r\n.\r\n";
    stream.set_nodelay(true)?;
    stream.write_all(b"220 null.bench.test ESMTP\r\n").await?;
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut in_data = false;
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            if in_data {
                // Keep the last bytes: the end may straddle two reads.
                let Some(at) = memchr::memmem::find(&buf, END) else {
                    let keep = buf.len().min(END.len() - 1);
                    buf.drain(..buf.len() - keep);
                    break;
                };
                buf.drain(..at + END.len());
                in_data = false;
                stream.write_all(b"250 2.0.0 Ok: discarded\r\n").await?;
                continue;
            }
            let Some(eol) = memchr::memchr(b'\n', &buf) else {
                break;
            };
            let verb = buf[..eol].get(..4).map(<[u8]>::to_ascii_uppercase);
            let answer: &[u8] = match verb.as_deref() {
                Some(b"DATA") => b"354 End data with <CR><LF>.<CR><LF>\r\n",
                Some(b"QUIT") => b"221 2.0.0 Bye\r\n",
                _ => b"250 Ok\r\n",
            };
            // After DATA, the CRLF ending its line starts the end marker
            // of an empty message.
            let data = verb.as_deref() == Some(b"DATA");
            buf.drain(..if data { eol.saturating_sub(1) } else { eol + 1 });
            stream.write_all(answer).await?;
            if verb.as_deref() == Some(b"QUIT") {
                return Ok(());
            }
            in_data = data;
        }
    }
}

/// Open `sessions` connections and wait (up to a deadline) for each
/// greeting; the server's memory growth per greeted session.
async fn idle(addr: String, sessions: usize, pid: u32) -> Result<()> {
    let before = tree_kib(pid, "VmRSS:");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tasks = tokio::task::JoinSet::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let hold = std::sync::Arc::new(tokio::sync::Notify::new());
    for i in 0..sessions {
        let (addr, tx, hold) = (addr.clone(), tx.clone(), hold.clone());
        tasks.spawn(async move {
            let held = async {
                let stream = TcpStream::connect(&addr).await?;
                let (r, w) = stream.into_split();
                let mut r = BufReader::new(r);
                let mut line = String::new();
                let code = reply(&mut r, &mut line).await?;
                anyhow::Ok((code == 220, r, w))
            };
            let got = tokio::time::timeout_at(deadline.into(), held).await;
            let keep = match got {
                Ok(Ok((true, r, w))) => {
                    let _ = tx.send(true);
                    Some((r, w))
                }
                _ => {
                    let _ = tx.send(false);
                    None
                }
            };
            hold.notified().await;
            drop(keep);
        });
        if i % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop(tx);
    let mut greeted = 0usize;
    let mut answered = 0;
    while answered < sessions {
        match rx.recv().await {
            Some(ok) => {
                answered += 1;
                greeted += usize::from(ok);
            }
            None => break,
        }
    }
    // Let the server settle after the last greeting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = tree_kib(pid, "VmRSS:");
    hold.notify_waiters();
    tasks.shutdown().await;
    let per = if greeted == 0 {
        0.0
    } else {
        after.saturating_sub(before) as f64 / greeted as f64
    };
    println!("greeted={greeted} kib_per_session={per:.2} rss_before={before} rss_after={after}");
    Ok(())
}

/// The sum of `field` (KiB) over process `pid` and its descendants.
fn tree_kib(pid: u32, field: &str) -> u64 {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
                // The field after the command name in parentheses.
                if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
                    if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok())
                    {
                        parents.push((p, ppid));
                    }
                }
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn within<T>(session: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), session)
            .await
            .expect("the session ended in time")
    }

    /// The null server takes whole sessions of the load tool: small and
    /// large messages (whose end-of-data line comes over many reads), an
    /// empty one, a body line that only starts with a dot, and several
    /// messages in one session.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_null_server_answers_every_session() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(serve_null(listener));
        for size in [0, 1024, 100 * 1024] {
            let text = message(size);
            within(one(&addr, &text)).await.unwrap();
        }
        // No text at all, and a body line that starts with a dot.
        within(one(&addr, b".\r\n")).await.unwrap();
        let dotted = b"Subject: x\r\n\r\n..not the end\r\n.\r\n";
        within(one(&addr, dotted)).await.unwrap();
        // Several messages in one session.
        let stream = TcpStream::connect(&addr).await.unwrap();
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        let mut line = String::new();
        assert_eq!(reply(&mut r, &mut line).await.unwrap(), 220);
        for _ in 0..3 {
            w.write_all(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
                .await
                .unwrap();
            for want in [250, 250, 354] {
                assert_eq!(reply(&mut r, &mut line).await.unwrap(), want);
            }
            w.write_all(&message(3000)).await.unwrap();
            assert_eq!(reply(&mut r, &mut line).await.unwrap(), 250);
        }
        w.write_all(b"QUIT\r\n").await.unwrap();
        assert_eq!(reply(&mut r, &mut line).await.unwrap(), 221);
    }
}
