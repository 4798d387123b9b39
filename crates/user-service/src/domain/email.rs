use std::fmt;

/// An e-mail address as the user typed it (trimmed). Uniqueness ignores case; the database
/// enforces it on `email_key` (see [`email_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// RFC 5321 limits a path to 254 characters (octets; an address longer in characters is
    /// longer in octets too).
    pub const MAX_CHARS: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.len() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        let valid = email_address::EmailAddress::is_valid(raw)
            // Addresses without a dotted domain are valid RFC 5322 but undeliverable here.
            && raw.rsplit_once('@').is_some_and(|(_, domain)| domain.contains('.'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be a valid e-mail address".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used to compare addresses (see [`email_key`]).
    pub fn key(&self) -> String {
        email_key(&self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How addresses are compared: trimmed and lower-cased (Unicode-aware). Login looks accounts up
/// by this key without validating the address first.
pub fn email_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        assert_eq!(
            Email::parse(" Ada@Example.com ").unwrap().as_str(),
            "Ada@Example.com"
        );
        assert!(Email::parse("first.last+tag@sub.example.co.uk").is_ok());
    }

    #[test]
    fn refuses_what_cannot_be_delivered() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn compares_case_insensitively_beyond_ascii() {
        assert_eq!(
            Email::parse("Ada@Example.COM").unwrap().key(),
            "ada@example.com"
        );
        assert_eq!(
            Email::parse("Émile@Exemple.fr").unwrap().key(),
            "émile@exemple.fr"
        );
        assert_eq!(email_key(" ÉMILE@exemple.fr "), "émile@exemple.fr");
    }
}
