//! The stats endpoint: `GET /metrics` (Prometheus text) and `GET /stats.json` (the latest
//! [`crate::IntervalRecord`]). Loopback by default.
//!
//! HTTP/1.1 by hyper on one thread of its own (`weir-http`) running a single-threaded tokio
//! runtime: the data path stays plain threads, and the endpoint gets an event loop that holds
//! thousands of idle connections without a thread each, so a local process that opens sockets
//! and waits cannot blind the scraper. The limits ([`Limits`]):
//!
//! - at most `max_connections` open at once; a new connection beyond that evicts the oldest one
//!   that has not yet completed a request (else the oldest), so the newest client always gets in;
//! - the request head (request line and headers) must arrive within `header_timeout`, else the
//!   connection is closed; the same bound applies to an idle keep-alive connection;
//! - the head may be at most `max_head_bytes` (then 431) with at most `max_headers` headers;
//!   garbage gets 400 (hyper's parser); a request that announces a body larger than
//!   `max_body_bytes` gets 413 and a close; methods other than GET and HEAD get 405;
//! - a connection lives at most `max_lifetime`; then it is shut down gracefully (the response
//!   in flight finishes) and closed after `header_timeout` more at the latest, which bounds a
//!   client that never reads its response.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, TRANSFER_ENCODING};
use hyper::{Method, Request, Response, StatusCode};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// What the endpoint serves; the stats thread replaces it each interval.
#[derive(Debug, Default)]
pub struct Published {
    /// Prometheus text.
    pub metrics: String,
    /// The latest interval record as JSON.
    pub json: String,
}

/// The endpoint's limits (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; beyond it the oldest idle one is closed.
    pub max_connections: usize,
    /// Time allowed for the request head to arrive (also the idle keep-alive bound).
    pub header_timeout: Duration,
    /// Largest request head in bytes (hyper's read buffer; at least 8192).
    pub max_head_bytes: usize,
    /// Most request headers.
    pub max_headers: usize,
    /// Largest request body announced; the endpoint has no use for bodies.
    pub max_body_bytes: u64,
    /// Longest a connection may stay open.
    pub max_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(5),
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 1024,
            max_lifetime: Duration::from_secs(60),
        }
    }
}

/// What the endpoint has done, for tests and the log.
#[derive(Debug, Default)]
pub struct ServerCounters {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections closed to make room for a new one.
    pub evicted: AtomicU64,
    /// Requests answered (any status).
    pub requests: AtomicU64,
    /// Connections that ended in an HTTP error (bad request, head timeout, reset, ...).
    pub errors: AtomicU64,
}

/// A running endpoint; stops when dropped (every connection is closed).
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    counters: Arc<ServerCounters>,
}

/// A function the server's thread runs first, before it serves anything (weir drops every
/// capability there: the thread facing the network needs none).
pub type ThreadInit = Box<dyn FnOnce() + Send>;

impl Server {
    /// Bind `listen` and serve `published` with the default [`Limits`] until dropped.
    ///
    /// # Errors
    /// If the address cannot be bound (in use, not local, no permission).
    pub fn start(listen: SocketAddr, published: Arc<Mutex<Published>>) -> std::io::Result<Server> {
        Server::start_with(listen, published, Limits::default(), None)
    }

