//! The server's Prometheus endpoint seen from a test: where the server
//! said it listens, and one request over a real socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// Send `request` (a whole HTTP request) to `addr`; the whole response.
pub fn scrape(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The address the server logged for its endpoint (`metrics at http://…`).
pub fn metrics_addr(log: &str) -> SocketAddr {
    let url = log
        .lines()
        .find_map(|l| l.split("metrics at http://").nth(1))
        .expect("metrics line in the log");
    url.trim_end_matches("/metrics").parse().unwrap()
}
