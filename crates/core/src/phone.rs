//! Phone numbers: every lead's phone is stored in E.164 form.

use phonenumber::{Mode, country};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("'{0}' is not a phone number")]
    Unparseable(String),
    #[error("'{0}' has too few or too many digits for a phone number")]
    BadLength(String),
}

/// Turns what people type (`0912 345 6789`, `+1 (415) 555-0100`, `00 44 20…`) into E.164,
/// reading numbers without a country code in a configured default region.
#[derive(Debug, Clone)]
pub struct PhoneNormalizer {
    region: Option<country::Id>,
}

impl PhoneNormalizer {
    /// `region` is an ISO 3166 alpha-2 code such as `US`, `IN` or `IR`; `None` accepts only
    /// numbers written with their country code.
    pub fn new(region: Option<&str>) -> Result<Self, String> {
        let region =
            match region.map(str::trim).filter(|r| !r.is_empty()) {
                None => None,
                Some(r) => Some(r.to_ascii_uppercase().parse::<country::Id>().map_err(|_| {
                    format!("'{r}' is not an ISO 3166 region code such as US or IN")
                })?),
            };
        Ok(Self { region })
    }

    pub fn normalize(&self, raw: &str) -> Result<String, PhoneError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        // `00` is the international prefix almost everywhere; libphonenumber only knows it
        // when the default region uses it, so spell it as `+`.
        let owned;
        let input = if let Some(rest) = trimmed.strip_prefix("00") {
            owned = format!("+{rest}");
            owned.as_str()
        } else {
            trimmed
        };
        let number = phonenumber::parse(self.region, input)
            .map_err(|_| PhoneError::Unparseable(trimmed.to_string()))?;
        let e164 = number.format().mode(Mode::E164).to_string();
        let digits = e164.len().saturating_sub(1);
        if !(8..=15).contains(&digits) {
            return Err(PhoneError::BadLength(trimmed.to_string()));
        }
        Ok(e164)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_national_and_international_forms() {
        let ir = PhoneNormalizer::new(Some("ir")).unwrap();
        assert_eq!(ir.normalize("09123456789").unwrap(), "+989123456789");
        assert_eq!(ir.normalize("+98 912 345 6789").unwrap(), "+989123456789");
        assert_eq!(ir.normalize("0098 912 345 6789").unwrap(), "+989123456789");
        let us = PhoneNormalizer::new(Some("US")).unwrap();
        assert_eq!(us.normalize("(415) 555-0100").unwrap(), "+14155550100");
        assert_eq!(us.normalize("+1234567890").unwrap(), "+1234567890");
    }

    #[test]
    fn rejects_garbage() {
        let us = PhoneNormalizer::new(Some("US")).unwrap();
        assert_eq!(us.normalize("  "), Err(PhoneError::Empty));
        assert!(us.normalize("hello").is_err());
        assert!(us.normalize("12").is_err());
        let none = PhoneNormalizer::new(None).unwrap();
        assert!(none.normalize("4155550100").is_err());
        assert!(PhoneNormalizer::new(Some("XX")).is_err());
    }
}
