//! Whole SMTP sessions through the session state machine, in process: each
//! case builds a server context from its own main.cf, serves it on a
//! loopback listener (`gatepost_smtpd::serve`), connects from a chosen
//! 127.0.0.x address, sends lines and compares the replies (Postfix 3.7's,
//! see docs/smtp-session.md) and the log lines the session must write.
//! Accepted mail stays in the queue's `incoming` directory: no queue
//! manager runs here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatepost_config::Config;
use gatepost_queue::Queue;
use gatepost_rewrite::Rewriter;
use gatepost_smtpd::ServerContext;
use gatepost_testkit::log_capture::{in_process_log, in_process_log_text};
use gatepost_testkit::EVENT_TIMEOUT;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket};

/// The expected "reply" when the server must have closed the connection.
const CLOSED: &str = "<connection closed>";

/// Sent as a step: close the connection and connect again from the same
/// address; the step's reply is the new connection's greeting.
const RECONNECT: &str = "<reconnect>";

/// The greeting step.
const GREETING: (&str, &str) = ("", "220 mx.spec.test ESMTP Postfix");

/// One whole session.
struct Case {
    name: &'static str,
    /// main.cf lines added to [`BASE_MAIN_CF`].
    main_cf: &'static str,
    /// The client's source address (127.0.0.1 is in mynetworks, 127.0.0.2 not).
    client: &'static str,
    /// (sent, start of the last reply line expected). The line is sent with
    /// CRLF unless it ends in `\n` (sent as is); an empty line sends
    /// nothing and only reads the next reply.
    steps: &'static [(&'static str, &'static str)],
    /// Log lines (their message part) the session must have written.
    log: &'static [&'static str],
}

