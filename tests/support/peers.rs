//! Test peers for the RDP probe: a real xrdp server (Debian's package) on
//! 127.0.0.1 with a private configuration and generated certificates, and
//! scripted fake peers for what xrdp cannot do (NLA required, SSL not
//! allowed, silence, close, reset, garbage, TLS stall, a dribbling TPKT).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const XRDP: &str = "/usr/sbin/xrdp";

/// Whether xrdp can run here. With `CI=true` a missing xrdp is a failure,
/// not a skip: CI installs it (`.ci/run`).
pub fn xrdp_available() -> bool {
    let ok = Path::new(XRDP).exists() && Path::new("/etc/xrdp/rsakeys.ini").exists();
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "xrdp is not installed but CI=true: install it with `apt-get install -y --no-install-recommends xrdp`"
            );
        }
        eprintln!(
            "skipping: xrdp is not installed (apt-get install -y --no-install-recommends xrdp)"
        );
    }
    ok
}

/// Today ± `offset` days as (year, month, day), UTC.
pub fn day(offset: i64) -> (i32, u8, u8) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (y, m, d) =
        rootcause_engine::collect::civil::civil_from_days(now.div_euclid(86_400) + offset);
    (y as i32, m as u8, d as u8)
}

/// A self-signed certificate valid from `from` to `to` days relative to today.
pub struct TestCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
    pub key_der: Vec<u8>,
    pub not_after: (i32, u8, u8),
}

pub fn make_cert(from: i64, to: i64) -> TestCert {
    make_cert_for(from, to, "localhost", Some("127.0.0.1"))
}

/// A self-signed certificate for `name` (and `ip`, when given).
pub fn make_cert_for(from: i64, to: i64, name: &str, ip: Option<&str>) -> TestCert {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).expect("params");
    if let Some(ip) = ip {
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(ip.parse().expect("ip")));
    }
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "rootcause test fixture");
    let (y, m, d) = day(from);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let not_after = day(to);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let cert = params.self_signed(&key).expect("self-signed");
    TestCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
        key_der: key.serialize_der(),
        not_after,
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn listening(port: u16) -> bool {
    let needle = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[3] == "0A" && f[1].ends_with(&needle)
        })
    })
}

