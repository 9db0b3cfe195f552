use super::InvalidField;

fn bounded_text(field: &'static str, raw: &str, max_chars: usize) -> Result<String, InvalidField> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(InvalidField::new(field, "is required"));
    }
    if text.chars().count() > max_chars {
        return Err(InvalidField::new(
            field,
            format!("is longer than {max_chars} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(InvalidField::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

/// A person's display name: 1–100 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        bounded_text("name", raw, 100).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A doctor's specialization: 1–100 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specialization(String);

impl Specialization {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        bounded_text("specialization", raw, 100).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time-zone name that the tz database knows (`Europe/London`, `UTC`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let name = raw.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(InvalidField::new(
                "timezone",
                "must be an IANA time-zone name",
            ));
        }
        match jiff::tz::TimeZone::get(name) {
            // Keep the canonical spelling the database uses.
            Ok(tz) => Ok(Self(tz.iana_name().unwrap_or(name).to_owned())),
            Err(_) => Err(InvalidField::new(
                "timezone",
                format!("{name:?} is not a known IANA time-zone name"),
            )),
        }
    }

    pub fn utc() -> Self {
        Self("UTC".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones() {
        assert_eq!(
            TimeZoneName::parse("Europe/London").expect("ok").as_str(),
            "Europe/London"
        );
        assert_eq!(TimeZoneName::parse("UTC").expect("ok").as_str(), "UTC");
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        assert!(TimeZoneName::parse("").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(PersonName::parse("  Ada  ").expect("ok").as_str(), "Ada");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
        assert!(Specialization::parse("Cardiology").is_ok());
    }
}
