//! Field evidence: borrowers' sites and officers' check-ins with their verdicts.

use chrono::{DateTime, Utc};
use loanwatch_domain::field::{
    CheckinFlag, Datum, Geofence, LatLng,
    evidence::{EvidenceKind, EvidenceStatus},
};
use serde::{Deserialize, Serialize};

/// A position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Coordinates {
    /// Latitude, −90 to 90.
    pub latitude: f64,
    /// Longitude, −180 to 180.
    pub longitude: f64,
}

/// A site's geofence as captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SiteGeometry {
    /// Within a radius of a centre.
    Circle {
        /// Centre.
        center: Coordinates,
        /// Radius in metres, up to 10,000.
        radius_m: f64,
    },
    /// Inside a polygon of 3 to 500 vertices.
    Polygon {
        /// Vertices in order.
        vertices: Vec<Coordinates>,
    },
}

impl SiteGeometry {
    /// The geofence this geometry draws in `datum`: the server judges check-ins by it, and the
    /// phone by the same conversion. The error names the field at fault and what is wrong.
    pub fn geofence(&self, datum: Datum) -> Result<Geofence, (&'static str, String)> {
        let point = |c: &Coordinates, field: &'static str| {
            LatLng::new(c.latitude, c.longitude).ok_or((
                field,
                "latitude must be within −90 to 90 and longitude within −180 to 180".to_owned(),
            ))
        };
        match self {
            Self::Circle { center, radius_m } => {
                Geofence::circle(point(center, "geometry/circle/center")?, datum, *radius_m)
                    .map_err(|e| ("geometry/circle/radius_m", e.to_string()))
            }
            Self::Polygon { vertices } => {
                let ring = vertices
                    .iter()
                    .map(|v| point(v, "geometry/polygon/vertices"))
                    .collect::<Result<Vec<_>, _>>()?;
                Geofence::polygon(&ring, datum)
                    .map_err(|e| ("geometry/polygon/vertices", e.to_string()))
            }
        }
    }
}

/// A site to register for a borrower.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSite {
    /// What it is: factory, office, warehouse, collateral.
    pub name: String,
    /// The datum the coordinates were captured in.
    pub datum: Datum,
    /// The geofence.
    pub geometry: SiteGeometry,
}

/// A borrower's registered site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Site {
    /// Id.
    pub id: String,
    /// Borrower.
    pub borrower_id: String,
    /// Name.
    pub name: String,
    /// Datum of the geometry.
    pub datum: Datum,
    /// Geofence as captured.
    pub geometry: SiteGeometry,
    /// Registered at.
    pub created_at: DateTime<Utc>,
}

/// A check-in from the device, possibly made offline and sent later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateCheckin {
    /// The phone's UUID for this check-in: sending it again returns the first answer; other
    /// content under the same id is a conflict.
    pub id: String,
    /// Where.
    pub position: Coordinates,
    /// In which datum.
    pub datum: Datum,
    /// Accuracy radius in metres (more than 0).
    pub accuracy_m: f64,
    /// Location provider: `gps`, `network`, `fused`…
    pub provider: String,
    /// Whether the platform flagged the location as mocked.
    pub mock_location: bool,
    /// Device clock when the officer checked in.
    pub device_time: DateTime<Utc>,
    /// When the position was fixed.
    pub fix_time: DateTime<Utc>,
    /// Device clock when this request was sent (absent: `device_time`, a live check-in).
    pub sent_at: Option<DateTime<Utc>>,
}

/// Why a check-in is not trusted as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckinReason {
    /// The flag.
    pub flag: CheckinFlag,
    /// What was measured.
    pub detail: String,
}

