use super::InvalidField;

/// An email address: trimmed, at most 254 characters, one `@` between a local part
/// and a dotted domain. Two addresses that differ only in case are the same account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    as_given: String,
    normalized: String,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let invalid = |why: &str| InvalidField::new("email", why);
        let email = raw.trim();
        if email.is_empty() {
            return Err(invalid("is required"));
        }
        if email.chars().count() > 254 {
            return Err(invalid("is longer than 254 characters"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("is not an email address"));
        };
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return Err(invalid("is not an email address"));
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !domain.contains('.') || !labels_ok {
            return Err(invalid("has no valid domain"));
        }
        Ok(Self {
            as_given: email.to_owned(),
            normalized: email.to_lowercase(),
        })
    }

    /// As the user typed it (trimmed), for display.
    pub fn as_str(&self) -> &str {
        &self.as_given
    }

    /// The form that decides uniqueness and login.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_addresses() {
        let email = Email::parse("  Jane.Doe+x@Example.co.uk ").expect("valid");
        assert_eq!(email.as_str(), "Jane.Doe+x@Example.co.uk");
        assert_eq!(email.normalized(), "jane.doe+x@example.co.uk");
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "",
            "plain",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@example..com",
            "a@-example.com",
            "a@example.com-",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn normalisation_ignores_case_and_is_idempotent(
            local in "[A-Za-z0-9._%+-]{1,20}", domain in "[A-Za-z0-9]{1,10}", tld in "[A-Za-z]{2,6}"
        ) {
            let raw = format!("{local}@{domain}.{tld}");
            let email = Email::parse(&raw).expect("valid");
            let upper = Email::parse(&raw.to_uppercase()).expect("valid");
            prop_assert_eq!(email.normalized(), upper.normalized());
            let again = Email::parse(email.normalized()).expect("valid");
            prop_assert_eq!(again.normalized(), email.normalized());
        }

        #[test]
        fn never_panics(raw in "\\PC{0,300}") {
            let _ = Email::parse(&raw);
        }
    }
}
