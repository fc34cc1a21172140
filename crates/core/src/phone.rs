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

/// `+` and 8 to 15 digits: the shape of E.164, the form every stored phone has. Not proof
/// that a number is in its normalized form (`+114155550170` has the shape; normalized, it is
/// `+14155550170`).
pub fn looks_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

impl PhoneNormalizer {
    /// `typed` as a whole phone number that its country gives out, in E.164; `None` for a
    /// part of a number (`5550123`), digits no numbering plan has, or text that is not written
    /// as people write numbers (digits, `+`, spaces, dashes, brackets, dots).
    pub fn whole_number(&self, typed: &str) -> Option<String> {
        let typed = typed.trim();
        let written_as_number = typed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !written_as_number || typed.chars().filter(char::is_ascii_digit).count() < 7 {
            return None;
        }
        let e164 = self.normalize(typed).ok()?;
        let number = phonenumber::parse(None, &e164).ok()?;
        phonenumber::is_valid(&number).then_some(e164)
    }

    /// What a person's partial number can start with in E.164: the digits as typed (`+` and
    /// the digits), and, when typed without `+`/`00`, the default region's country code with
    /// the digits (a national trunk `0` dropped). Empty when fewer than 3 digits are given.
    pub fn search_prefixes(&self, typed: &str) -> Vec<String> {
        let t = typed.trim();
        let international = t.starts_with('+') || t.starts_with("00");
        let mut digits: String = t.chars().filter(char::is_ascii_digit).collect();
        if t.starts_with("00") {
            digits.drain(..2);
        }
        if digits.len() < 3 {
            return Vec::new();
        }
        let mut out = vec![format!("+{digits}")];
        if !international
            && let Some(cc) = self.region.and_then(|r| {
                phonenumber::metadata::DATABASE
                    .by_id(r.as_ref())
                    .map(|m| m.country_code())
            })
        {
            let national = digits.trim_start_matches('0');
            let p = format!("+{cc}{national}");
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_and_parts_of_numbers() {
        let us = PhoneNormalizer::new(Some("US")).unwrap();
        for (typed, whole) in [
            ("4155550170", Some("+14155550170")),
            ("(415) 555-0170", Some("+14155550170")),
            ("+1 415 555 0170", Some("+14155550170")),
            ("+44 20 7946 0958", Some("+442079460958")),
            ("5550170", None),
            ("415555017", None),
            ("+1415", None),
            ("Ann", None),
            ("tel 4155550170", None),
            ("4155550170x", None),
        ] {
            assert_eq!(us.whole_number(typed).as_deref(), whole, "{typed}");
        }
        // Without a default region, only numbers with their country code.
        let none = PhoneNormalizer::new(None).unwrap();
        assert_eq!(none.whole_number("4155550170"), None);
        assert_eq!(
            none.whole_number("+14155550170").as_deref(),
            Some("+14155550170")
        );
    }

    #[test]
    fn the_shape_of_e164() {
        for s in [
            "+14155550170",
            "+4420712345",
            "+123456789012345",
            "+114155550170",
        ] {
            assert!(looks_e164(s), "{s}");
        }
        for s in [
            "14155550170",
            "+1415555",
            "+1234567890123456",
            "+1 415 555 0170",
            "+",
            "",
        ] {
            assert!(!looks_e164(s), "{s}");
        }
    }

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
    fn search_prefixes_with_and_without_country_code() {
        let us = PhoneNormalizer::new(Some("US")).unwrap();
        assert_eq!(us.search_prefixes("415-200"), ["+415200", "+1415200"]);
        assert_eq!(us.search_prefixes("+1 415"), ["+1415"]);
        assert_eq!(us.search_prefixes("0044 20"), ["+4420"]);
        assert!(us.search_prefixes("41").is_empty());
        let ir = PhoneNormalizer::new(Some("IR")).unwrap();
        assert_eq!(ir.search_prefixes("0912 345"), ["+0912345", "+98912345"]);
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
