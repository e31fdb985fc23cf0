//! X.224 Connection Request / Confirm with RDP negotiation data
//! (MS-RDPBCGR 2.2.1.1 and 2.2.1.2; fact sheet §2).
//!
//! A tiny, allocation-light codec: the probe sends one Connection Request
//! and decodes whatever comes back. Decoding never panics and never trusts a
//! length field beyond the bytes actually given.

/// TPKT version byte (T.123).
pub const TPKT_VERSION: u8 = 3;
/// X.224 TPDU codes (upper nibble).
pub const X224_CR: u8 = 0xE0;
pub const X224_CC: u8 = 0xD0;
pub const X224_DT: u8 = 0xF0;
pub const X224_DR: u8 = 0x80;
/// RDP_NEG_* types.
pub const TYPE_RDP_NEG_REQ: u8 = 0x01;
pub const TYPE_RDP_NEG_RSP: u8 = 0x02;
pub const TYPE_RDP_NEG_FAILURE: u8 = 0x03;

/// requestedProtocols bits.
pub const PROTOCOL_RDP: u32 = 0x00;
pub const PROTOCOL_SSL: u32 = 0x01;
pub const PROTOCOL_HYBRID: u32 = 0x02;
pub const PROTOCOL_RDSTLS: u32 = 0x04;
pub const PROTOCOL_HYBRID_EX: u32 = 0x08;
pub const PROTOCOL_RDSAAD: u32 = 0x10;

/// The largest Connection Confirm the probe accepts (a real one is 11 or 19
/// bytes; anything much larger is not a Connection Confirm).
pub const MAX_CONFIRM: usize = 512;

/// Names of the requestedProtocols / selectedProtocol bits.
pub fn protocol_name(mask: u32) -> String {
    if mask == PROTOCOL_RDP {
        return "PROTOCOL_RDP".into();
    }
    let names = [
        (PROTOCOL_SSL, "PROTOCOL_SSL"),
        (PROTOCOL_HYBRID, "PROTOCOL_HYBRID"),
        (PROTOCOL_RDSTLS, "PROTOCOL_RDSTLS"),
        (PROTOCOL_HYBRID_EX, "PROTOCOL_HYBRID_EX"),
        (PROTOCOL_RDSAAD, "PROTOCOL_RDSAAD"),
    ];
    let mut out: Vec<String> = names
        .iter()
        .filter(|(b, _)| mask & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    let rest = mask & !0x1F;
    if rest != 0 {
        out.push(format!("{rest:#x}"));
    }
    out.join("|")
}

/// RDP_NEG_FAILURE codes (fact sheet §2.4).
pub fn failure_name(code: u32) -> &'static str {
    match code {
        1 => "SSL_REQUIRED_BY_SERVER",
        2 => "SSL_NOT_ALLOWED_BY_SERVER",
        3 => "SSL_CERT_NOT_ON_SERVER",
        4 => "INCONSISTENT_FLAGS",
        5 => "HYBRID_REQUIRED_BY_SERVER",
        6 => "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
        _ => "UNKNOWN_FAILURE",
    }
}

/// TPKT + X.224 Connection Request, with an optional `Cookie: mstshash=`
/// line and an RDP_NEG_REQ when `requested` is given.
pub fn connection_request(requested: Option<u32>, cookie: Option<&str>) -> Vec<u8> {
    let mut var = Vec::new();
    if let Some(c) = cookie {
        // The cookie is one line; keep it ASCII and without CR/LF.
        let clean: String = c
            .chars()
            .filter(|ch| ch.is_ascii_graphic())
            .take(64)
            .collect();
        var.extend_from_slice(b"Cookie: mstshash=");
        var.extend_from_slice(clean.as_bytes());
        var.extend_from_slice(b"\r\n");
    }
    if let Some(mask) = requested {
        var.push(TYPE_RDP_NEG_REQ);
        var.push(0); // flags
        var.extend_from_slice(&8u16.to_le_bytes());
        var.extend_from_slice(&mask.to_le_bytes());
    }
    // LI counts the octets after itself: code, dst-ref(2), src-ref(2), class, variable part.
    let li = 6 + var.len();
    let total = 4 + 1 + li;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&[TPKT_VERSION, 0]);
    out.extend_from_slice(&(total as u16).to_be_bytes());
    out.push(li as u8);
    out.extend_from_slice(&[X224_CR, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&var);
    out
}

/// What the server answered to a Connection Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Connection Confirm with RDP_NEG_RSP.
    Response { flags: u8, selected: u32 },
    /// Connection Confirm with RDP_NEG_FAILURE.
    Failure { code: u32 },
    /// Connection Confirm without negotiation data (a legacy server).
    NoNegotiation,
    /// An X.224 Data or Disconnect TPDU instead of a Confirm (e.g. xrdp's
    /// MCS Disconnect Provider Ultimatum when it rejects the request).
    Rejected,
}

/// Why bytes are not a Connection Confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The first byte is not TPKT version 3: not an RDP answer.
    NotTpkt,
    /// The TPKT length is below the minimum or above [`MAX_CONFIRM`].
    BadLength(usize),
    /// Fewer bytes than the TPKT length announces.
    Truncated { have: usize, need: usize },
    /// The X.224 header is inconsistent (length indicator, TPDU code).
    BadTpdu,
    /// The negotiation data is malformed.
    BadNegotiation,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::NotTpkt => f.write_str("not a TPKT (the first byte is not 0x03)"),
            DecodeError::BadLength(n) => {
                write!(f, "TPKT length {n} is not that of a Connection Confirm")
            }
            DecodeError::Truncated { have, need } => write!(f, "truncated: {have} of {need} bytes"),
            DecodeError::BadTpdu => f.write_str("inconsistent X.224 header"),
            DecodeError::BadNegotiation => f.write_str("malformed RDP negotiation data"),
        }
    }
}

