//! Masking of personal data (个人信息) for readers who do not need it in full.
//!
//! The server masks before anything leaves it; logs never get the full value.

/// `11010519491231002X` → `110105********002X`: region and last four stay visible, so an
/// officer can tell two people apart without seeing the date of birth.
pub fn mask_id_number(id: &str) -> String {
    mask_middle(id, 6, 4)
}

/// `13812345678` → `138****5678`; landlines keep the area code and the last four digits.
pub fn mask_phone(phone: &str) -> String {
    match phone.split_once('-') {
        Some((area, rest)) => format!("{area}-{}", mask_middle(rest, 0, 4)),
        None => mask_middle(phone, 3, 4),
    }
}

fn mask_middle(text: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_start || i >= chars.len() - keep_end {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_keep_region_and_last_four() {
        assert_eq!(mask_id_number("11010519491231002X"), "110105********002X");
    }

    #[test]
    fn mobile_and_landline_numbers_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("010-12345678"), "010-****5678");
    }

    #[test]
    fn short_values_are_masked_entirely() {
        assert_eq!(mask_phone("1234"), "****");
    }
}
