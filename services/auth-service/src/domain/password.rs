use super::InvalidField;

/// A password a user may choose: 8 to 72 bytes (bcrypt reads no further than 72, so
/// a longer one would silently be truncated).
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_BYTES: usize = 72;

    pub fn parse(raw: String) -> Result<Self, InvalidField> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(InvalidField::new(
                "password",
                "must be at least 8 characters",
            ));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(InvalidField::new("password", "must be at most 72 bytes"));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

// Never print a password, even by accident.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("é".repeat(8)).is_ok());
        assert!(Password::parse("a".repeat(73)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("secret-pass".into()).expect("ok")),
            "Password(***)"
        );
    }
}
