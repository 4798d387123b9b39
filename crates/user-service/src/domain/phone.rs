/// A phone number, kept as digits with an optional leading `+` (spaces, dashes, dots and
/// parentheses are dropped): 6 to 15 digits, the E.164 maximum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (plus, rest) = match raw.strip_prefix('+') {
            Some(rest) => ("+", rest),
            None => ("", raw),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err("may contain only digits, spaces, dashes and a leading +".into()),
            }
        }
        if !(6..=15).contains(&digits.len()) {
            return Err("must have 6 to 15 digits".into());
        }
        Ok(Self(format!("{plus}{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_punctuation_away() {
        assert_eq!(
            Phone::parse("+44 (20) 7946-0958").unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(Phone::parse("9895305694").unwrap().as_str(), "9895305694");
    }

    #[test]
    fn refuses_letters_and_odd_lengths() {
        assert!(Phone::parse("call me").is_err());
        assert!(Phone::parse("12345").is_err());
        assert!(Phone::parse("1234567890123456").is_err());
        assert!(Phone::parse("12+345678").is_err());
    }
}
