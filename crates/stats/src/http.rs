//! A minimal HTTP/1.1 endpoint for the stats: `GET /metrics` (Prometheus text) and
//! `GET /stats.json` (the latest [`crate::IntervalRecord`]). Loopback by default.
//!
//! std only, one thread, one request per connection, short timeouts: a scraper or `weir top`
//! polling once a second is the whole load, and a slow client cannot hold the thread long.

use parking_lot::Mutex;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the endpoint serves; the stats thread replaces it each interval.
#[derive(Debug, Default)]
pub struct Published {
    /// Prometheus text.
    pub metrics: String,
    /// The latest interval record as JSON.
    pub json: String,
}

/// A running endpoint; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    /// Bind `listen` and serve `published` until dropped.
    ///
    /// # Errors
    /// If the address cannot be bound (in use, not local, no permission).
    pub fn start(listen: SocketAddr, published: Arc<Mutex<Published>>) -> std::io::Result<Server> {
        let listener = TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new().name("weir-http".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = serve(stream, &published);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })?;
        Ok(Server { addr, stop, handle: Some(handle) })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve(stream: TcpStream, published: &Mutex<Published>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Drain the headers.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", published.lock().metrics.clone()),
        ("GET", "/stats.json") => ("200 OK", "application/json", published.lock().json.clone()),
        ("GET", "/") => ("200 OK", "text/plain; charset=utf-8", "weir: /metrics (Prometheus), /stats.json\n".into()),
        ("GET", _) => ("404 Not Found", "text/plain; charset=utf-8", "not found: try /metrics or /stats.json\n".into()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n".into()),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_metrics_and_json_and_404() {
        let published = Arc::new(Mutex::new(Published { metrics: "weir_up 1\n".into(), json: "{}".into() }));
        let server = Server::start("127.0.0.1:0".parse().unwrap(), Arc::clone(&published)).unwrap();
        let m = get(server.addr(), "/metrics");
        assert!(m.starts_with("HTTP/1.1 200 OK") && m.ends_with("weir_up 1\n"), "{m}");
        published.lock().json = "{\"type\":\"interval\"}".into();
        let j = get(server.addr(), "/stats.json");
        assert!(j.contains("application/json") && j.ends_with("{\"type\":\"interval\"}"), "{j}");
        assert!(get(server.addr(), "/nope").starts_with("HTTP/1.1 404"));
    }
}
