//! The TCP side of the probe: deadlines, name resolution, connects, bounded reads, the X.224 exchange and its classification, latency samples.

use super::*;

pub(super) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// A point in time the probe must not pass.
#[derive(Clone, Copy)]
pub(super) struct Deadline(Instant);

impl Deadline {
    pub(super) fn after(d: Duration) -> Deadline {
        Deadline(Instant::now() + d)
    }
    pub(super) fn left(self) -> Option<Duration> {
        self.0
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }
    /// The same deadline, `d` later.
    pub(super) fn later_by(self, d: Duration) -> Deadline {
        Deadline(self.0 + d)
    }
    /// The earlier of this deadline and `step` from now.
    pub(super) fn step(self, step: Duration) -> Deadline {
        Deadline(self.0.min(Instant::now() + step))
    }
}

pub(super) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

pub(super) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Resolve in a helper thread so a hanging resolver cannot exceed the step.
pub(super) fn resolve(host: &str, port: u16, deadline: Deadline) -> Result<SocketAddr, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    std::thread::spawn(move || {
        let r = (name.as_str(), port)
            .to_socket_addrs()
            .map(|mut a| a.next());
        let _ = tx.send(r);
    });
    match rx.recv_timeout(deadline.left().unwrap_or_default()) {
        Ok(Ok(Some(a))) => Ok(a),
        Ok(Ok(None)) => Err(format!("{host} has no address")),
        Ok(Err(e)) => Err(format!("cannot resolve {host}: {e}")),
        Err(_) => Err(format!("resolving {host} timed out")),
    }
}

pub(super) fn connect(
    addr: SocketAddr,
    deadline: Deadline,
) -> (String, Result<TcpStream, io::Error>, Duration) {
    let start = Instant::now();
    let Some(left) = deadline.left() else {
        return ("timeout".into(), Err(timed_out()), Duration::ZERO);
    };
    let r = TcpStream::connect_timeout(&addr, left);
    let took = start.elapsed();
    let outcome = match &r {
        Ok(_) => "ok",
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => "refused",
        Err(e) if is_timeout(e) => "timeout",
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable
            ) =>
        {
            "unreachable"
        }
        Err(_) => "error",
    };
    (outcome.into(), r, took)
}

/// Read exactly `buf.len()` bytes before the deadline.
pub(super) fn read_full(
    sock: &mut TcpStream,
    buf: &mut [u8],
    deadline: Deadline,
) -> io::Result<()> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.left().ok_or_else(timed_out)?;
        sock.set_read_timeout(Some(left))?;
        match sock.read(&mut buf[got..]) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(32).map(|b| format!("{b:02x}")).collect()
}

/// Read one TPKT: its header, then (when it looks like a Confirm) the rest.
pub(super) fn read_answer(sock: &mut TcpStream, deadline: Deadline) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    read_full(sock, &mut header, deadline)?;
    match x224::tpkt_length(&header) {
        Ok(len) => {
            let mut pdu = vec![0u8; len];
            pdu[..4].copy_from_slice(&header);
            read_full(sock, &mut pdu[4..], deadline)?;
            Ok(pdu)
        }
        // Not a Confirm: the header is enough to say what it is.
        Err(_) => Ok(header.to_vec()),
    }
}

/// Send a Connection Request and classify the answer. Returns the TCP
/// connect outcome and the socket when it is still usable (for TLS).
pub(super) fn negotiate(
    addr: SocketAddr,
    requested: u32,
    cfg: &Config,
    budget: Deadline,
) -> (Negotiation, String, Option<TcpStream>) {
    let start = Instant::now();
    let mut n = Negotiation {
        requested,
        requested_names: x224::protocol_name(requested),
        outcome: String::new(),
        selected: None,
        selected_names: None,
        failure_code: None,
        failure_name: None,
        flags: None,
        received_hex: String::new(),
        detail: None,
        connect_ms: None,
        ms: 0.0,
    };
    let (tcp, sock, took) = connect(addr, budget.step(cfg.step_timeout));
    if sock.is_ok() {
        n.connect_ms = Some(ms(took));
    }
    let mut sock = match sock {
        Ok(s) => s,
        Err(e) => {
            n.outcome = tcp.clone();
            n.detail = Some(e.to_string());
            n.ms = ms(start.elapsed());
            return (n, tcp, None);
        }
    };
    let _ = sock.set_nodelay(true);
    let deadline = budget.step(cfg.step_timeout);
    let cr = x224::connection_request(Some(requested), Some("rootcause"));
    let sent = deadline
        .left()
        .ok_or_else(timed_out)
        .and_then(|left| sock.set_write_timeout(Some(left)))
        .and_then(|()| sock.write_all(&cr));
    if let Err(e) = sent {
        n.outcome = io_outcome(&e).into();
        n.detail = Some(format!("sending the Connection Request: {e}"));
        n.ms = ms(start.elapsed());
        return (n, tcp, None);
    }
    let result = read_answer(&mut sock, deadline);
    n.ms = ms(start.elapsed());
    let pdu = match result {
        Ok(p) => p,
        Err(e) => {
            n.outcome = io_outcome(&e).into();
            n.detail = Some(e.to_string());
            return (n, tcp, None);
        }
    };
    n.received_hex = hex(&pdu);
    let (n, sock) = classify(n, &pdu, sock);
    (n, tcp, sock)
}

pub(super) fn classify(
    mut n: Negotiation,
    pdu: &[u8],
    sock: TcpStream,
) -> (Negotiation, Option<TcpStream>) {
    match x224::decode_answer(pdu) {
        Ok(Answer::Response { flags, selected }) => {
            n.outcome = "rsp".into();
            n.flags = Some(flags);
            n.selected = Some(selected);
            n.selected_names = Some(x224::protocol_name(selected));
            (n, Some(sock))
        }
        Ok(Answer::Failure { code }) => {
            n.outcome = "failure".into();
            n.failure_code = Some(code);
            n.failure_name = Some(x224::failure_name(code).into());
            (n, None)
        }
        Ok(Answer::NoNegotiation) => {
            n.outcome = "cc".into();
            (n, None)
        }
        Ok(Answer::Rejected) => {
            n.outcome = "rejected".into();
            (n, None)
        }
        Err(DecodeError::NotTpkt) => {
            n.outcome = "not_rdp".into();
            n.detail = Some(DecodeError::NotTpkt.to_string());
            (n, None)
        }
        Err(e) => {
            n.outcome = "bad_cc".into();
            n.detail = Some(e.to_string());
            (n, None)
        }
    }
}

pub(super) fn io_outcome(e: &io::Error) -> &'static str {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "closed",
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => "reset",
        _ if is_timeout(e) => "timeout",
        _ => "closed",
    }
}
