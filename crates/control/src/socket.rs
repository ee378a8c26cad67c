//! The local control socket: a Unix stream socket only its owner can use, and the client
//! `weir reload` runs.
//!
//! Protocol: the client sends one command line (`reload` or `status`) and reads the reply to
//! the end: a first line `ok` or `error`, then text lines. One command per connection.
//!
//! Permissions: the socket's directory (default `/run/weir`) is created `0700` if missing, and
//! the socket itself is `0600`: only its owner (root, for a bridge) may connect; the
//! permissions are checked after binding, not assumed from the umask. A socket file left by a
//! weir that was killed is removed; one a live weir is still serving is an error, so two
//! bridges never share one.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest a client may take to send its command, and the server to answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A control-socket problem, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket cannot be created.
    #[error("control socket {path}: {problem}; {fix}")]
    Bind {
        /// The path.
        path: String,
        /// What went wrong.
        problem: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// Nobody answers on the socket.
    #[error("no weir is listening on {path} ({why}); is weir running with this config? (or pass --socket)")]
    NotListening {
        /// The path.
        path: String,
        /// The connect error.
        why: std::io::Error,
    },
    /// The exchange failed midway.
    #[error("control socket {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The reply is not in the protocol.
    #[error("control socket {path}: unexpected reply {reply:?}")]
    Protocol {
        /// The path.
        path: String,
        /// What came back.
        reply: String,
    },
    /// The SIGHUP handler cannot be installed.
    #[error("cannot install the SIGHUP handler: {0}")]
    Signal(String),
}

/// A command from a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Re-read and apply the config.
    Reload,
    /// Report the policy generation, active schedules and the last reload.
    Status,
}

impl Command {
    /// The word on the wire.
    pub fn word(self) -> &'static str {
        match self {
            Command::Reload => "reload",
            Command::Status => "status",
        }
    }
}

/// A reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Whether the command succeeded.
    pub ok: bool,
    /// The text lines after `ok` / `error`.
    pub lines: Vec<String>,
}

/// One client's command, to be answered with [`Request::respond`].
#[derive(Debug)]
pub struct Request {
    /// What it asks; `None`: a word this server does not know (answered with an error by
    /// [`Request::respond_unknown`]).
    pub command: Option<Command>,
    word: String,
    stream: UnixStream,
}

impl Request {
    /// Send the reply and close the connection. A client that went away is no error.
    pub fn respond(mut self, reply: &Reply) {
        let mut text = String::from(if reply.ok { "ok\n" } else { "error\n" });
        for l in &reply.lines {
            text.push_str(l);
            text.push('\n');
        }
        let _ = self.stream.write_all(text.as_bytes());
    }

    /// Answer a command this server does not know.
    pub fn respond_unknown(self) {
        let word = self.word.clone();
        self.respond(&Reply { ok: false, lines: vec![format!("unknown command {word:?}; commands: reload, status")] });
    }
}

/// The listening socket. Removes its file when dropped.
#[derive(Debug)]
pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlServer {
    /// Create the socket at `path`, owner-only.
    ///
    /// # Errors
    /// [`ControlError::Bind`] naming the path, the problem and the fix.
    pub fn bind(path: &Path) -> Result<ControlServer, ControlError> {
        let shown = path.display().to_string();
        let err = |problem: String, fix: &'static str| ControlError::Bind { path: shown.clone(), problem, fix };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| {
                    err(
                        format!("cannot create {}: {e}", dir.display()),
                        "run as root, or set control.socket to a writable path",
                    )
                })?;
            }
            let mode = std::fs::metadata(dir).map(|m| m.permissions().mode()).unwrap_or(0);
            if mode & 0o002 != 0 {
                return Err(err(
                    format!("its directory {} is writable by everyone", dir.display()),
                    "use a directory only root can write, e.g. /run/weir",
                ));
            }
        }
        if path.exists() {
            match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(err(
                        "another weir is serving it".into(),
                        "stop that weir, or give this one its own control.socket",
                    ));
                }
                // Left by a weir that is gone: take it over.
                Err(_) => std::fs::remove_file(path)
                    .map_err(|e| err(format!("a stale socket file cannot be removed: {e}"), "remove it by hand"))?,
            }
        }
        let listener = UnixListener::bind(path)
            .map_err(|e| err(e.to_string(), "check the path, or set control.socket (\"\" turns it off)"))?;
        let server = ControlServer { listener, path: path.to_path_buf() };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| err(format!("cannot make it owner-only: {e}"), "check the file system"))?;
        let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o777);
        if mode != 0o600 {
            return Err(err(format!("its mode is {mode:o}, not 600"), "check the file system"));
        }
        server.listener.set_nonblocking(true).map_err(|e| err(e.to_string(), "check the file system"))?;
        Ok(server)
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accept one waiting client and read its command; never blocks on accept (the client's
    /// command line is waited for up to 5 s). `None`: nobody is waiting.
    pub fn poll(&self) -> Option<Request> {
        let (stream, _) = self.listener.accept().ok()?;
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let mut line = String::new();
        let reader = stream.try_clone().ok()?;
        let _ = BufReader::new(reader.take(256)).read_line(&mut line);
        let word = line.trim().to_string();
        if word.is_empty() {
            // Connected and left without a word (e.g. another weir checking whether this
            // socket is alive): nothing to answer.
            return None;
        }
        let command = match word.as_str() {
            "reload" => Some(Command::Reload),
            "status" => Some(Command::Status),
            _ => None,
        };
        Some(Request { command, word, stream })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Send `command` to the weir serving `path` and read its reply. Waits up to `timeout` for the
/// answer (a reload validates everything first, which takes a moment).
///
/// # Errors
/// [`ControlError`] if nobody listens, the exchange breaks, or the reply is garbled.
pub fn request(path: &Path, command: Command, timeout: Duration) -> Result<Reply, ControlError> {
    let shown = path.display().to_string();
    let mut stream =
        UnixStream::connect(path).map_err(|why| ControlError::NotListening { path: shown.clone(), why })?;
    let io = |source| ControlError::Io { path: shown.clone(), source };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
    stream.write_all(format!("{}\n", command.word()).as_bytes()).map_err(io)?;
    let mut text = String::new();
    stream.read_to_string(&mut text).map_err(io)?;
    let mut lines = text.lines();
    let ok = match lines.next() {
        Some("ok") => true,
        Some("error") => false,
        _ => return Err(ControlError::Protocol { path: shown, reply: text }),
    };
    Ok(Reply { ok, lines: lines.map(str::to_string).collect() })
}