const BASE_MAIN_CF: &str = "\
myhostname = mx.spec.test
mydomain = spec.test
mydestination = $myhostname, localhost, spec.test
mynetworks = 127.0.0.1/32
inet_interfaces = 127.0.0.1
local_recipient_maps =
alias_maps =
smtpd_peername_lookup = no
dns_nameservers = 127.0.0.1:1
smtpd_error_sleep_time = 0
";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "two transactions in one session",
            main_cf: "",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("EHLO two.example", "250 CHUNKING"),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ("DATA", "354 End data with <CR><LF>.<CR><LF>"),
                ("Subject: one\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued as "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<carol@spec.test>", "250 2.1.5 Ok"),
                ("DATA", "354 "),
                ("Subject: two\r\n\r\n..leading dot\r\n.", "250 2.0.0 Ok: queued as "),
                ("QUIT", "221 2.0.0 Bye"),
                ("", CLOSED),
            ],
            log: &["disconnect from unknown[127.0.0.1] ehlo=1 mail=2 rcpt=2 data=2 quit=1 commands=8"],
        },
        Case {
            name: "RSET ends the transaction",
            main_cf: "",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ("RSET", "250 2.0.0 Ok"),
                ("DATA", "503 5.5.1 Error: need RCPT command"),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("QUIT", "221 2.0.0 Bye"),
            ],
            log: &[],
        },
        Case {
            name: "HELO ends the transaction",
            main_cf: "",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("HELO c.example", "250 mx.spec.test"),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("MAIL FROM:<a@example.org>", "503 5.5.1 Error: nested MAIL command"),
                ("HELO c.example", "250 mx.spec.test"),
                ("RCPT TO:<bob@spec.test>", "503 5.5.1 Error: need MAIL command"),
            ],
            log: &[],
        },
        Case {
            name: "an ESMTP client pipelines MAIL, RCPT and DATA",
            main_cf: "",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("EHLO c.example", "250 CHUNKING"),
                (
                    "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@spec.test>\r\nDATA",
                    "250 2.1.0 Ok",
                ),
                ("", "250 2.1.5 Ok"),
                ("", "354 "),
                ("Subject: p\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued as "),
            ],
            log: &[],
        },
        Case {
            name: "a HELO client that pipelines is cut off",
            main_cf: "",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("HELO pipe.example", "250 mx.spec.test"),
                (
                    "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@spec.test>",
                    "554 5.5.0 Error: SMTP protocol synchronization",
                ),
                ("", CLOSED),
            ],
            log: &["improper command pipelining after MAIL from unknown[127.0.0.1]: RCPT TO:<bob@spec.test>\\r\\n"],
        },
        Case {
            name: "relay refused outside mynetworks, then no valid recipients",
            main_cf: "",
            client: "127.0.0.2",
            steps: &[
                GREETING,
                ("EHLO relay.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<x@far.example>", "454 4.7.1 <x@far.example>: Relay access denied"),
                ("DATA", "554 5.5.1 Error: no valid recipients"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ("DATA", "354 "),
                ("Subject: r\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued as "),
            ],
            log: &["NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 454 4.7.1 <x@far.example>: Relay access denied; from=<a@example.org> to=<x@far.example> proto=ESMTP helo=<relay.example>"],
        },
        Case {
            name: "HELO required before MAIL",
            main_cf: "smtpd_helo_required = yes",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("MAIL FROM:<a@example.org>", "503 5.5.1 Error: send HELO/EHLO first"),
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
            ],
            log: &[],
        },
        Case {
            name: "the hard error limit ends the session unasked",
            main_cf: "smtpd_hard_error_limit = 3",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("BOGUS", "500 5.5.2 Error: command not recognized"),
                ("   ", "500 5.5.2 Error: bad syntax"),
                ("EHLO", "501 Syntax: EHLO hostname"),
                ("", "421 4.7.0 mx.spec.test Error: too many errors"),
                ("", CLOSED),
            ],
            log: &["too many errors after EHLO from unknown[127.0.0.1]"],
        },
        Case {
            name: "a non-SMTP command ends the session",
            main_cf: "",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("Subject: hello", "221 2.7.0 Error: I can break rules, too. Goodbye."),
                ("", CLOSED),
            ],
            log: &["warning: non-SMTP command from unknown[127.0.0.1]: Subject: hello"],
        },
        Case {
            name: "message size limit at MAIL and at the end of DATA",
            main_cf: "message_size_limit = 300",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org> SIZE=301", "552 5.3.4 Message size exceeds fixed limit"),
                ("MAIL FROM:<a@example.org> SIZE=100", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ("DATA", "354 "),
                (
                    "Subject: big\r\n\r\n\
                     xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\
                     xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\
                     xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n.",
                    "552 5.3.4 Error: message file too big",
                ),
                ("NOOP", "250 2.0.0 Ok"),
            ],
            log: &["NOQUEUE: reject: MAIL from unknown[127.0.0.1]: 552 5.3.4 Message size exceeds fixed limit; from=<a@example.org> proto=ESMTP helo=<c.example>"],
        },
        Case {
            name: "a bare LF command is refused in reject mode",
            main_cf: "smtpd_forbid_bare_newline = reject",
            client: "127.0.0.2",
            steps: &[
                GREETING,
                ("EHLO c.example\n", "550 5.5.2 mx.spec.test Error: bare <LF> received"),
                ("", CLOSED),
            ],
            log: &["reject: CONNECT from unknown[127.0.0.2]: bare <LF> received; proto=SMTP"],
        },
        Case {
            name: "soft_bounce turns protocol 5xx into 4xx",
            main_cf: "soft_bounce = yes",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                ("BOGUS", "400 4.5.2 Error: command not recognized"),
                ("HELO", "401 Syntax: HELO hostname"),
                ("NOOP", "250 2.0.0 Ok"),
            ],
            log: &[],
        },
        Case {
            name: "client refused at connect without delay_reject",
            main_cf: "smtpd_delay_reject = no\nsmtpd_client_restrictions = permit_mynetworks, reject",
            client: "127.0.0.2",
            steps: &[
                ("", "554 5.7.1 <unknown[127.0.0.2]>: Client host rejected: Access denied"),
                ("EHLO c.example", "503 5.7.0 Error: access denied for unknown[127.0.0.2]"),
                ("MAIL FROM:<a@example.org>", "503 5.7.0 Error: access denied for unknown[127.0.0.2]"),
                ("QUIT", "221 2.0.0 Bye"),
            ],
            log: &["NOQUEUE: reject: CONNECT from unknown[127.0.0.2]: 554 5.7.1 <unknown[127.0.0.2]>: Client host rejected: Access denied; proto=SMTP"],
        },
        Case {
            name: "connection rate limit",
            main_cf: "smtpd_client_connection_rate_limit = 2",
            client: "127.0.0.2",
            steps: &[
                GREETING,
                ("QUIT", "221 2.0.0 Bye"),
                (RECONNECT, "220 mx.spec.test ESMTP Postfix"),
                (RECONNECT, "421 4.7.0 mx.spec.test Error: too many connections from 127.0.0.2"),
                ("", CLOSED),
            ],
            log: &["warning: Connection rate limit exceeded: 3 from unknown[127.0.0.2] for service smtp"],
        },
        Case {
            name: "connection limits spare smtpd_client_event_limit_exceptions",
            main_cf: "smtpd_client_connection_rate_limit = 1\nsmtpd_client_connection_count_limit = 1",
            client: "127.0.0.1",
            steps: &[
                GREETING,
                (RECONNECT, "220 mx.spec.test ESMTP Postfix"),
                (RECONNECT, "220 mx.spec.test ESMTP Postfix"),
            ],
            log: &[],
        },
        Case {
            name: "message rate limit",
            main_cf: "smtpd_client_message_rate_limit = 1",
            client: "127.0.0.2",
            steps: &[
                GREETING,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RSET", "250 2.0.0 Ok"),
                ("MAIL FROM:<a@example.org>", "450 4.7.1 Error: too much mail from 127.0.0.2"),
                ("MAIL FROM:", "501 5.5.4 Syntax: MAIL FROM:<address>"),
                ("QUIT", "221 2.0.0 Bye"),
            ],
            log: &[
                "warning: Message delivery request rate limit exceeded: 2 from unknown[127.0.0.2] for service smtp",
                "disconnect from unknown[127.0.0.2] ehlo=1 mail=1/3 rset=1 quit=1 commands=4/6",
            ],
        },
        Case {
            name: "recipient rate limit",
            main_cf: "smtpd_client_recipient_rate_limit = 2",
            client: "127.0.0.2",
            steps: &[
                GREETING,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ("RCPT TO:<carol@spec.test>", "250 2.1.5 Ok"),
                ("RCPT TO:<dave@spec.test>", "450 4.7.1 Error: too many recipients from 127.0.0.2"),
                ("QUIT", "221 2.0.0 Bye"),
            ],
            log: &["warning: Recipient address rate limit exceeded: 3 from unknown[127.0.0.2] for service smtp"],
        },
        Case {
            name: "queue file system short of space (queue_minfree)",
            main_cf: "queue_minfree = 1000000000000000000",
            client: "127.0.0.2",
            steps: &[
                GREETING,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "452 4.3.1 Insufficient system storage"),
                ("QUIT", "221 2.0.0 Bye"),
            ],
            log: &[
                "NOQUEUE: reject: MAIL from unknown[127.0.0.2]: 452 4.3.1 Insufficient system storage; proto=ESMTP helo=<c.example>",
                "warning: not enough free space in mail queue: ",
            ],
        },
        Case {
            name: "timeout after DATA counts the client's bytes only",
            main_cf: "smtpd_timeout = 1s",
            client: "127.0.0.2",
            steps: &[
                GREETING,
                ("EHLO c.example", "250 "),
                ("MAIL FROM:<a@example.org>", "250 2.1.0 Ok"),
                ("RCPT TO:<bob@spec.test>", "250 2.1.5 Ok"),
                ("DATA", "354 "),
                ("Subject: x\r\n\r\nbody", "421 4.4.2 mx.spec.test Error: timeout exceeded"),
            ],
            log: &["timeout after DATA (20 bytes) from unknown[127.0.0.2]"],
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_sessions() {
    let mut failures = Vec::new();
    for case in cases() {
        if let Err(e) = run_case(&case).await {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n--- log ---\n{}",
        failures.join("\n"),
        in_process_log_text()
    );
}

/// The tarpit: past `smtpd_soft_error_limit` every reply (positive ones
/// too) waits `smtpd_error_sleep_time`, counted, not timed (the sleep is 0
/// here); an error counts only after its own reply; a junk command is an
/// error from the one after the (limit+1)-th on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_tarpit_counts_sleeps() {
    let cases = [
        (
            Case {
                name: "errors delay the replies after the soft limit, positive ones too",
                main_cf: "smtpd_soft_error_limit = 2",
                client: "127.0.0.2",
                steps: &[
                    GREETING,
                    ("BOGUS", "500 5.5.2 Error: command not recognized"),
                    ("BOGUS", "500 5.5.2 Error: command not recognized"),
                    ("NOOP", "250 2.0.0 Ok"),
                    ("QUIT", "221 2.0.0 Bye"),
                ],
                log: &["disconnect from unknown[127.0.0.2] noop=1 quit=1 unknown=0/2 commands=2/4"],
            },
            2,
        ),
        (
            Case {
                name: "junk commands become errors one past the limit",
                main_cf: "smtpd_junk_command_limit = 2\nsmtpd_soft_error_limit = 1\nsmtpd_hard_error_limit = 2",
                client: "127.0.0.2",
                steps: &[
                    GREETING,
                    ("NOOP", "250 2.0.0 Ok"),
                    ("NOOP", "250 2.0.0 Ok"),
                    ("NOOP", "250 2.0.0 Ok"),
                    ("NOOP", "250 2.0.0 Ok"),
                    ("NOOP", "250 2.0.0 Ok"),
                    ("", "421 4.7.0 mx.spec.test Error: too many errors"),
                    ("", CLOSED),
                ],
                log: &["too many errors after NOOP from unknown[127.0.0.2]"],
            },
            2,
        ),
    ];
    for (case, sleeps) in cases {
        let ctx = match run_case(&case).await {
            Ok(ctx) => ctx,
            Err(e) => panic!("{}: {e}\n--- log ---\n{}", case.name, in_process_log_text()),
        };
        assert_eq!(ctx.error_sleeps(), sleeps, "{}", case.name);
    }
}

/// master.cf maxproc: with every session slot of the service taken the
/// next client waits (its greeting comes once a slot is free) and
/// master(8)'s warning is logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_limit_makes_clients_wait_and_warns() {
    in_process_log();
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::parse_main_cf(BASE_MAIN_CF, "main.cf").unwrap();
    let queue = Queue::open(dir.path()).unwrap();
    let rewriter = Arc::new(Rewriter::from_config(&cfg).unwrap());
    let ctx = Arc::new(ServerContext::new("smtp", &cfg, queue, rewriter).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = listener.local_addr().unwrap();
    let limit = gatepost_smtpd::SessionLimit::new(1, "smtp", "25");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(gatepost_smtpd::serve(listener, ctx, limit, async move {
        let _ = stopped.await;
    }));
    let connect = || async {
        let stream = tokio::net::TcpStream::connect(server).await.unwrap();
        let (read, write) = stream.into_split();
        (BufReader::new(read), write)
    };
    let (mut first_read, mut first_write) = connect().await;
    assert_eq!(read_reply(&mut first_read).await.unwrap(), [GREETING.1]);
    let (mut second_read, _second_write) = connect().await;
    let warning = "warning: service \"smtp\" (25) has reached its process limit \"1\": new clients may experience noticeable delays";
    let start = Instant::now();
    while !in_process_log_text().contains(warning) {
        assert!(start.elapsed() < EVENT_TIMEOUT, "log lacks {warning:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    send_line(&mut first_write, "QUIT").await.unwrap();
    assert_eq!(
        read_reply(&mut first_read).await.unwrap(),
        ["221 2.0.0 Bye"]
    );
    let greeting = tokio::time::timeout(Duration::from_secs(10), read_reply(&mut second_read))
        .await
        .expect("the waiting client is served once a slot is free")
        .unwrap();
    assert_eq!(greeting, [GREETING.1]);
    let _ = stop.send(());
    let _ = serving.await;
}

async fn run_case(case: &Case) -> Result<Arc<ServerContext>, String> {
    in_process_log();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let text = format!("{BASE_MAIN_CF}{}\n", case.main_cf);
    let cfg = Config::parse_main_cf(&text, "main.cf").map_err(|e| e.to_string())?;
    let queue = Queue::open(dir.path()).map_err(|e| e.to_string())?;
    let rewriter = Arc::new(Rewriter::from_config(&cfg).map_err(|e| e.to_string())?);
    let ctx =
        Arc::new(ServerContext::new("smtp", &cfg, queue, rewriter).map_err(|e| e.to_string())?);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let server = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(gatepost_smtpd::serve(
        listener,
        ctx.clone(),
        gatepost_smtpd::SessionLimit::new(10, "smtp", "25"),
        async move {
            let _ = stopped.await;
        },
    ));
    let outcome = talk(case, server).await;
    let _ = stop.send(());
    let _ = serving.await;
    outcome?;
    for line in case.log {
        // The session writes its last lines as it ends, which may be just
        // after the client saw the last reply.
        let start = Instant::now();
        while !in_process_log_text().contains(line) {
            if start.elapsed() > EVENT_TIMEOUT {
                return Err(format!("log lacks {line:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(ctx)
}

/// Connect from the case's address and run its steps.
async fn talk(case: &Case, server: SocketAddr) -> Result<(), String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    let source: SocketAddr = format!("{}:0", case.client)
        .parse()
        .map_err(|e| format!("{e}"))?;
    socket
        .bind(source)
        .map_err(|e| format!("bind {source}: {e}"))?;
    let stream = socket
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    for (i, (send, expect)) in case.steps.iter().enumerate() {
        if *send == RECONNECT {
            let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
            socket
                .bind(source)
                .map_err(|e| format!("bind {source}: {e}"))?;
            let stream = socket
                .connect(server)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let (r, w) = stream.into_split();
            (read, write) = (BufReader::new(r), w);
        } else if !send.is_empty() {
            send_line(&mut write, send)
                .await
                .map_err(|e| format!("step {i} ({send:?}): {e}"))?;
        }
        let got = tokio::time::timeout(Duration::from_secs(10), read_reply(&mut read))
            .await
            .map_err(|_| format!("step {i} ({send:?}): no reply"))?
            .map_err(|e| format!("step {i} ({send:?}): {e}"))?;
        let last = got.last().map(String::as_str).unwrap_or(CLOSED);
        if !last.starts_with(expect) {
            return Err(format!(
                "step {i}: sent {send:?}: expected a reply starting {expect:?}, got {got:?}"
            ));
        }
    }
    Ok(())
}

async fn send_line(write: &mut OwnedWriteHalf, line: &str) -> std::io::Result<()> {
    if line.ends_with('\n') {
        write.write_all(line.as_bytes()).await
    } else {
        write.write_all(format!("{line}\r\n").as_bytes()).await
    }
}

/// The lines of one (possibly multi-line) reply; empty when the server
/// closed the connection.
async fn read_reply(read: &mut BufReader<OwnedReadHalf>) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(lines);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        let more = line.as_bytes().get(3) == Some(&b'-');
        lines.push(line);
        if !more {
            return Ok(lines);
        }
    }
}
