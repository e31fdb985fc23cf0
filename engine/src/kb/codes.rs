//! Decoding mstsc disconnect codes and extended (ERRINFO) codes from the
//! KB's code tables.

use serde::Serialize;

use crate::kb::model::{Code, CodePair, Codes};

/// Parse `0x904`, `904h`, `2308` (decimal) or `x904`.
pub fn parse_code(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_prefix('x'))
        .or_else(|| t.strip_suffix('h'));
    let parsed = match hex {
        Some(h) => u32::from_str_radix(h, 16),
        None => t.parse::<u32>(),
    };
    parsed.map_err(|_| format!("`{text}` is not a code: write it in hex (0x904) or decimal (2308)"))
}

/// What a code pair means.
#[derive(Debug, Clone, Serialize)]
pub struct Decoded<'a> {
    pub code: u32,
    pub extended: Option<u32>,
    pub disconnect: Option<&'a Code>,
    pub extended_entry: Option<&'a Code>,
    pub pair: Option<&'a CodePair>,
    /// For a disconnect code the table lacks: main reason from the low byte.
    pub main_reason: Option<&'static str>,
}

impl Decoded<'_> {
    /// One line for people: the pair's summary when the KB explains the
    /// pair, else what each code means; `None` when nothing is known.
    pub fn summary(&self) -> Option<String> {
        let codes = match self.extended {
            Some(x) => format!("{:#x}, extended {x:#x}", self.code),
            None => format!("{:#x}", self.code),
        };
        if let Some(p) = self.pair {
            return Some(format!("{codes}: {}", p.summary));
        }
        let main = self
            .disconnect
            .map(|c| c.meaning.clone())
            .or_else(|| self.main_reason.map(str::to_string))?;
        Some(match self.extended_entry {
            Some(x) => format!("{codes}: {main}; {}", x.meaning),
            None => format!("{codes}: {main}"),
        })
    }
}

/// Main-reason classes of a disconnect code's low byte (fact sheet §1.1).
pub fn main_reason(code: u32) -> Option<&'static str> {
    Some(match code & 0xff {
        0x1 => "local disconnect",
        0x2 => "remote disconnect by user",
        0x3 => "remote disconnect by server",
        0x4 => "network-layer error",
        0x6 => "security-layer error",
        0x7 => "SSL/CredSSP logon error",
        0x8 => "client UI-layer error",
        0x9 => "UI-layer error",
        _ => return None,
    })
}

pub fn decode(codes: &Codes, code: u32, extended: Option<u32>) -> Decoded<'_> {
    Decoded {
        code,
        extended,
        disconnect: codes.disconnect.iter().find(|c| c.code == code),
        extended_entry: extended.and_then(|x| codes.extended.iter().find(|c| c.code == x)),
        pair: extended.and_then(|x| {
            codes
                .pairs
                .iter()
                .find(|p| p.code == code && p.extended == x)
        }),
        main_reason: main_reason(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_decimal() {
        assert_eq!(parse_code("0x904"), Ok(0x904));
        assert_eq!(parse_code("2308"), Ok(0x904));
        assert_eq!(parse_code("904h"), Ok(0x904));
        assert!(parse_code("0xZZ").is_err());
        assert!(parse_code("").is_err());
        assert!(parse_code("99999999999").is_err());
    }
}