/// A check-in with the server's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Checkin {
    /// The phone's id.
    pub id: String,
    /// Task.
    pub task_id: String,
    /// Borrower.
    pub borrower_id: String,
    /// Officer.
    pub officer_id: String,
    /// Position as reported.
    pub position: Coordinates,
    /// Its datum.
    pub datum: Datum,
    /// The position in WGS-84.
    pub wgs84: Coordinates,
    /// Accuracy radius, metres.
    pub accuracy_m: f64,
    /// Location provider.
    pub provider: String,
    /// Mock location reported.
    pub mock_location: bool,
    /// Device clock at check-in.
    pub device_time: DateTime<Utc>,
    /// Fix time.
    pub fix_time: DateTime<Utc>,
    /// Server clock on arrival.
    pub received_at: DateTime<Utc>,
    /// When the check-in happened on the server's clock (device time corrected by the device
    /// clock's measured error).
    pub checked_in_at: DateTime<Utc>,
    /// The nearest registered site.
    pub site_id: Option<String>,
    /// Metres outside that site's geofence (0 inside).
    pub distance_m: Option<f64>,
    /// Every reason it is not trusted; empty when trusted.
    pub reasons: Vec<CheckinReason>,
    /// Inside a geofence with nothing flagged.
    pub trusted: bool,
    /// When the officer checked out.
    pub checked_out_at: Option<DateTime<Utc>>,
}

/// A check-out; times default to now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckOut {
    /// Device clock when the officer checked out.
    pub device_time: Option<DateTime<Utc>>,
    /// Device clock when this request was sent.
    pub sent_at: Option<DateTime<Utc>>,
}

/// A photo, video or document to declare for a task, before uploading its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeclareEvidence {
    /// The phone's UUID for this piece of evidence.
    pub id: String,
    /// The checklist item it answers (e.g. `site_photos`).
    pub item_key: String,
    /// Photo, video or document.
    pub kind: EvidenceKind,
    /// MIME type: photos `image/jpeg`, `image/png`, `image/heic`; videos `video/mp4`,
    /// `video/quicktime`; documents `application/pdf`, `image/jpeg`, `image/png`.
    pub content_type: String,
    /// Exact size in bytes.
    pub size_bytes: u64,
    /// SHA-256 of the bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// When it was captured (device clock).
    pub captured_at: DateTime<Utc>,
    /// What the watermark shows: position, datum, accuracy, device.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub capture: serde_json::Value,
    /// The officer's device's signature of this evidence, verified when the upload completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_signature: Option<DeviceSignature>,
}

/// An Ed25519 signature by a registered device over the evidence's signed message: its id and
/// task, SHA-256, size, capture time and the fix of `capture` (see
/// `loanwatch_domain::field::device::evidence_message`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeviceSignature {
    /// The device, as registered with `POST /me/devices`.
    pub device_id: String,
    /// The 64-byte signature, base64.
    pub signature: String,
}

/// A phone's public key to register for the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    /// A name for people: the phone's model, say.
    pub name: String,
    /// The Ed25519 public key, 32 bytes, base64.
    pub public_key: String,
}

/// A registered device of an officer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    /// Id.
    pub id: String,
    /// Its officer.
    pub user_id: String,
    /// Name.
    pub name: String,
    /// The Ed25519 public key, base64.
    pub public_key: String,
    /// Registered at.
    pub created_at: DateTime<Utc>,
    /// Revoked at: its signatures no longer verify.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where to send the bytes: one signed PUT, or (videos on S3) one signed PUT per part, then
/// `POST /evidence/{id}/complete`. Every header listed must be sent exactly as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadTarget {
    /// `single` or `multipart`.
    pub mode: UploadMode,
    /// `PUT`.
    pub method: String,
    /// The signed URL of a single upload: an absolute path on this server for the embedded
    /// storage, an absolute URL for S3. Absent for a multipart upload.
    pub url: Option<String>,
    /// Headers to send with a single upload.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The parts of a multipart upload, in order (empty for a single upload).
    pub parts: Vec<UploadPart>,
    /// When the URLs stop working; ask `GET /evidence/{id}/upload` for fresh ones.
    pub expires_at: DateTime<Utc>,
}

/// How the bytes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UploadMode {
    /// One PUT of the whole file.
    Single,
    /// One PUT per part; parts may be sent again and in any order.
    Multipart,
}

