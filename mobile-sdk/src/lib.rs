//! Loanwatch's field SDK: one Rust core for the Android and iOS apps of field officers,
//! exported through uniffi (Kotlin, Swift; Python for the binding tests).
//!
//! A visit works without a network: [`Client::download_agenda`] keeps the officer's tasks, the
//! borrowers' sites, the loans and the checklist templates on the device; check-ins are judged
//! by the same domain code as the server's; answers are validated against the same template
//! rules; photos are watermarked ([`Watermarker`]) and kept with their SHA-256. Everything done
//! is written to the device's SQLite outbox (`synchronous=FULL`) before anything is sent, and
//! [`Client::sync`] sends it in order when the network returns.

mod client;
mod device;
mod error;
mod http;
mod store;
mod sync;
pub mod watermark;

pub use client::{
    AgendaTask, CheckinVerdict, Checklist, ChecklistItem, Client, ItemIssue, LocationFix, Officer,
    VerdictReason,
};
pub use error::SdkError;
pub use sync::{OutboxItem, SyncProgress, SyncReport};
pub use watermark::{Stamp, WatermarkedPhoto, Watermarker};

uniffi::setup_scaffolding!();