/// A running xrdp, killed on drop.
pub struct Xrdp {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

impl Xrdp {
    /// Start xrdp with `security_layer` (rdp, tls, negotiate) and a
    /// certificate (`None`: the configured files do not exist).
    pub fn start(security: &str, cert: Option<&TestCert>, dir: &Path) -> Xrdp {
        std::fs::create_dir_all(dir).expect("run dir");
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        match cert {
            Some(c) => {
                std::fs::write(&cert_path, &c.cert_pem).expect("cert");
                std::fs::write(&key_path, &c.key_pem).expect("key");
            }
            None => {
                let _ = std::fs::remove_file(&cert_path);
                let _ = std::fs::remove_file(&key_path);
            }
        }
        let port = free_port();
        let ini = dir.join("xrdp.ini");
        std::fs::write(
            &ini,
            format!(
                "[Globals]\nini_version=1\nfork=false\nport=tcp://127.0.0.1:{port}\nuse_vsock=false\n\
                 tcp_nodelay=true\nsecurity_layer={security}\ncrypt_level=high\ncertificate={}\n\
                 key_file={}\nssl_protocols=TLSv1.2, TLSv1.3\nautorun=\nmax_bpp=32\n\n\
                 [Logging]\nLogFile={}\nLogLevel=INFO\nEnableSyslog=false\nEnableConsole=false\n\n\
                 [Xorg]\nname=Xorg\nlib=libxup.so\nusername=ask\npassword=ask\nip=127.0.0.1\nport=-1\ncode=20\n",
                cert_path.display(),
                key_path.display(),
                dir.join("xrdp.log").display()
            ),
        )
        .expect("ini");
        // xrdp refuses to start while the system daemon's pid file exists:
        // then run it in a private mount namespace with its own /var/run/xrdp.
        let mut cmd = if Path::new("/var/run/xrdp/xrdp.pid").exists() {
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                .arg("mount -t tmpfs -o size=1m xrdp-test /var/run/xrdp && exec \"$0\" --nodaemon --config \"$1\"")
                .arg(XRDP)
                .arg(&ini);
            c
        } else {
            let mut c = Command::new(XRDP);
            c.arg("--nodaemon").arg("--config").arg(&ini);
            c
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start xrdp");
        let mut x = Xrdp {
            port,
            dir: dir.to_path_buf(),
            child,
        };
        let start = Instant::now();
        while !listening(port) {
            if let Ok(Some(status)) = x.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("xrdp.log")).unwrap_or_default();
                panic!("xrdp exited with {status} during start-up:\n{log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "xrdp not listening after 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        x
    }
}

impl Drop for Xrdp {
    fn drop(&mut self) {
        // xrdp ignores SIGTERM while a client socket is open: kill it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a fake peer behaves after accepting a connection.
#[derive(Clone)]
pub enum Mode {
    /// Read the request, never answer.
    Silent,
    /// Read the request, close (FIN).
    Close,
    /// Read the request, reset (RST).
    Reset,
    /// Answer like an HTTP server.
    Garbage,
    /// Connection Confirm with RDP_NEG_FAILURE `code`.
    Failure(u32),
    /// Connection Confirm with RDP_NEG_RSP `selected`, then a TLS server
    /// handshake with the certificate (or silence when `None`: a TLS stall).
    Rsp(u32, Option<Arc<TestCert>>),
    /// Announce a 64 KiB TPKT and dribble one byte every 200 ms.
    Dribble,
    /// A TPKT header whose length is inconsistent (too short).
    BadLength,
    /// Accept and never read nor write (the kernel still completes the handshake).
    NeverRead,
    /// Send the first 7 bytes of a 19-byte Connection Confirm, then stall.
    StallMidPacket,
    /// Select SSL, then answer the ClientHello with bytes that are not TLS.
    TlsGarbage,
    /// A Windows host that requires NLA: HYBRID (then TLS) when the
    /// request offers it, HYBRID_REQUIRED_BY_SERVER (5) otherwise.
    NlaRequired(Arc<TestCert>),
    /// A Windows host with NLA allowed but not required (SecurityLayer
    /// Negotiate, UserAuthentication 0): HYBRID when offered, else SSL when
    /// offered (both then TLS), else standard RDP.
    NlaOptional(Arc<TestCert>),
}

/// requestedProtocols of a Connection Request's RDP_NEG_REQ (its last 8
/// bytes: type 1, flags, length 8, protocols LE); `None` without one.
fn requested(cr: &[u8]) -> Option<u32> {
    let neg = cr.get(cr.len().checked_sub(8)?..)?;
    (neg[0] == 1 && neg[2] == 8).then(|| u32::from_le_bytes([neg[4], neg[5], neg[6], neg[7]]))
}

pub fn tls_accept(s: &mut TcpStream, cert: &TestCert) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if let Ok(mut conn) = rustls::ServerConnection::new(tls_server(cert)) {
        while conn.is_handshaking() {
            if conn.complete_io(s).is_err() {
                break;
            }
        }
    }
}

/// A listener whose accept queue is full, so the kernel drops new SYNs:
/// what a firewall that DROPs looks like to a client.
pub struct SynDrop {
    pub port: u16,
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl SynDrop {
    pub fn start() -> SynDrop {
        SynDrop::start_on("127.0.0.1")
    }

    /// On `ip` (`0.0.0.0`: every loopback address drops SYNs on the port).
    pub fn start_on(ip: &str) -> SynDrop {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind((ip, 0)).expect("bind");
        // SAFETY: re-listening on a valid socket only changes its backlog.
        unsafe {
            libc::listen(listener.as_raw_fd(), 0);
        }
        let port = listener.local_addr().expect("addr").port();
        // Fill the queue; connects beyond it stay in SYN_SENT.
        let mut fillers = Vec::new();
        for _ in 0..4 {
            if let Ok(s) = TcpStream::connect_timeout(
                &([127, 0, 0, 1], port).into(),
                Duration::from_millis(200),
            ) {
                fillers.push(s);
            }
        }
        SynDrop {
            port,
            _listener: listener,
            _fillers: fillers,
        }
    }
}

/// A scripted peer on 127.0.0.1, stopped on drop.
pub struct FakePeer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub fn confirm(kind: u8, value: u32) -> Vec<u8> {
    let mut v = vec![
        3,
        0,
        0,
        19,
        14,
        0xd0,
        0,
        0,
        0x12,
        0x34,
        0,
        kind,
        if kind == 2 { 1 } else { 0 },
        8,
        0,
    ];
    v.extend_from_slice(&value.to_le_bytes());
    v
}

pub fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    buf[..n].to_vec()
}

fn tls_server(cert: &TestCert) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der.clone())),
        )
        .expect("server cert");
    Arc::new(config)
}

