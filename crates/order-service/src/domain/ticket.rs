//! Tickets: their codes and statuses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::UnknownValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum TicketStatus {
    Valid,
    Used,
    Void,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "VALID",
            Self::Used => "USED",
            Self::Void => "VOID",
        }
    }
}

impl TryFrom<String> for TicketStatus {
    type Error = UnknownValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "VALID" => Ok(Self::Valid),
            "USED" => Ok(Self::Used),
            "VOID" => Ok(Self::Void),
            _ => Err(UnknownValue {
                what: "ticket status",
                value,
            }),
        }
    }
}

service_kit::text_column!(TicketStatus);

impl std::fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A ticket's code: 128 random bits, base64url without padding (22 characters). Whoever holds it
/// holds the ticket, so it must not be guessable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketCode(String);

impl TicketCode {
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A code as a client sends it: the shape only (the database says whether it exists).
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == 22
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_22_url_safe_characters_and_do_not_repeat() {
        let codes: HashSet<String> = (0..1000)
            .map(|_| TicketCode::random().as_str().to_owned())
            .collect();
        assert_eq!(codes.len(), 1000);
        for code in codes.iter().take(10) {
            assert!(TicketCode::parse(code).is_some(), "{code}");
        }
        assert!(TicketCode::parse("short").is_none());
        assert!(TicketCode::parse("aaaaaaaaaaaaaaaaaaaa/=").is_none());
    }
}