/// The total length a TPKT header announces (validated for a Confirm).
pub fn tpkt_length(header: &[u8]) -> Result<usize, DecodeError> {
    if header.len() < 4 {
        return Err(DecodeError::Truncated {
            have: header.len(),
            need: 4,
        });
    }
    if header[0] != TPKT_VERSION {
        return Err(DecodeError::NotTpkt);
    }
    let len = u16::from_be_bytes([header[2], header[3]]) as usize;
    if !(7..=MAX_CONFIRM).contains(&len) {
        return Err(DecodeError::BadLength(len));
    }
    Ok(len)
}

/// Decode a whole TPKT that should carry a Connection Confirm.
pub fn decode_answer(pdu: &[u8]) -> Result<Answer, DecodeError> {
    let len = tpkt_length(pdu)?;
    if pdu.len() < len {
        return Err(DecodeError::Truncated {
            have: pdu.len(),
            need: len,
        });
    }
    let x224 = &pdu[4..len];
    let li = x224[0] as usize;
    if li + 1 > x224.len() || li < 2 {
        return Err(DecodeError::BadTpdu);
    }
    let code = x224[1] & 0xF0;
    match code {
        X224_CC => {}
        X224_DT | X224_DR => return Ok(Answer::Rejected),
        _ => return Err(DecodeError::BadTpdu),
    }
    if li < 6 {
        return Err(DecodeError::BadTpdu);
    }
    let var = &x224[7..=li];
    if var.is_empty() {
        return Ok(Answer::NoNegotiation);
    }
    if var.len() < 8 {
        return Err(DecodeError::BadNegotiation);
    }
    let (kind, flags) = (var[0], var[1]);
    let length = u16::from_le_bytes([var[2], var[3]]);
    let value = u32::from_le_bytes([var[4], var[5], var[6], var[7]]);
    if length != 8 {
        return Err(DecodeError::BadNegotiation);
    }
    match kind {
        TYPE_RDP_NEG_RSP => Ok(Answer::Response {
            flags,
            selected: value,
        }),
        TYPE_RDP_NEG_FAILURE => Ok(Answer::Failure { code: value }),
        _ => Err(DecodeError::BadNegotiation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_request_of_the_spec() {
        // TPKT(19) + LI 14 + CR + neg req 0x0B, no cookie.
        let cr = connection_request(Some(0x0B), None);
        assert_eq!(
            cr,
            [
                3, 0, 0, 19, 14, 0xE0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 0x0B, 0, 0, 0
            ]
        );
        let with_cookie = connection_request(Some(3), Some("probe"));
        assert_eq!(with_cookie.len(), 19 + "Cookie: mstshash=probe\r\n".len());
        assert_eq!(with_cookie[4] as usize, with_cookie.len() - 5);
        let legacy = connection_request(None, None);
        assert_eq!(legacy, [3, 0, 0, 11, 6, 0xE0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn decodes_what_xrdp_answers() {
        let rsp = [
            3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 1, 8, 0, 1, 0, 0, 0,
        ];
        assert_eq!(
            decode_answer(&rsp),
            Ok(Answer::Response {
                flags: 1,
                selected: 1
            })
        );
        let fail = [
            3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 3, 0, 8, 0, 3, 0, 0, 0,
        ];
        assert_eq!(decode_answer(&fail), Ok(Answer::Failure { code: 3 }));
        let legacy = [3, 0, 0, 11, 6, 0xd0, 0, 0, 0x12, 0x34, 0];
        assert_eq!(decode_answer(&legacy), Ok(Answer::NoNegotiation));
        let dpum = [3, 0, 0, 9, 2, 0xf0, 0x80, 0x21, 0x80];
        assert_eq!(decode_answer(&dpum), Ok(Answer::Rejected));
    }

    #[test]
    fn rejects_what_is_not_a_confirm() {
        assert_eq!(decode_answer(b"HTTP/1.1 400"), Err(DecodeError::NotTpkt));
        assert_eq!(
            decode_answer(&[3, 0, 0xff, 0xff]),
            Err(DecodeError::BadLength(0xffff))
        );
        assert_eq!(
            decode_answer(&[3, 0, 0, 19, 14, 0xd0]),
            Err(DecodeError::Truncated { have: 6, need: 19 })
        );
        assert_eq!(
            decode_answer(&[3, 0, 0, 11, 60, 0xd0, 0, 0, 0, 0, 0]),
            Err(DecodeError::BadTpdu)
        );
        assert_eq!(
            decode_answer(&[3, 0, 0, 15, 10, 0xd0, 0, 0, 0, 0, 0, 2, 1, 8, 0]),
            Err(DecodeError::BadNegotiation)
        );
        assert_eq!(
            decode_answer(&[3, 0]),
            Err(DecodeError::Truncated { have: 2, need: 4 })
        );
    }

    #[test]
    fn never_panics_on_any_short_input() {
        // Exhaustive over all 1- and 2-byte inputs, and a sweep of lengths.
        for a in 0..=255u8 {
            let _ = decode_answer(&[a]);
            for b in 0..=255u8 {
                let _ = decode_answer(&[a, b]);
            }
        }
        for len in 0..64usize {
            for li in 0..=255u8 {
                let mut v = vec![3, 0, 0, len as u8, li, 0xd0];
                v.resize(len.max(6), 0);
                let _ = decode_answer(&v);
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            protocol_name(0x0B),
            "PROTOCOL_SSL|PROTOCOL_HYBRID|PROTOCOL_HYBRID_EX"
        );
        assert_eq!(protocol_name(0), "PROTOCOL_RDP");
        assert_eq!(failure_name(5), "HYBRID_REQUIRED_BY_SERVER");
    }
}