fn serve(mode: &Mode, mut s: TcpStream, stop: &AtomicBool) {
    if let Mode::NeverRead = mode {
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        return;
    }
    let request = read_request(&mut s);
    match mode {
        Mode::Silent => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Mode::Close => {
            let _ = s.shutdown(Shutdown::Both);
        }
        Mode::Reset => {
            // SO_LINGER with a zero timeout makes close() send RST.
            use std::os::fd::AsRawFd;
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid socket and a correctly sized `linger`.
            unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
            drop(s);
        }
        Mode::Garbage => {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
        Mode::Failure(code) => {
            let _ = s.write_all(&confirm(3, *code));
        }
        Mode::BadLength => {
            let _ = s.write_all(&[3, 0, 0, 2]);
            std::thread::sleep(Duration::from_millis(200));
        }
        Mode::Dribble => {
            let _ = s.write_all(&[3, 0, 0xff, 0xff]);
            for _ in 0..200 {
                if stop.load(Ordering::Relaxed) || s.write_all(&[0]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Mode::Rsp(selected, cert) => {
            let _ = s.write_all(&confirm(2, *selected));
            match cert {
                Some(c) => {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    if let Ok(mut conn) = rustls::ServerConnection::new(tls_server(c)) {
                        while conn.is_handshaking() {
                            if conn.complete_io(&mut s).is_err() {
                                break;
                            }
                        }
                    }
                }
                None => {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        }
        Mode::StallMidPacket => {
            let _ = s.write_all(&confirm(2, 1)[..7]);
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Mode::NlaRequired(cert) => match requested(&request) {
            Some(r) if r & 0x0A != 0 => {
                let _ = s.write_all(&confirm(2, 2));
                tls_accept(&mut s, cert);
            }
            _ => {
                let _ = s.write_all(&confirm(3, 5));
            }
        },
        Mode::NlaOptional(cert) => {
            let selected = match requested(&request) {
                Some(r) if r & 0x0A != 0 => 2,
                Some(r) if r & 1 != 0 => 1,
                _ => 0,
            };
            let _ = s.write_all(&confirm(2, selected));
            if selected != 0 {
                tls_accept(&mut s, cert);
            }
        }
        Mode::TlsGarbage => {
            let _ = s.write_all(&confirm(2, 1));
            read_request(&mut s);
            let _ = s.write_all(&[0x17, 0xff, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5]);
            let _ = s.write_all(&[0u8; 4096]);
        }
        Mode::NeverRead => {}
    }
}

impl FakePeer {
    pub fn start(mode: Mode) -> FakePeer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut workers = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let (m, f) = (mode.clone(), flag.clone());
                        workers.push(std::thread::spawn(move || serve(&m, s, &f)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        FakePeer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
