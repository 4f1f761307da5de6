//! Sending one question to the name servers: UDP first, TCP when the reply
//! is truncated; each try bounded by the query timeout, servers tried in
//! order, `attempts` rounds. A reply is accepted only when its id, QR bit
//! and question match ours (spoofed or stray datagrams are ignored).
//! Replies are read into a 64 KiB buffer (the protocol maximum); SERVFAIL
//! and REFUSED make us try the next server, as libresolv does.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout, Instant};

/// Why no usable reply came back (always a temporary failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("timeout")]
    Timeout,
    #[error("{0}")]
    Network(String),
    #[error("unparsable reply: {0}")]
    Unparsable(String),
}

fn build_query(name: &Name, rtype: RecordType, id: u16) -> Message {
    let mut msg = Message::new();
    msg.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name.clone(), rtype));
    msg
}

fn matches(reply: &Message, id: u16, name: &Name, rtype: RecordType) -> bool {
    // `Name` equality is case-insensitive.
    reply.id() == id
        && reply.message_type() == MessageType::Response
        && reply
            .queries()
            .first()
            .is_some_and(|q| q.query_type() == rtype && q.name() == name)
}

async fn udp_try(
    server: SocketAddr,
    packet: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
    limit: Duration,
) -> Result<Message, TransportError> {
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let net = |e: std::io::Error| TransportError::Network(e.to_string());
    let sock = UdpSocket::bind(bind).await.map_err(net)?;
    sock.connect(server).await.map_err(net)?;
    sock.send(packet).await.map_err(net)?;
    let deadline = Instant::now() + limit;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => return Err(TransportError::Timeout),
            Ok(Err(e)) => return Err(net(e)),
            Ok(Ok(n)) => n,
        };
        let Some(data) = buf.get(..n) else { continue };
        match Message::from_vec(data) {
            Ok(reply) if matches(&reply, id, name, rtype) => return Ok(reply),
            // Not ours (or garbage from a stranger): keep waiting.
            Ok(_) => continue,
            Err(e) => {
                // Only a garbled reply that carries our id counts as ours.
                if data.len() >= 2 && u16::from_be_bytes([data[0], data[1]]) == id {
                    return Err(TransportError::Unparsable(e.to_string()));
                }
            }
        }
    }
}

async fn tcp_try(
    server: SocketAddr,
    packet: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
    limit: Duration,
) -> Result<Message, TransportError> {
    let net = |e: std::io::Error| TransportError::Network(e.to_string());
    let work = async {
        let mut stream = TcpStream::connect(server).await.map_err(net)?;
        let len = u16::try_from(packet.len())
            .map_err(|_| TransportError::Network("query too long".to_string()))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(packet);
        stream.write_all(&framed).await.map_err(net)?;
        let mut len_buf = [0u8; 2];
        stream.read_exact(&mut len_buf).await.map_err(net)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len_buf))];
        stream.read_exact(&mut body).await.map_err(net)?;
        let reply =
            Message::from_vec(&body).map_err(|e| TransportError::Unparsable(e.to_string()))?;
        if matches(&reply, id, name, rtype) {
            Ok(reply)
        } else {
            Err(TransportError::Unparsable(
                "reply does not match query".to_string(),
            ))
        }
    };
    timeout(limit, work)
        .await
        .unwrap_or(Err(TransportError::Timeout))
}

/// Ask `servers` for (`name`, `rtype`). Returns the first reply that is
/// not SERVFAIL/REFUSED, else the last such reply, else the last error.
pub async fn exchange(
    servers: &[SocketAddr],
    name: &Name,
    rtype: RecordType,
    limit: Duration,
    attempts: u32,
) -> Result<Message, TransportError> {
    let mut last: Result<Message, TransportError> =
        Err(TransportError::Network("no name servers".to_string()));
    for _ in 0..attempts.max(1) {
        for &server in servers {
            let id: u16 = rand::random();
            let packet = build_query(name, rtype, id)
                .to_vec()
                .map_err(|e| TransportError::Network(e.to_string()))?;
            let mut reply = udp_try(server, &packet, id, name, rtype, limit).await;
            if let Ok(m) = &reply {
                if m.truncated() {
                    reply = tcp_try(server, &packet, id, name, rtype, limit).await;
                }
            }
            match reply {
                Ok(m)
                    if matches!(
                        m.response_code(),
                        ResponseCode::ServFail | ResponseCode::Refused
                    ) =>
                {
                    last = Ok(m);
                }
                Ok(m) => return Ok(m),
                Err(e) => {
                    if last.is_err() {
                        last = Err(e);
                    }
                }
            }
        }
        if matches!(&last, Ok(m) if m.response_code() == ResponseCode::Refused) {
            break;
        }
    }
    last
}
