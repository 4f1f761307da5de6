//! The byte format of the messages between the unprivileged server, the
//! privileged local delivery helper and its store processes: integers big-endian, strings and byte strings length-prefixed (u32).
//! Frames on a pipe are a u32 length and that many bytes.

use std::io::{Read, Write};

use gatepost_qmgr::DeliveryStatus;

use crate::verdict::Verdict;

/// A malformed or truncated message.
#[derive(Debug, thiserror::Error)]
#[error("malformed request from {0}")]
pub(crate) struct WireError(pub &'static str);

/// Largest frame accepted (a message plus its envelope).
const MAX_FRAME: usize = 1 << 30;

#[derive(Default)]
pub(crate) struct Enc(pub Vec<u8>);

impl Enc {
    pub fn u8(&mut self, v: u8) -> &mut Enc {
        self.0.push(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Enc {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(&mut self, v: u64) -> &mut Enc {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bytes(&mut self, v: &[u8]) -> &mut Enc {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(v);
        self
    }
    pub fn str(&mut self, v: &str) -> &mut Enc {
        self.bytes(v.as_bytes())
    }
    /// A byte string written in place by `f` (as `bytes` of what `f`
    /// writes, without building it apart and copying it in).
    pub fn nested(&mut self, f: impl FnOnce(&mut Enc)) -> &mut Enc {
        let at = self.0.len();
        self.u32(0);
        f(self);
        let len = u32::try_from(self.0.len() - at - 4).unwrap_or(u32::MAX);
        self.0[at..at + 4].copy_from_slice(&len.to_be_bytes());
        self
    }
    pub fn verdict(&mut self, v: &Verdict) -> &mut Enc {
        self.u8(match v.status {
            DeliveryStatus::Sent => 0,
            DeliveryStatus::Deferred => 1,
            DeliveryStatus::Bounced => 2,
        })
        .str(&v.dsn)
        .str(&v.text)
    }
}

pub(crate) struct Dec<'a> {
    buf: &'a [u8],
    from: &'static str,
}

impl<'a> Dec<'a> {
    pub fn new(buf: &'a [u8], from: &'static str) -> Dec<'a> {
        Dec { buf, from }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(WireError(self.from));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self) -> Result<u64, WireError> {
        let hi = u64::from(self.u32()?);
        Ok(hi << 32 | u64::from(self.u32()?))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    pub fn string(&mut self) -> Result<String, WireError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| WireError(self.from))
    }
    pub fn verdict(&mut self) -> Result<Verdict, WireError> {
        let status = self.u8()?;
        let dsn = self.string()?;
        let text = self.string()?;
        match status {
            0 => Ok(Verdict::sent(&dsn, text)),
            1 => Ok(Verdict::deferred(&dsn, text)),
            2 => Ok(Verdict::bounced(&dsn, text)),
            _ => Err(WireError(self.from)),
        }
    }
}

/// Write one frame.
pub(crate) fn write_frame(out: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(body.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// Read one frame; `None` at a clean end of input.
pub(crate) fn read_frame(input: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    // Read into reserved, not zeroed, memory: a frame can hold a whole
    // message, and zeroing it first would be one more pass over it.
    let mut body = Vec::with_capacity(len);
    input.by_ref().take(len as u64).read_to_end(&mut body)?;
    if body.len() < len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut e = Enc::default();
        e.u8(7)
            .u64(1 << 40)
            .str("bob")
            .verdict(&Verdict::deferred("4.2.0", "x"));
        let mut framed = Vec::new();
        write_frame(&mut framed, &e.0).unwrap();
        let body = read_frame(&mut framed.as_slice()).unwrap().unwrap();
        let mut d = Dec::new(&body, "test");
        assert_eq!(d.u8().unwrap(), 7);
        assert_eq!(d.u64().unwrap(), 1 << 40);
        assert_eq!(d.string().unwrap(), "bob");
        assert_eq!(d.verdict().unwrap(), Verdict::deferred("4.2.0", "x"));
        assert!(d.u8().is_err());
        assert!(read_frame(&mut &[][..]).unwrap().is_none());
    }

    #[test]
    fn a_nested_string_reads_as_bytes() {
        let mut e = Enc::default();
        e.u8(7).nested(|e| {
            e.str("ab").u32(3);
        });
        e.str("after");
        let mut d = Dec::new(&e.0, "test");
        assert_eq!(d.u8().unwrap(), 7);
        let mut inner = Dec::new(d.bytes().unwrap(), "test");
        assert_eq!(inner.string().unwrap(), "ab");
        assert_eq!(inner.u32().unwrap(), 3);
        assert_eq!(d.string().unwrap(), "after");
    }

    #[test]
    fn a_frame_cut_short_is_an_error_not_a_shorter_frame() {
        let mut framed = Vec::new();
        write_frame(&mut framed, b"0123456789").unwrap();
        framed.truncate(framed.len() - 3);
        let err = read_frame(&mut framed.as_slice()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        // Two frames back to back are read one at a time.
        let mut two = Vec::new();
        write_frame(&mut two, b"first").unwrap();
        write_frame(&mut two, b"second").unwrap();
        let mut input = two.as_slice();
        assert_eq!(read_frame(&mut input).unwrap().unwrap(), b"first");
        assert_eq!(read_frame(&mut input).unwrap().unwrap(), b"second");
        assert!(read_frame(&mut input).unwrap().is_none());
    }
}
