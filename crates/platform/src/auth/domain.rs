//! Validated newtypes: a [`Username`] or [`Password`] can only hold an acceptable value.

use super::AuthError;

/// Usernames are 3 to 32 characters.
pub const USERNAME_LEN_MIN: usize = 3;
/// See [`USERNAME_LEN_MIN`].
pub const USERNAME_LEN_MAX: usize = 32;
/// NIST SP 800-63B: at least 8 characters.
pub const PASSWORD_LEN_MIN: usize = 8;
/// Argon2 cost grows with input; cap it so a megabyte "password" cannot be a DoS.
pub const PASSWORD_LEN_MAX: usize = 256;

/// A username: lowercase ASCII letters, digits, `_`, `.` and `-`, starting with a letter
/// or digit. Case-folded on parse so `Alice` and `alice` are one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Validate and normalise.
    pub fn parse(raw: &str) -> Result<Username, AuthError> {
        let name = raw.trim().to_ascii_lowercase();
        let length = name.chars().count();
        let reason = if !(USERNAME_LEN_MIN..=USERNAME_LEN_MAX).contains(&length) {
            Some(format!("must be {USERNAME_LEN_MIN} to {USERNAME_LEN_MAX} characters"))
        } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            Some("may contain only letters, digits, '_', '.' and '-'".to_owned())
        } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            Some("must start with a letter or digit".to_owned())
        } else {
            None
        };
        match reason {
            Some(reason) => Err(AuthError::InvalidUsername { reason }),
            None => Ok(Username(name)),
        }
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password within the length bounds. Never printed: `Debug` is redacted.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Validate length (in characters).
    pub fn parse(raw: &str) -> Result<Password, AuthError> {
        let length = raw.chars().count();
        if !(PASSWORD_LEN_MIN..=PASSWORD_LEN_MAX).contains(&length) {
            return Err(AuthError::InvalidPassword {
                reason: format!("must be {PASSWORD_LEN_MIN} to {PASSWORD_LEN_MAX} characters"),
            });
        }
        Ok(Password(raw.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_case_folded_and_trimmed() {
        assert_eq!(Username::parse("  Alice ").unwrap().as_str(), "alice");
    }

    #[test]
    fn usernames_outside_the_rules_are_refused() {
        for bad in ["ab", "a b c", "_alice", "x".repeat(33).as_str(), "al/ice", "ålice"] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_must_be_within_length_bounds_and_never_print() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(257)).is_err());
        let password = Password::parse("correct horse").unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }
}
