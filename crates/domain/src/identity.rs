//! Identity numbers of Chinese borrowers and guarantors, checked with their check characters.
//!
//! - Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters from a 31-letter
//!   alphabet (no I, O, S, V, Z); the last is a mod-31 check character.
//! - Resident identity card number (公民身份号码, GB 11643-1999): 17 digits and a mod-11 check
//!   character (`0`–`9` or `X`); digits 7–14 are the date of birth.
//! - Phone numbers: mainland mobile numbers (11 digits, `1[3-9]…`) or landlines with area code.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::DomainError;

const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// A unified social credit code whose check character is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

impl CreditCode {
    /// Parses and checks a code; lower-case letters are accepted and upper-cased.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        const FIELD: &str = "credit_code";
        let code = text.trim().to_ascii_uppercase();
        if code.len() != 18 {
            return Err(DomainError::invalid(FIELD, "must be 18 characters"));
        }
        let values = code
            .bytes()
            .map(|b| USCC_ALPHABET.iter().position(|&a| a == b).map(|p| p as u32))
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| {
                DomainError::invalid(
                    FIELD,
                    "may only contain digits and the letters A–Y except I, O, S, V",
                )
            })?;
        let expected = uscc_check(&values[..17]);
        if values[17] != expected {
            return Err(DomainError::invalid(
                FIELD,
                format!(
                    "check character is {:?}, expected {:?}",
                    code.as_bytes()[17] as char,
                    USCC_ALPHABET[expected as usize] as char
                ),
            ));
        }
        Ok(Self(code))
    }

    /// Completes 17 leading characters with their check character. `None` when a character is
    /// outside the alphabet or the length is wrong.
    pub fn complete(first17: &str) -> Option<Self> {
        if first17.len() != 17 {
            return None;
        }
        let values = first17
            .bytes()
            .map(|b| USCC_ALPHABET.iter().position(|&a| a == b).map(|p| p as u32))
            .collect::<Option<Vec<u32>>>()?;
        let check = USCC_ALPHABET[uscc_check(&values) as usize] as char;
        Some(Self(format!("{first17}{check}")))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn uscc_check(values: &[u32]) -> u32 {
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    (31 - sum % 31) % 31
}

impl TryFrom<String> for CreditCode {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CreditCode> for String {
    fn from(value: CreditCode) -> Self {
        value.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A resident identity card number whose check character and date of birth are right.
///
/// Deliberately not `Display`: it is personal data, shown only through [`crate::masking`] to
/// roles that may not see it in full.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResidentId(String);

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", crate::masking::mask_id_number(&self.0))
    }
}

impl ResidentId {
    /// Parses and checks an 18-character number; a trailing lower-case `x` is accepted.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        const FIELD: &str = "id_number";
        let id = text.trim().to_ascii_uppercase();
        let bytes = id.as_bytes();
        if bytes.len() != 18 {
            return Err(DomainError::invalid(FIELD, "must be 18 characters"));
        }
        if !bytes[..17].iter().all(u8::is_ascii_digit) {
            return Err(DomainError::invalid(
                FIELD,
                "the first 17 characters must be digits",
            ));
        }
        let birth = std::str::from_utf8(&bytes[6..14]).unwrap_or_default();
        let born = NaiveDate::parse_from_str(birth, "%Y%m%d").map_err(|_| {
            DomainError::invalid(FIELD, "digits 7–14 are not a valid date of birth")
        })?;
        if born < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN) {
            return Err(DomainError::invalid(FIELD, "date of birth before 1900"));
        }
        let expected = id_check(&bytes[..17]);
        if bytes[17] != expected {
            return Err(DomainError::invalid(
                FIELD,
                format!("check character is wrong, expected {:?}", expected as char),
            ));
        }
        Ok(Self(id))
    }

    /// Completes 17 digits with their check character; `None` if they are not 17 digits.
    pub fn complete(first17: &str) -> Option<Self> {
        let bytes = first17.as_bytes();
        if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let check = id_check(bytes) as char;
        Some(Self(format!("{first17}{check}")))
    }

    /// The full number. Callers decide whether the reader may see it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn id_check(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK[(sum % 11) as usize]
}

impl TryFrom<String> for ResidentId {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ResidentId> for String {
    fn from(value: ResidentId) -> Self {
        value.0
    }
}

/// A Chinese phone number: a mobile number (`13812345678`, optionally `+86`) or a landline with
/// its area code (`010-12345678`, `0571-8765432`, extension after `-` allowed).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", crate::masking::mask_phone(&self.0))
    }
}

