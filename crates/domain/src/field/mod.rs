//! Field evidence: coordinate datums, geofences and the verdict on a check-in.

pub mod checkin;
pub mod datum;

pub use checkin::{CheckinFlag, CheckinPolicy, Geofence, Verdict, judge};
pub use datum::{Datum, LatLng};