    /// Bind `listen` (before returning, so a busy port is the caller's error) and serve
    /// `published` under `limits` on a thread of its own, which runs `init` first.
    ///
    /// # Errors
    /// If the address cannot be bound, or the thread or its runtime cannot start.
    pub fn start_with(
        listen: SocketAddr,
        published: Arc<Mutex<Published>>,
        limits: Limits,
        init: Option<ThreadInit>,
    ) -> std::io::Result<Server> {
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let counters = Arc::new(ServerCounters::default());
        let c = Arc::clone(&counters);
        let handle = std::thread::Builder::new().name("weir-http".into()).spawn(move || {
            if let Some(init) = init {
                init();
            }
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => {
                        tokio::select! {
                            () = accept_loop(listener, published, limits, c) => {}
                            _ = stop_rx => {}
                        }
                    }
                    Err(e) => eprintln!("weir: level=error event=http-endpoint-failed error=\"{e}\""),
                }
            });
            // Dropping the runtime here drops every connection task: all sockets close.
        })?;
        Ok(Server { addr, stop: Some(stop_tx), handle: Some(handle), counters })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the endpoint has done so far.
    pub fn counters(&self) -> &ServerCounters {
        &self.counters
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The open connections, oldest first (ids grow), each with whether it completed a request and
/// the sender whose drop closes it.
#[derive(Default)]
struct Connections {
    open: BTreeMap<u64, (Arc<std::sync::atomic::AtomicBool>, oneshot::Sender<()>)>,
}

impl Connections {
    /// Close the oldest connection that has not completed a request, else the oldest.
    fn evict_one(&mut self) -> bool {
        let victim = self
            .open
            .iter()
            .find(|(_, (served, _))| !served.load(Ordering::Relaxed))
            .or_else(|| self.open.iter().next())
            .map(|(id, _)| *id);
        // Dropping the sender wakes the connection's task, which then drops the socket.
        victim.and_then(|id| self.open.remove(&id)).is_some()
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    published: Arc<Mutex<Published>>,
    limits: Limits,
    counters: Arc<ServerCounters>,
) {
    let conns = Arc::new(Mutex::new(Connections::default()));
    let mut next_id = 0u64;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_head_bytes.max(8192))
        .max_headers(limits.max_headers)
        .keep_alive(true);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors (or a transient accept error): free one and retry soon.
                if conns.lock().evict_one() {
                    counters.evicted.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let id = next_id;
        next_id += 1;
        let served = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (close_tx, close_rx) = oneshot::channel::<()>();
        {
            let mut c = conns.lock();
            while c.open.len() >= limits.max_connections.max(1) && c.evict_one() {
                counters.evicted.fetch_add(1, Ordering::Relaxed);
            }
            c.open.insert(id, (Arc::clone(&served), close_tx));
        }
        let svc = {
            let (published, served, counters) = (Arc::clone(&published), Arc::clone(&served), Arc::clone(&counters));
            hyper::service::service_fn(move |req| {
                let response = respond(&req, &published, limits);
                served.store(true, Ordering::Relaxed);
                counters.requests.fetch_add(1, Ordering::Relaxed);
                std::future::ready(Ok::<_, std::convert::Infallible>(response))
            })
        };
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
        let (conns, counters) = (Arc::clone(&conns), Arc::clone(&counters));
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let ended = tokio::select! {
                r = conn.as_mut() => Some(r),
                _ = close_rx => None,
                () = tokio::time::sleep(limits.max_lifetime) => {
                    // Let the response in flight finish, then close; bounded.
                    conn.as_mut().graceful_shutdown();
                    tokio::time::timeout(limits.header_timeout, conn.as_mut()).await.ok()
                }
            };
            if let Some(Err(_)) = ended {
                counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            conns.lock().open.remove(&id);
        });
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// The answer to one request. Never reads the body: a request announcing more than
/// `max_body_bytes`, or a chunked one, gets 413 and the connection closes.
fn respond(req: &Request<Incoming>, published: &Mutex<Published>, limits: Limits) -> Response<Full<Bytes>> {
    let announced =
        req.headers().get(CONTENT_LENGTH).map(|v| v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()));
    let too_large = match announced {
        Some(Some(n)) => n > limits.max_body_bytes,
        Some(None) => true,
        None => req.headers().contains_key(TRANSFER_ENCODING),
    };
    if too_large {
        let mut r = text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large: the endpoint takes none\n");
        r.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let (ctype, body) = match req.uri().path() {
        "/metrics" => ("text/plain; version=0.0.4; charset=utf-8", Bytes::from(published.lock().metrics.clone())),
        "/stats.json" => ("application/json", Bytes::from(published.lock().json.clone())),
        "/" => return text(StatusCode::OK, "weir: /metrics (Prometheus), /stats.json\n"),
        _ => return text(StatusCode::NOT_FOUND, "not found: try /metrics or /stats.json\n"),
    };
    let len = body.len();
    let mut r = Response::new(Full::new(if head { Bytes::new() } else { body }));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    if head {
        r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    fn server(limits: Limits) -> (Server, Arc<Mutex<Published>>) {
        let published = Arc::new(Mutex::new(Published { metrics: "weir_up 1\n".into(), json: "{}".into() }));
        let s = Server::start_with("127.0.0.1:0".parse().unwrap(), Arc::clone(&published), limits, None).unwrap();
        (s, published)
    }

    /// Send `raw`, read until the server closes (or 10 s pass), return what came back.
    fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(raw).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        exchange(addr, format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
    }

    #[test]
    fn serves_metrics_and_json_and_404() {
        let (server, published) = server(Limits::default());
        let m = get(server.addr(), "/metrics");
        assert!(m.starts_with("HTTP/1.1 200 OK") && m.ends_with("weir_up 1\n"), "{m}");
        assert!(m.contains("text/plain; version=0.0.4"), "{m}");
        published.lock().json = "{\"type\":\"interval\"}".into();
        let j = get(server.addr(), "/stats.json?x=1");
        assert!(j.contains("application/json") && j.ends_with("{\"type\":\"interval\"}"), "{j}");
        assert!(get(server.addr(), "/nope").starts_with("HTTP/1.1 404"));
        let head = exchange(server.addr(), b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200") && head.contains("content-length: 10") && !head.contains("weir_up"));
        let post = exchange(server.addr(), b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405") && post.contains("allow: GET, HEAD"), "{post}");
    }

    #[test]
    fn keep_alive_serves_several_requests_on_one_connection() {
        let (server, _) = server(Limits::default());
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /stats.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
        assert!(out.ends_with("{}"), "{out}");
    }

    #[test]
    fn garbage_oversized_and_bodies_are_refused() {
        let (server, _) = server(Limits::default());
        let garbage = exchange(server.addr(), b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 not http\r\n\r\n");
        assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage:?}");
        let bad_line = exchange(server.addr(), b"GET\r\n\r\n");
        assert!(bad_line.starts_with("HTTP/1.1 400"), "{bad_line:?}");
        let big = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n", "a".repeat(64 * 1024));
        let big = exchange(server.addr(), big.as_bytes());
        assert!(big.starts_with("HTTP/1.1 431"), "{:?}", &big[..big.len().min(80)]);
        let many: String = (0..200).map(|i| format!("X-{i}: y\r\n")).collect();
        let many = exchange(server.addr(), format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes());
        assert!(many.starts_with("HTTP/1.1 431"), "{many:?}");
        let body = exchange(server.addr(), b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc");
        assert!(body.starts_with("HTTP/1.1 413") && body.contains("connection: close"), "{body}");
        let chunked =
            exchange(server.addr(), b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n");
        assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
        // Still serving.
        assert!(get(server.addr(), "/metrics").starts_with("HTTP/1.1 200"));
    }

    #[test]
    fn slow_and_silent_clients_are_closed_at_the_header_timeout() {
        let limits = Limits { header_timeout: Duration::from_millis(300), ..Limits::default() };
        let (server, _) = server(limits);
        // Silent: connects and sends nothing.
        let mut silent = TcpStream::connect(server.addr()).unwrap();
        silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // Slow: one byte of a request line at a time, too slowly to finish.
        let mut slow = TcpStream::connect(server.addr()).unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        for b in b"GET /met" {
            let _ = slow.write_all(&[*b]);
            std::thread::sleep(Duration::from_millis(60));
        }
        let mut buf = [0u8; 256];
        // Closed by the server (0 bytes or a reset), not by our 10 s read timeout.
        assert!(matches!(silent.read(&mut buf), Ok(0) | Err(_)));
        assert!(matches!(slow.read(&mut buf), Ok(0) | Err(_)));
        assert!(started.elapsed() < Duration::from_secs(9), "closed by the server, not by the client's timeout");
        assert!(get(server.addr(), "/metrics").starts_with("HTTP/1.1 200"));
        assert!(server.counters().errors.load(Ordering::Relaxed) >= 2);
    }

    #[test]
    fn answers_while_a_thousand_idle_connections_are_open() {
        // Both ends of 1,000 connections live in this process: make room for 2,000+ descriptors.
        let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard).unwrap();
        assert!(hard >= 2100, "RLIMIT_NOFILE hard limit {hard} is too low for this test");
        let (server, _) = server(Limits::default());
        let idle: Vec<TcpStream> = (0..1000).map(|_| TcpStream::connect(server.addr()).unwrap()).collect();
        // Some send half a request head and stop.
        for s in idle.iter().take(300) {
            let _ = (&*s).write_all(b"GET /metrics HTTP/1.1\r\nHost");
        }
        for path in ["/metrics", "/stats.json", "/metrics"] {
            let r = get(server.addr(), path);
            assert!(r.starts_with("HTTP/1.1 200"), "{path}: {r}");
        }
        // None of the idle ones was closed to make room: they are under the limit.
        assert_eq!(server.counters().evicted.load(Ordering::Relaxed), 0);
        drop(idle);
    }

    #[test]
    fn beyond_the_connection_limit_the_oldest_idle_connection_makes_room() {
        let limits = Limits { max_connections: 50, ..Limits::default() };
        let (server, _) = server(limits);
        let mut idle: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(server.addr()).unwrap()).collect();
        // Wait until the server has accepted all 50.
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.counters().accepted.load(Ordering::Relaxed) < 50 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let r = get(server.addr(), "/metrics");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(server.counters().evicted.load(Ordering::Relaxed) >= 1);
        // The first idle connection was the one closed.
        idle[0].set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 16];
        assert!(matches!(idle[0].read(&mut buf), Ok(0) | Err(_)));
        idle.clear();
    }

    #[test]
    fn dropping_the_server_closes_its_connections() {
        let (server, _) = server(Limits::default());
        let addr = server.addr();
        let mut c = TcpStream::connect(addr).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.counters().accepted.load(Ordering::Relaxed) < 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(server);
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 16];
        assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)));
        assert!(TcpStream::connect(addr).is_err(), "the port is free again");
    }
}