impl Phone {
    /// Parses a phone number, dropping spaces and a `+86` prefix.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        const FIELD: &str = "phone";
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let number = compact.strip_prefix("+86").unwrap_or(&compact).to_owned();
        let b = number.as_bytes();
        let mobile = b.len() == 11
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
            && b.iter().all(u8::is_ascii_digit);
        let landline = {
            let mut parts = number.split('-');
            let area = parts.next().unwrap_or_default();
            let local = parts.next().unwrap_or_default();
            let ext = parts.next();
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
            parts.next().is_none()
                && area.starts_with('0')
                && (3..=4).contains(&area.len())
                && digits(area)
                && (7..=8).contains(&local.len())
                && digits(local)
                && ext.is_none_or(|e| digits(e) && e.len() <= 6)
        };
        if mobile || landline {
            Ok(Self(number))
        } else {
            Err(DomainError::invalid(
                FIELD,
                "must be an 11-digit mobile number or a landline such as 010-12345678",
            ))
        }
    }

    /// The full number. Callers decide whether the reader may see it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Phone> for String {
    fn from(value: Phone) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_published_credit_code_is_accepted() {
        // The sample code printed in GB 32100-2015 guidance material.
        assert!(CreditCode::parse("91350100M000100Y43").is_ok());
        assert!(CreditCode::parse("91350100m000100y43").is_ok());
    }

    #[test]
    fn a_credit_code_with_a_wrong_check_character_is_rejected() {
        let err = CreditCode::parse("91350100M000100Y44").err();
        assert!(matches!(
            err,
            Some(DomainError::Invalid {
                field: "credit_code",
                ..
            })
        ));
    }

    #[test]
    fn a_credit_code_with_forbidden_letters_or_length_is_rejected() {
        assert!(CreditCode::parse("91350100I000100Y43").is_err());
        assert!(CreditCode::parse("91350100M000100Y4").is_err());
        assert!(CreditCode::parse("").is_err());
        assert!(CreditCode::parse("91350100M000100Y4３").is_err());
    }

    #[test]
    fn the_textbook_resident_id_is_accepted() {
        assert!(ResidentId::parse("11010519491231002X").is_ok());
        assert!(ResidentId::parse("11010519491231002x").is_ok());
    }

    #[test]
    fn a_resident_id_with_a_wrong_check_digit_or_birth_date_is_rejected() {
        assert!(ResidentId::parse("110105194912310021").is_err());
        // 1949-13-31 is no date.
        let mut bad = String::from("11010519491331002");
        bad.push(id_check(bad.as_bytes()) as char);
        assert!(ResidentId::parse(&bad).is_err());
        assert!(ResidentId::parse("1101051949123100").is_err());
    }

    #[test]
    fn phone_numbers_of_both_kinds_are_accepted_and_others_rejected() {
        for ok in [
            "13812345678",
            "+86 138 1234 5678",
            "010-12345678",
            "0571-8765432",
            "0571-87654321-123",
        ] {
            assert!(Phone::parse(ok).is_ok(), "{ok} rejected");
        }
        for bad in [
            "12812345678",
            "1381234567",
            "12345",
            "010-123",
            "abc",
            "010-12345678-1234567",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn debug_output_never_shows_the_full_number() {
        let id = ResidentId::parse("11010519491231002X").ok();
        let shown = format!("{id:?}");
        assert!(!shown.contains("11010519491231002X"), "{shown}");
    }

    proptest! {
        #[test]
        fn completed_credit_codes_always_parse(body in "[0-9A-HJ-NP-RTUWXY]{17}") {
            let code = CreditCode::complete(&body).ok_or_else(|| TestCaseError::fail("not completed"))?;
            prop_assert!(CreditCode::parse(code.as_str()).is_ok());
        }

        #[test]
        fn changing_one_credit_code_character_is_detected(body in "[0-9A-HJ-NP-RTUWXY]{17}", pos in 0usize..18, shift in 1usize..31) {
            let code = CreditCode::complete(&body).ok_or_else(|| TestCaseError::fail("not completed"))?;
            let mut bytes = code.as_str().as_bytes().to_vec();
            let idx = USCC_ALPHABET.iter().position(|&a| a == bytes[pos]).unwrap_or(0);
            bytes[pos] = USCC_ALPHABET[(idx + shift) % 31];
            let changed = String::from_utf8(bytes).unwrap_or_default();
            prop_assert!(CreditCode::parse(&changed).is_err());
        }

        #[test]
        fn changing_one_resident_id_digit_is_detected(day in 1u32..=28, pos in 0usize..17, delta in 1u8..10) {
            let mut first = format!("3301061985{:02}{:02}123", 6, day);
            let id = ResidentId::complete(&first).ok_or_else(|| TestCaseError::fail("not completed"))?;
            prop_assert!(ResidentId::parse(id.expose()).is_ok());
            let bytes = shift_digit(&first, pos, delta);
            first = bytes;
            let mut changed = first.clone();
            changed.push(id.expose().as_bytes()[17] as char);
            prop_assert!(ResidentId::parse(&changed).is_err());
        }
    }

    fn shift_digit(s: &str, pos: usize, delta: u8) -> String {
        s.bytes()
            .enumerate()
            .map(|(i, b)| {
                if i == pos {
                    (b'0' + (b - b'0' + delta) % 10) as char
                } else {
                    b as char
                }
            })
            .collect()
    }
}
