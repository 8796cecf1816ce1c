//! Field evidence: coordinate datums, geofences, the verdict on a check-in, and the rules of
//! declared photos, videos and documents.

pub mod checkin;
pub mod datum;
pub mod device;
pub mod evidence;

pub use checkin::{CheckinFlag, CheckinPolicy, Geofence, Verdict, judge};
pub use datum::{Datum, LatLng};
