//! A real SMTP server for the tests and the benchmark: a few dozen lines over tokio that speak
//! enough of RFC 5321 for any client (EHLO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP,
//! QUIT), on an ephemeral port of 127.0.0.1, keeping every message it accepts.
//!
//! Why not a crate: `mailin-embedded` (the one made for this) always compiles its TLS support,
//! which brings rustls's default aws-lc-rs provider next to the workspace's ring one (and then
//! rustls can no longer pick a process default), and its blocking server cannot be stopped, which
//! the outage tests need. This one can be told to refuse (a 5xx or 4xx reply to `RCPT`), to hang
//! after the data of some recipients, to stop, and to start again on the same port.

#![allow(dead_code)] // shared by the tests and the benchmark, which each use part of it

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// What the server answers to `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// A reply such as `550 5.1.1 mailbox unavailable` (permanent) or `451 4.3.0 try later`.
    Refuse(u16, String),
}

/// One accepted message: its envelope and its data as sent (dot-unstuffed, CRLF line ends).
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    mode: Mutex<Option<Mode>>,
    /// Recipients whose message, once its data is in, gets no answer.
    hang_for: Mutex<Option<String>>,
    /// `MAIL FROM` commands: one per delivery attempt that reached the server.
    transactions: AtomicUsize,
}

pub struct SmtpSink {
    pub address: SocketAddr,
    state: Arc<State>,
    stop: CancellationToken,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl SmtpSink {
    /// A server on an ephemeral port.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("an address")).await
    }

    /// A server on `address` (one from [`SmtpSink::free_address`], to come up where a client
    /// already looks).
    pub async fn start_on(address: SocketAddr) -> Self {
        let listener = TcpListener::bind(address).await.expect("the SMTP port");
        let address = listener.local_addr().expect("a bound address");
        let state = Arc::new(State::default());
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, state.clone(), stop.clone()));
        Self {
            address,
            state,
            stop,
        }
    }

    /// An address where nothing listens (yet): a mail server that is down.
    pub fn free_address() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("a bound address")
    }

    pub fn url(&self) -> String {
        url_of(self.address)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().expect("not poisoned") = Some(mode);
    }

    /// Messages to a recipient containing `needle` get no answer after their data.
    pub fn hang_for(&self, needle: &str) {
        *self.state.hang_for.lock().expect("not poisoned") = Some(needle.to_owned());
    }

    /// Forgets what was received so far (the benchmark, between runs).
    pub fn clear(&self) {
        self.state.received.lock().expect("not poisoned").clear();
    }

    pub fn received_count(&self) -> usize {
        self.state.received.lock().expect("not poisoned").len()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("not poisoned").clone()
    }

    /// Delivery attempts that reached the server (`MAIL FROM` commands).
    pub fn transactions(&self) -> usize {
        self.state.transactions.load(Ordering::SeqCst)
    }

    /// Waits until `count` messages were accepted (or `within` passed); the messages.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub fn url_of(address: SocketAddr) -> String {
    format!("smtp://{address}")
}

async fn accept(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(session(stream, state.clone(), stop.clone()));
                }
            }
        }
    }
}

async fn session(stream: TcpStream, state: Arc<State>, stop: CancellationToken) {
    tokio::select! {
        () = stop.cancelled() => {}
        _ = converse(stream, &state) => {}
    }
}

async fn converse(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::<String>::new());
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line).trim_end().to_owned();
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: String = match verb.as_str() {
            "EHLO" => "250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8".into(),
            "HELO" | "NOOP" => "250 OK".into(),
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                "250 OK".into()
            }
            "MAIL" => {
                state.transactions.fetch_add(1, Ordering::SeqCst);
                from = angle(&command);
                to.clear();
                "250 2.1.0 OK".into()
            }
            "RCPT" => {
                let mode = state.mode.lock().expect("not poisoned").clone();
                if let Some(Mode::Refuse(code, text)) = mode {
                    format!("{code} {text}")
                } else {
                    to.push(angle(&command));
                    "250 2.1.5 OK".into()
                }
            }
            "DATA" if to.is_empty() => "554 5.5.1 no valid recipients".into(),
            "DATA" => {
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut read).await?;
                let hang = state.hang_for.lock().expect("not poisoned").clone();
                if hang.is_some_and(|needle| to.iter().any(|r| r.contains(&needle))) {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                let mut received = state.received.lock().expect("not poisoned");
                received.push(Received {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                format!("250 2.0.0 OK queued as {}", received.len())
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => "502 5.5.2 command not recognised".into(),
        };
        // One write per reply: two small writes would wait on the client's delayed ACK.
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}

/// The message data up to the lone `.`, with leading dots unstuffed.
async fn read_data(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(data);
        }
        let unstuffed = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        data.extend_from_slice(unstuffed);
    }
}

/// The address between `<` and `>` of a `MAIL FROM:` or `RCPT TO:` command.
fn angle(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_owned())
        .unwrap_or_default()
}