/// One part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadPart {
    /// 1-based.
    pub number: u32,
    /// Offset of the part in the file.
    pub offset: u64,
    /// Exact size of the part.
    pub size_bytes: u64,
    /// The signed URL.
    pub url: String,
    /// Headers to send with it.
    pub headers: std::collections::BTreeMap<String, String>,
    /// Whether the storage holds this part already (skip it when resuming).
    pub uploaded: bool,
}

/// Declared evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// The phone's id.
    pub id: String,
    /// Task.
    pub task_id: String,
    /// Checklist item.
    pub item_key: String,
    /// Officer.
    pub officer_id: String,
    /// Kind.
    pub kind: EvidenceKind,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// SHA-256.
    pub sha256: String,
    /// Captured at.
    pub captured_at: DateTime<Utc>,
    /// Capture metadata.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub capture: serde_json::Value,
    /// Declared, stored (verified) or rejected.
    pub status: EvidenceStatus,
    /// Why it was rejected.
    pub rejected_reason: Option<String>,
    /// Declared at.
    pub created_at: DateTime<Utc>,
    /// Verified or rejected at.
    pub completed_at: Option<DateTime<Utc>>,
    /// Width in pixels (stored images).
    pub width: Option<u32>,
    /// Height in pixels (stored images).
    pub height: Option<u32>,
    /// Other evidence found to be the same bytes or the same picture: a photo reused from
    /// another inspection or another borrower.
    pub reuse: Vec<EvidenceReuse>,
    /// The device that signed the declaration, if it was signed.
    pub device_id: Option<String>,
    /// Whether the device's signature verified when the upload completed (absent: unsigned, or
    /// not completed yet). Evidence whose signature does not verify is rejected.
    pub signature_verified: Option<bool>,
}

/// A link to other evidence with the same bytes or a near-identical picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvidenceReuse {
    /// The other evidence.
    pub evidence_id: String,
    /// Its task, when the caller's scope covers it (the link is shown either way).
    pub task_id: Option<String>,
    /// `same_bytes` or `similar_image`.
    pub reason: String,
    /// Perceptual-hash distance in bits (0 for the same bytes).
    pub distance: u32,
}

/// A declaration's answer: the evidence and, while it waits for its bytes, where to send them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeclaredEvidence {
    /// The evidence.
    pub evidence: Evidence,
    /// The upload target (absent once stored or rejected).
    pub upload: Option<UploadTarget>,
}

/// A short-lived download URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DownloadTarget {
    /// The signed URL.
    pub url: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// The thresholds the server judges check-ins by (institution configuration), so a phone can
/// tell the officer the same verdict at once, offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckinRules {
    /// Largest accepted accuracy radius, metres.
    pub max_accuracy_m: f64,
    /// Largest accepted device clock error, seconds.
    pub clock_tolerance_s: i64,
    /// Largest accepted age of the fix at check-in, seconds.
    pub max_fix_age_s: i64,
    /// Fastest believable travel between check-ins, km/h.
    pub max_speed_kmh: f64,
    /// Shortest believable visit, seconds.
    pub min_dwell_s: i64,
}

impl From<&loanwatch_domain::field::CheckinPolicy> for CheckinRules {
    fn from(p: &loanwatch_domain::field::CheckinPolicy) -> Self {
        Self {
            max_accuracy_m: p.max_accuracy_m,
            clock_tolerance_s: p.clock_tolerance_s,
            max_fix_age_s: p.max_fix_age_s,
            max_speed_kmh: p.max_speed_kmh,
            min_dwell_s: p.min_dwell_s,
        }
    }
}

impl From<CheckinRules> for loanwatch_domain::field::CheckinPolicy {
    fn from(r: CheckinRules) -> Self {
        Self {
            max_accuracy_m: r.max_accuracy_m,
            clock_tolerance_s: r.clock_tolerance_s,
            max_fix_age_s: r.max_fix_age_s,
            max_speed_kmh: r.max_speed_kmh,
            min_dwell_s: r.min_dwell_s,
        }
    }
}
