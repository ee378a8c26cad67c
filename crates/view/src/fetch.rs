//! A minimal HTTP/1.1 GET for the bridge's loopback stats endpoint: no TLS, no redirects, one
//! request per connection (`Connection: close`), a body framed by `Content-Length`, chunked
//! transfer coding, or the end of the stream. Every step has a timeout, so a hung endpoint costs
//! at most a few seconds and never blocks `weir top`'s keys (it polls on its own thread).

use crate::ViewError;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;
use weir_stats::IntervalRecord;

/// Largest response accepted; a stats record is a few kilobytes.
const MAX_RESPONSE: u64 = 16 << 20;

/// Where to poll: host, port and path of an `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address as written (IPv6 without brackets).
    pub host: String,
    /// TCP port (80 when the URL names none).
    pub port: u16,
    /// Path with query, starting with `/`.
    pub path: String,
}

impl Endpoint {
    /// Parse `http://HOST[:PORT][/PATH]`. An empty path or `/` becomes `/stats.json`.
    ///
    /// # Errors
    /// [`ViewError::BadUrl`] for another scheme, an empty host or a bad port.
    pub fn parse(url: &str) -> Result<Endpoint, ViewError> {
        let bad = || ViewError::BadUrl { url: url.to_string() };
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.contains(['@', ' ']) {
            return Err(bad());
        }
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| bad())?,
            None => 80,
        };
        let path = if path.is_empty() || path == "/" { "/stats.json".to_string() } else { path.to_string() };
        Ok(Endpoint { host: host.to_string(), port, path })
    }

    /// `http://host:port/path`, for messages.
    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            format!("http://{}:{}{}", self.host, self.port, self.path)
        }
    }

    /// GET the path and parse the body as an [`IntervalRecord`]; `Ok(None)` for an empty body
    /// (a bridge that has not finished its first interval yet).
    ///
    /// # Errors
    /// [`FetchError`] with a one-line description, for the status line.
    pub fn fetch_record(&self, timeout: Duration) -> Result<Option<IntervalRecord>, FetchError> {
        record_from_body(&self.get(timeout)?)
    }

    /// GET the path; the body of a `200` response.
    ///
    /// # Errors
    /// [`FetchError::Unreachable`] when no answer came, [`FetchError::BadResponse`] for a bad one.
    pub fn get(&self, timeout: Duration) -> Result<Vec<u8>, FetchError> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| FetchError::Unreachable(format!("cannot resolve {}: {e}", self.host)))?
            .collect();
        let mut last = format!("{} resolves to no address", self.host);
        let mut stream = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("cannot connect to {a}: {e}"),
            }
        }
        let mut stream = stream.ok_or(FetchError::Unreachable(last))?;
        let io = |e: std::io::Error| FetchError::Unreachable(format!("{}: {e}", self.url()));
        stream.set_read_timeout(Some(timeout)).map_err(io)?;
        stream.set_write_timeout(Some(timeout)).map_err(io)?;
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}:{}\r\nAccept: application/json\r\nConnection: close\r\nUser-Agent: weir-top\r\n\r\n",
            self.path, host, self.port
        );
        stream.write_all(request.as_bytes()).map_err(io)?;
        let mut raw = Vec::new();
        stream.take(MAX_RESPONSE + 1).read_to_end(&mut raw).map_err(io)?;
        if raw.is_empty() {
            return Err(FetchError::Unreachable(format!("{}: the connection closed without an answer", self.url())));
        }
        if raw.len() as u64 > MAX_RESPONSE {
            return Err(FetchError::BadResponse(format!("{}: response larger than {MAX_RESPONSE} bytes", self.url())));
        }
        parse_response(&raw).map_err(|e| FetchError::BadResponse(format!("{}: {e}", self.url())))
    }
}

/// Why a poll failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// No answer: the name did not resolve, the connection was refused or timed out, or it broke.
    Unreachable(String),
    /// An answer that is not a stats record: a bad status, bad framing, or not a record.
    BadResponse(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Unreachable(m) => write!(f, "endpoint unreachable: {m}"),
            FetchError::BadResponse(m) => write!(f, "bad answer from the endpoint: {m}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// A record from a `/stats.json` body; `Ok(None)` for an empty body.
///
/// # Errors
/// [`FetchError::BadResponse`] when the body is not a stats record.
pub fn record_from_body(body: &[u8]) -> Result<Option<IntervalRecord>, FetchError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| FetchError::BadResponse(format!("the response is not a stats record: {e}")))
}

