//! Device keys: at enrolment an officer's phone creates an Ed25519 key pair and registers the
//! public key; it signs each piece of evidence it declares, and the server verifies the
//! signature when the upload completes. The signed bytes are defined here, once, so the phone
//! and the server cannot drift apart.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// What a device signs for a piece of evidence: its id and task, the SHA-256 and size of the
/// bytes, when it was captured, and the fix of the capture metadata (`latitude`, `longitude`,
/// `datum`, `accuracy_m`; empty where absent). One field per line, so no field can run into the
/// next.
pub fn evidence_message(
    evidence_id: &str,
    task_id: &str,
    sha256: &str,
    size_bytes: u64,
    captured_at: DateTime<Utc>,
    capture: &Value,
) -> Vec<u8> {
    let field = |k: &str| match capture.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.as_f64().map(|f| f.to_string()).unwrap_or_default(),
        _ => String::new(),
    };
    format!(
        "loanwatch-evidence-v1\nid={evidence_id}\ntask={task_id}\nsha256={sha256}\nsize={size_bytes}\n\
         captured_at={}\nfix={},{},{},{}\n",
        captured_at.timestamp_millis(),
        field("latitude"),
        field("longitude"),
        field("datum"),
        field("accuracy_m"),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_every_signed_fact_once() {
        let at = DateTime::from_timestamp_millis(1_795_000_000_123).unwrap_or_default();
        let capture = serde_json::json!({
            "accuracy_m": 8.5, "datum": "gcj02", "latitude": 39.9042, "longitude": 116.4074,
            "officer": "王晓明",
        });
        let m = evidence_message("e1", "t1", "ab", 42, at, &capture);
        assert_eq!(
            String::from_utf8_lossy(&m),
            "loanwatch-evidence-v1\nid=e1\ntask=t1\nsha256=ab\nsize=42\ncaptured_at=1795000000123\n\
             fix=39.9042,116.4074,gcj02,8.5\n"
        );
        // Another task, size or place is another message.
        assert_ne!(m, evidence_message("e1", "t2", "ab", 42, at, &capture));
        assert_ne!(m, evidence_message("e1", "t1", "ab", 43, at, &capture));
        let moved = serde_json::json!({ "latitude": 39.9043, "longitude": 116.4074 });
        assert_ne!(m, evidence_message("e1", "t1", "ab", 42, at, &moved));
        // Integers and floats of the same value read the same.
        let whole = serde_json::json!({ "accuracy_m": 8, "latitude": 39, "longitude": 116, "datum": "wgs84" });
        let float = serde_json::json!({ "accuracy_m": 8.0, "latitude": 39.0, "longitude": 116.0, "datum": "wgs84" });
        assert_eq!(
            evidence_message("e", "t", "s", 1, at, &whole),
            evidence_message("e", "t", "s", 1, at, &float)
        );
    }
}
