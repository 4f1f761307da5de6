//! The Sendmail 8 milter wire format, sans I/O: command and reply codes,
//! the negotiation masks of protocol version 6, and the packet layout
//! (a 4-byte big-endian length, one command byte, the data).

/// Commands from the MTA to the filter.
pub mod cmd {
    pub const ABORT: u8 = b'A';
    pub const BODY: u8 = b'B';
    pub const CONNECT: u8 = b'C';
    pub const MACRO: u8 = b'D';
    pub const BODYEOB: u8 = b'E';
    pub const HELO: u8 = b'H';
    pub const HEADER: u8 = b'L';
    pub const MAIL: u8 = b'M';
    pub const EOH: u8 = b'N';
    pub const OPTNEG: u8 = b'O';
    pub const QUIT: u8 = b'Q';
    pub const RCPT: u8 = b'R';
    pub const DATA: u8 = b'T';
    pub const UNKNOWN: u8 = b'U';
}

/// Replies from the filter to the MTA.
pub mod reply {
    pub const ADDRCPT: u8 = b'+';
    pub const DELRCPT: u8 = b'-';
    pub const ADDRCPT_PAR: u8 = b'2';
    pub const SHUTDOWN: u8 = b'4';
    pub const ACCEPT: u8 = b'a';
    pub const REPLBODY: u8 = b'b';
    pub const CONTINUE: u8 = b'c';
    pub const DISCARD: u8 = b'd';
    pub const CHGFROM: u8 = b'e';
    pub const CONN_FAIL: u8 = b'f';
    pub const ADDHEADER: u8 = b'h';
    pub const INSHEADER: u8 = b'i';
    pub const CHGHEADER: u8 = b'm';
    pub const PROGRESS: u8 = b'p';
    pub const QUARANTINE: u8 = b'q';
    pub const REJECT: u8 = b'r';
    pub const SKIP: u8 = b's';
    pub const TEMPFAIL: u8 = b't';
    pub const REPLYCODE: u8 = b'y';
}

/// Events the filter may ask not to get, or not to answer (`SMFIP_*`).
pub mod step {
    pub const NOCONNECT: u32 = 1 << 0;
    pub const NOHELO: u32 = 1 << 1;
    pub const NOMAIL: u32 = 1 << 2;
    pub const NORCPT: u32 = 1 << 3;
    pub const NOBODY: u32 = 1 << 4;
    pub const NOHDRS: u32 = 1 << 5;
    pub const NOEOH: u32 = 1 << 6;
    pub const NR_HDR: u32 = 1 << 7;
    pub const NOUNKNOWN: u32 = 1 << 8;
    pub const NODATA: u32 = 1 << 9;
    pub const SKIP: u32 = 1 << 10;
    pub const NR_CONN: u32 = 1 << 12;
    pub const NR_HELO: u32 = 1 << 13;
    pub const NR_MAIL: u32 = 1 << 14;
    pub const NR_RCPT: u32 = 1 << 15;
    pub const NR_DATA: u32 = 1 << 16;
    pub const NR_UNKN: u32 = 1 << 17;
    pub const NR_EOH: u32 = 1 << 18;
    pub const NR_BODY: u32 = 1 << 19;
    pub const HDR_LEADSPC: u32 = 1 << 20;
}

/// Modifications the filter may make at end of message (`SMFIF_*`).
pub mod action {
    pub const ADDHDRS: u32 = 1 << 0;
    pub const CHGBODY: u32 = 1 << 1;
    pub const ADDRCPT: u32 = 1 << 2;
    pub const DELRCPT: u32 = 1 << 3;
    pub const CHGHDRS: u32 = 1 << 4;
    pub const QUARANTINE: u32 = 1 << 5;
    pub const CHGFROM: u32 = 1 << 6;
    pub const ADDRCPT_PAR: u32 = 1 << 7;
    pub const SETSYMLIST: u32 = 1 << 8;
    /// Everything gatepost carries out.
    pub const ALL: u32 = ADDHDRS
        | CHGBODY
        | ADDRCPT
        | DELRCPT
        | CHGHDRS
        | QUARANTINE
        | CHGFROM
        | ADDRCPT_PAR
        | SETSYMLIST;
}

/// The events of protocol versions 2 to 4 (what they may ask to skip).
pub const V2_STEPS: u32 = step::NOCONNECT
    | step::NOHELO
    | step::NOMAIL
    | step::NORCPT
    | step::NOBODY
    | step::NOHDRS
    | step::NOEOH;

/// What version 6 lets the filter ask for, as Postfix offers it (less
/// `SMFIP_RCPT_REJ`: rejected recipients are not shown to filters).
pub const V6_STEPS: u32 = V2_STEPS
    | step::NR_HDR
    | step::NOUNKNOWN
    | step::NODATA
    | step::SKIP
    | step::NR_CONN
    | step::NR_HELO
    | step::NR_MAIL
    | step::NR_RCPT
    | step::NR_DATA
    | step::NR_UNKN
    | step::NR_EOH
    | step::NR_BODY
    | step::HDR_LEADSPC;

