use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A new password: at least 10 characters (the contract), at most 1024 so that hashing an
/// attacker's megabyte cannot be used to burn CPU. Never printed.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 1024;

    pub fn parse(raw: String) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(format!("must be at least {} characters", Self::MIN_CHARS));
        }
        if chars > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        Ok(Self(SecretString::from(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_bounded_in_characters() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("exactly10!".into()).is_ok());
        assert!(
            Password::parse("ééééééééé".into()).is_err(),
            "9 characters, 18 bytes"
        );
        assert!(Password::parse("x".repeat(1025)).is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let p = Password::parse("correct horse battery".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
