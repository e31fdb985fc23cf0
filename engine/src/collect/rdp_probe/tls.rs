//! The TLS side of the probe: a handshake that accepts any certificate (rustls), then the certificate inspected with x509-parser (validity, self-signed, names, key).

use super::*;

/// Accepts any certificate: the probe inspects it instead of trusting it.
/// Handshake signatures are still verified (the server holds the key).
#[derive(Debug)]
pub(super) struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub(super) fn tls_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

pub(super) fn tls_handshake(
    mut sock: TcpStream,
    host: &str,
    addr: SocketAddr,
    deadline: Deadline,
) -> Tls {
    let start = Instant::now();
    let mut tls = Tls {
        outcome: "fails".into(),
        version: None,
        cipher: None,
        error: None,
        ms: 0.0,
        certificate: None,
    };
    let name = ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into()));
    let conn = tls_config().and_then(|c| ClientConnection::new(c, name));
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            tls.error = Some(e.to_string());
            return tls;
        }
    };
    while conn.is_handshaking() {
        let step = deadline.left().ok_or_else(timed_out).and_then(|left| {
            sock.set_read_timeout(Some(left))?;
            sock.set_write_timeout(Some(left))?;
            conn.complete_io(&mut sock)
        });
        match step {
            Ok((0, 0)) if conn.is_handshaking() => {
                tls.outcome = "closed".into();
                tls.error = Some("the server closed the connection during the handshake".into());
                break;
            }
            Ok(_) => {}
            Err(e) => {
                let rustls_error = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
                tls.outcome = match (rustls_error, e.kind()) {
                    (Some(_), _) => "fails",
                    (None, io::ErrorKind::UnexpectedEof) => "closed",
                    (None, _) if is_timeout(&e) => "timeout",
                    (None, io::ErrorKind::ConnectionReset) => "closed",
                    _ => "fails",
                }
                .into();
                tls.error = Some(rustls_error.map_or_else(|| e.to_string(), |r| r.to_string()));
                break;
            }
        }
    }
    tls.ms = ms(start.elapsed());
    if !conn.is_handshaking() {
        tls.outcome = "ok".into();
        tls.version = conn.protocol_version().map(|v| format!("{v:?}"));
        tls.cipher = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        tls.certificate = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|der| inspect_certificate(der.as_ref(), host, SystemTime::now()).ok());
    }
    let _ = sock.shutdown(Shutdown::Both);
    tls
}

/// Inspect a DER certificate as of `now`.
pub fn inspect_certificate(der: &[u8], host: &str, now: SystemTime) -> Result<CertInfo, String> {
    use x509_parser::prelude::*;
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let now_s = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let nb = cert.validity().not_before.timestamp();
    let na = cert.validity().not_after.timestamp();
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().to_string();
    let same_name = cert.subject().as_raw() == cert.issuer().as_raw();
    let self_signature_valid = same_name.then(|| cert.verify_signature(None).is_ok());
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) => sans.push(format!("DNS:{d}")),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b)
                            .ok()
                            .map(|a| IpAddr::from(a).to_string()),
                        16 => <[u8; 16]>::try_from(*b)
                            .ok()
                            .map(|a| IpAddr::from(a).to_string()),
                        _ => None,
                    };
                    sans.push(format!("IP:{}", ip.unwrap_or_else(|| hex(b))));
                }
                other => sans.push(format!("{other:?}").chars().take(80).collect()),
            }
        }
    }
    let cns: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect();
    let name_matches = name_matches(host, &sans, &cns);
    let (key_type, key_bits) = match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(k)) => ("RSA".to_string(), k.key_size()),
        Ok(x509_parser::public_key::PublicKey::EC(p)) => ("EC".to_string(), p.key_size()),
        Ok(_) => ("other".to_string(), 0),
        Err(_) => ("unparsed".to_string(), 0),
    };
    let registry = x509_parser::objects::oid_registry();
    let sig_oid = &cert.signature_algorithm.algorithm;
    let signature_algorithm = x509_parser::objects::oid2sn(sig_oid, registry)
        .map(str::to_string)
        .unwrap_or_else(|_| sig_oid.to_id_string());
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    Ok(CertInfo {
        subject,
        issuer,
        serial: cert.raw_serial_as_string(),
        not_before: format_unix(nb),
        not_after: format_unix(na),
        not_after_unix: na,
        expired: now_s > na,
        not_yet_valid: now_s < nb,
        days_left: (na - now_s).div_euclid(86_400),
        self_signed: self_signature_valid == Some(true),
        self_signature_valid,
        subject_alt_names: sans,
        name_matches,
        key_type,
        key_bits,
        signature_algorithm,
        sha256: hex_all(digest.as_ref()),
    })
}

pub(super) fn hex_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn name_matches(host: &str, sans: &[String], cns: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let matches = |pattern: &str| {
        let p = pattern.trim_end_matches('.').to_ascii_lowercase();
        match p.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == suffix),
            None => p == host,
        }
    };
    if host.parse::<IpAddr>().is_ok() {
        return sans
            .iter()
            .any(|s| s.strip_prefix("IP:").is_some_and(|ip| ip == host));
    }
    let dns: Vec<&str> = sans.iter().filter_map(|s| s.strip_prefix("DNS:")).collect();
    if dns.is_empty() {
        cns.iter().any(|c| matches(c))
    } else {
        dns.iter().any(|d| matches(d))
    }
}