/// Body chunk size (`MILTER_CHUNK_SIZE`).
pub const CHUNK_SIZE: usize = 65535;

/// Largest reply packet accepted (Postfix's `XXX_MAX_DATA`).
pub const MAX_PACKET: usize = CHUNK_SIZE * 2;

/// Symbol-list stage indexes of a version 6 negotiation reply.
pub const SYMLIST_STAGES: [u8; 7] = [
    cmd::CONNECT,
    cmd::HELO,
    cmd::MAIL,
    cmd::RCPT,
    cmd::DATA,
    cmd::BODYEOB,
    cmd::EOH,
];

/// One packet: length, command byte, data.
pub fn packet(command: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5);
    out.extend_from_slice(&(data.len() as u32 + 1).to_be_bytes());
    out.push(command);
    out.extend_from_slice(data);
    out
}

/// Appends a NUL-terminated string.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// Reads the data of a reply packet.
pub struct Data<'a> {
    rest: &'a [u8],
}

impl<'a> Data<'a> {
    pub fn new(rest: &'a [u8]) -> Data<'a> {
        Data { rest }
    }

    pub fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.rest.split_first_chunk::<4>()?;
        self.rest = rest;
        Some(u32::from_be_bytes(*head))
    }

    /// A NUL-terminated string (lossy UTF-8).
    pub fn string(&mut self) -> Option<String> {
        let end = self.rest.iter().position(|&b| b == 0)?;
        let s = String::from_utf8_lossy(&self.rest[..end]).into_owned();
        self.rest = &self.rest[end + 1..];
        Some(s)
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

/// Printable name of a command, for warnings (`SMFIC_BODYEOB`).
pub fn command_name(command: u8) -> &'static str {
    match command {
        cmd::ABORT => "SMFIC_ABORT",
        cmd::BODY => "SMFIC_BODY",
        cmd::CONNECT => "SMFIC_CONNECT",
        cmd::MACRO => "SMFIC_MACRO",
        cmd::BODYEOB => "SMFIC_BODYEOB",
        cmd::HELO => "SMFIC_HELO",
        cmd::HEADER => "SMFIC_HEADER",
        cmd::MAIL => "SMFIC_MAIL",
        cmd::EOH => "SMFIC_EOH",
        cmd::OPTNEG => "SMFIC_OPTNEG",
        cmd::QUIT => "SMFIC_QUIT",
        cmd::RCPT => "SMFIC_RCPT",
        cmd::DATA => "SMFIC_DATA",
        cmd::UNKNOWN => "SMFIC_UNKNOWN",
        _ => "(unknown MTA event)",
    }
}

/// Printable name of a reply.
pub fn reply_name(code: u8) -> &'static str {
    match code {
        reply::ADDRCPT => "SMFIR_ADDRCPT",
        reply::DELRCPT => "SMFIR_DELRCPT",
        reply::ADDRCPT_PAR => "SMFIR_ADDRCPT_PAR",
        reply::SHUTDOWN => "SMFIR_SHUTDOWN",
        reply::ACCEPT => "SMFIR_ACCEPT",
        reply::REPLBODY => "SMFIR_REPLBODY",
        reply::CONTINUE => "SMFIR_CONTINUE",
        reply::DISCARD => "SMFIR_DISCARD",
        reply::CHGFROM => "SMFIR_CHGFROM",
        reply::CONN_FAIL => "SMFIR_CONN_FAIL",
        reply::ADDHEADER => "SMFIR_ADDHEADER",
        reply::INSHEADER => "SMFIR_INSHEADER",
        reply::CHGHEADER => "SMFIR_CHGHEADER",
        reply::PROGRESS => "SMFIR_PROGRESS",
        reply::QUARANTINE => "SMFIR_QUARANTINE",
        reply::REJECT => "SMFIR_REJECT",
        reply::SKIP => "SMFIR_SKIP",
        reply::TEMPFAIL => "SMFIR_TEMPFAIL",
        reply::REPLYCODE => "SMFIR_REPLYCODE",
        _ => "(unknown filter reply)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_layout() {
        assert_eq!(packet(cmd::QUIT, b""), vec![0, 0, 0, 1, b'Q']);
        let mut data = Vec::new();
        put_str(&mut data, "ab");
        assert_eq!(
            packet(cmd::HELO, &data),
            vec![0, 0, 0, 4, b'H', b'a', b'b', 0]
        );
    }

    #[test]
    fn data_reader() {
        let mut d = Data::new(&[0, 0, 0, 7, b'x', 0, b'y']);
        assert_eq!(d.u32(), Some(7));
        assert_eq!(d.string().as_deref(), Some("x"));
        assert_eq!(d.string(), None);
    }
}