/// The body of a complete HTTP/1.x response held in `raw`, if its status is 200.
///
/// # Errors
/// A description of a bad status line, a non-200 status, or bad framing.
pub fn parse_response(raw: &[u8]) -> Result<Vec<u8>, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no complete response header")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the response header is not UTF-8")?;
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x response: {status:?}"));
    }
    if code != "200" {
        return Err(format!("HTTP status {}", status.get(version.len() + 1..).unwrap_or(code)));
    }
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| format!("bad Content-Length {value:?}"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    if chunked {
        return dechunk(body);
    }
    match length {
        Some(n) => {
            body.get(..n).map(<[u8]>::to_vec).ok_or_else(|| format!("body cut short: {} of {n} bytes", body.len()))
        }
        None => Ok(body.to_vec()),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = body.windows(2).position(|w| w == b"\r\n").ok_or("chunk size line cut short")?;
        let line = std::str::from_utf8(&body[..eol]).map_err(|_| "bad chunk size line")?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {hex:?}"))?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("chunk cut short")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or("chunk cut short")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_to_host_port_and_default_path() {
        let e = Endpoint::parse("http://127.0.0.1:9754").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("127.0.0.1", 9754, "/stats.json"));
        assert_eq!(Endpoint::parse("http://127.0.0.1:9754/").unwrap().path, "/stats.json");
        assert_eq!(Endpoint::parse("http://localhost/x.json?a=1").unwrap().path, "/x.json?a=1");
        assert_eq!(Endpoint::parse("http://localhost/x.json").unwrap().port, 80);
        let v6 = Endpoint::parse("http://[::1]:9754").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9754));
        assert_eq!(v6.url(), "http://[::1]:9754/stats.json");
        for bad in [
            "https://x:1",
            "127.0.0.1:9754",
            "http://:80",
            "http://h:99999",
            "http://h:x",
            "http://[::1",
            "http://a@b:1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses_are_framed_by_length_chunks_or_close() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}trailing";
        assert_eq!(parse_response(ok).unwrap(), b"{}");
        let close = b"HTTP/1.0 200 OK\r\n\r\n{\"a\":1}";
        assert_eq!(parse_response(close).unwrap(), b"{\"a\":1}");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn bad_responses_say_why() {
        assert!(parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n").unwrap_err().contains("404 Not Found"));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}").unwrap_err().contains("cut short"));
        assert!(parse_response(b"SSH-2.0-x\r\n\r\n").unwrap_err().contains("not an HTTP"));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab").is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        const ALPHABET: &[u8] = b"HTTP/1.1 200\r\n:0123456789abcdefContent-Length chunked Transfer-Encoding";
        let mut x: u32 = 12345;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    ALPHABET[(x >> 16) as usize % ALPHABET.len()]
                })
                .collect();
            let _ = parse_response(&bytes);
        }
    }

    #[test]
    fn a_refused_connection_is_an_error_not_a_hang() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let err = e.fetch_record(Duration::from_millis(500)).unwrap_err();
        assert!(matches!(&err, FetchError::Unreachable(m) if m.contains("cannot connect")), "{err:?}");
        assert!(err.to_string().starts_with("endpoint unreachable: cannot connect to 127.0.0.1:"), "{err}");
    }

    #[test]
    fn an_empty_body_is_no_record_yet_and_a_wrong_one_is_a_bad_answer() {
        assert_eq!(record_from_body(b""), Ok(None));
        assert_eq!(record_from_body(b" \n"), Ok(None));
        let r = IntervalRecord { kind: "interval".into(), uptime_s: 2.0, ..Default::default() };
        assert_eq!(record_from_body(serde_json::to_string(&r).unwrap().as_bytes()), Ok(Some(r)));
        let e = record_from_body(b"{}").unwrap_err();
        assert!(e.to_string().starts_with("bad answer from the endpoint: the response is not a stats record"), "{e}");
    }

    #[test]
    fn a_record_with_classes_parses_and_one_from_a_bridge_without_them_too() {
        let mut r = IntervalRecord { kind: "interval".into(), ..Default::default() };
        r.classes.push(weir_stats::ClassStats { name: "p2p-day".into(), kind: "shape".into(), ..Default::default() });
        r.policy.generation = 2;
        assert_eq!(record_from_body(serde_json::to_string(&r).unwrap().as_bytes()), Ok(Some(r)));
        // An older bridge writes neither `classes`, `policy` nor the interfaces' shaper fields.
        let mut old = serde_json::to_value(IntervalRecord { kind: "interval".into(), ..Default::default() }).unwrap();
        old.as_object_mut().unwrap().remove("policy");
        let got = record_from_body(old.to_string().as_bytes()).unwrap().unwrap();
        assert!(got.classes.is_empty() && got.policy.generation == 0);
    }
}
