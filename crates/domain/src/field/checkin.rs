//! Check-in verdicts: is the officer where the borrower is, and can the fix be trusted? The
//! server records a verdict with its reasons for every check-in, never a silent rejection
//! (RULEBOOK §3, authenticity). Every threshold is configuration ([`CheckinPolicy`]).
//!
//! Times: `device_time` is the device clock when the officer checked in (possibly offline,
//! hours before the upload), `fix_time` when the position was fixed, `sent_at` the device clock
//! when the check-in was sent and `received_at` the server clock when it arrived. The device
//! clock's error is `sent_at − received_at`; it corrects `device_time` before travel speeds are
//! computed.

use chrono::{DateTime, Utc};

use super::datum::{Datum, LatLng, distance_m};

text_enum!(
    /// Why a check-in is not trusted as it stands.
    CheckinFlag {
        /// Farther from every registered site than its geofence.
        OutsideGeofence = "outside_geofence",
        /// The fix's accuracy radius is larger than allowed.
        LowAccuracy = "low_accuracy",
        /// The device reported a mock (simulated) location.
        MockLocation = "mock_location",
        /// The device clock is off the server clock by more than the tolerance.
        ClockSkew = "clock_skew",
        /// The fix is older than the check-in by more than allowed.
        StaleFix = "stale_fix",
        /// Faster travel from the officer's previous check-in than is possible.
        ImpossibleTravel = "impossible_travel",
        /// The borrower has no registered site to check against.
        NoSite = "no_site",
        /// Checked out sooner after checking in than a visit takes.
        ShortDwell = "short_dwell",
    }
);

/// Thresholds of the verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckinPolicy {
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

impl Default for CheckinPolicy {
    fn default() -> Self {
        Self {
            max_accuracy_m: 100.0,
            clock_tolerance_s: 300,
            max_fix_age_s: 120,
            max_speed_kmh: 150.0,
            min_dwell_s: 600,
        }
    }
}

/// A geofence in WGS-84.
#[derive(Debug, Clone, PartialEq)]
pub enum Geofence {
    /// Within `radius_m` of `center`.
    Circle {
        /// Centre.
        center: LatLng,
        /// Radius, metres.
        radius_m: f64,
    },
    /// Inside a ring of at least three vertices.
    Polygon {
        /// Vertices, in order; the ring closes itself.
        ring: Vec<LatLng>,
    },
}

/// Why a geofence is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeofenceError {
    /// A radius that is not positive or is beyond reason.
    #[error("the radius must be more than 0 and at most 10,000 metres")]
    Radius,
    /// Too few vertices.
    #[error("a polygon needs at least 3 vertices and at most 500")]
    Vertices,
    /// A polygon wider than a site can be.
    #[error("a polygon must fit within 20 km")]
    TooLarge,
}

/// Metres per degree of latitude on a sphere of the WGS-84 semi-major axis.
const M_PER_DEG: f64 = 6_378_137.0 * std::f64::consts::PI / 180.0;

/// Local plane coordinates in metres around `origin` (equirectangular: exact enough within a
/// site's few kilometres).
fn local(origin: LatLng, p: LatLng) -> geo::Coord<f64> {
    geo::Coord {
        x: (p.lng - origin.lng) * M_PER_DEG * origin.lat.to_radians().cos(),
        y: (p.lat - origin.lat) * M_PER_DEG,
    }
}

impl Geofence {
    /// A circle from a centre captured in `datum`.
    pub fn circle(center: LatLng, datum: Datum, radius_m: f64) -> Result<Self, GeofenceError> {
        if !(radius_m > 0.0 && radius_m <= 10_000.0) {
            return Err(GeofenceError::Radius);
        }
        Ok(Self::Circle {
            center: datum.to_wgs84(center),
            radius_m,
        })
    }

    /// A polygon from vertices captured in `datum`.
    pub fn polygon(ring: &[LatLng], datum: Datum) -> Result<Self, GeofenceError> {
        if !(3..=500).contains(&ring.len()) {
            return Err(GeofenceError::Vertices);
        }
        let ring: Vec<LatLng> = ring.iter().map(|p| datum.to_wgs84(*p)).collect();
        for a in &ring {
            for b in &ring {
                if distance_m(*a, *b) > 20_000.0 {
                    return Err(GeofenceError::TooLarge);
                }
            }
        }
        Ok(Self::Polygon { ring })
    }

    /// Metres from a WGS-84 point to the fence: 0 inside.
    pub fn distance_outside_m(&self, p: LatLng) -> f64 {
        match self {
            Self::Circle { center, radius_m } => (distance_m(*center, p) - radius_m).max(0.0),
            Self::Polygon { ring } => {
                use geo::{Contains, Distance, Euclidean};
                let poly = geo::Polygon::new(
                    geo::LineString::from(ring.iter().map(|v| local(p, *v)).collect::<Vec<_>>()),
                    Vec::new(),
                );
                let here = geo::Point::new(0.0, 0.0);
                if poly.contains(&here) {
                    0.0
                } else {
                    Euclidean.distance(&here, poly.exterior())
                }
            }
        }
    }
}

/// A position fix as the device reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    /// Where, in `datum`.
    pub point: LatLng,
    /// The datum of `point`.
    pub datum: Datum,
    /// Accuracy radius, metres (more than 0).
    pub accuracy_m: f64,
    /// Whether the platform flagged the location as mocked.
    pub mock: bool,
    /// When the position was fixed (device clock).
    pub fix_time: DateTime<Utc>,
}

/// A check-in to judge.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckinInput {
    /// The fix.
    pub fix: Fix,
    /// Device clock when the officer checked in.
    pub device_time: DateTime<Utc>,
    /// Device clock when the check-in was sent.
    pub sent_at: DateTime<Utc>,
    /// Server clock when it arrived.
    pub received_at: DateTime<Utc>,
}

/// The officer's previous check-in (any borrower), in WGS-84 and corrected time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviousCheckin {
    /// Where.
    pub point: LatLng,
    /// When, on the server's clock.
    pub at: DateTime<Utc>,
}

/// A reason with what was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// The flag.
    pub flag: CheckinFlag,
    /// What was measured, for a person.
    pub detail: String,
}

/// The verdict on a check-in.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The fix in WGS-84.
    pub point: LatLng,
    /// When the check-in happened, on the server's clock (device time corrected).
    pub at: DateTime<Utc>,
    /// Index of the nearest site, if any.
    pub site: Option<usize>,
    /// Metres outside the nearest site's fence (0 inside).
    pub distance_m: Option<f64>,
    /// Everything that is not right; empty when the check-in is trusted.
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// Inside a fence with nothing flagged.
    pub fn trusted(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// How far a device time may be from the server's clock before it is refused as not a time at
/// all (a wrong clock is flagged as `clock_skew`; a year off is bad input).
pub const PLAUSIBLE_DAYS: i64 = 366;

/// Whether a device-reported instant is within [`PLAUSIBLE_DAYS`] of the server's clock.
pub fn plausible(t: DateTime<Utc>, server_now: DateTime<Utc>) -> bool {
    (t - server_now).num_days().abs() <= PLAUSIBLE_DAYS
}

/// A device-clock instant on the server's clock: the device's error is what its clock said when
/// sending (`sent_at`) less the server's clock on arrival (`received_at`).
pub fn corrected_time(
    device_time: DateTime<Utc>,
    sent_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
) -> DateTime<Utc> {
    device_time - (sent_at - received_at)
}

/// Judges a check-in against the borrower's sites and the officer's previous check-in.
pub fn judge(
    input: &CheckinInput,
    sites: &[Geofence],
    previous: Option<PreviousCheckin>,
    policy: &CheckinPolicy,
) -> Verdict {
    let mut reasons = Vec::new();
    let mut flag = |flag, detail: String| reasons.push(Reason { flag, detail });
    let point = input.fix.datum.to_wgs84(input.fix.point);
    let skew = input.sent_at - input.received_at;
    let at = corrected_time(input.device_time, input.sent_at, input.received_at);

    let nearest = sites
        .iter()
        .enumerate()
        .map(|(i, s)| (i, s.distance_outside_m(point)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    match nearest {
        None => flag(
            CheckinFlag::NoSite,
            "the borrower has no registered site".into(),
        ),
        Some((_, d)) if d > 0.0 => flag(
            CheckinFlag::OutsideGeofence,
            format!("{d:.0} m outside the nearest site's geofence"),
        ),
        Some(_) => {}
    }
    if input.fix.accuracy_m > policy.max_accuracy_m {
        flag(
            CheckinFlag::LowAccuracy,
            format!(
                "accuracy {:.0} m, more than {:.0} m",
                input.fix.accuracy_m, policy.max_accuracy_m
            ),
        );
    }
    if input.fix.mock {
        flag(
            CheckinFlag::MockLocation,
            "the device reported a mock location".into(),
        );
    }
    if skew.num_seconds().abs() > policy.clock_tolerance_s {
        flag(
            CheckinFlag::ClockSkew,
            format!(
                "device clock {} s {} the server's (tolerance {} s)",
                skew.num_seconds().abs(),
                if skew.num_seconds() > 0 {
                    "ahead of"
                } else {
                    "behind"
                },
                policy.clock_tolerance_s
            ),
        );
    }
    let age = (input.device_time - input.fix.fix_time).num_seconds();
    if age > policy.max_fix_age_s {
        flag(
            CheckinFlag::StaleFix,
            format!(
                "the fix was {age} s old at check-in (at most {} s)",
                policy.max_fix_age_s
            ),
        );
    }
    if let Some(prev) = previous {
        let metres = distance_m(prev.point, point);
        let hours = (at - prev.at).num_milliseconds().abs() as f64 / 3_600_000.0;
        // Within the accuracy of two fixes nobody travelled.
        if metres > 2.0 * policy.max_accuracy_m {
            let speed = if hours > 0.0 {
                metres / 1000.0 / hours
            } else {
                f64::INFINITY
            };
            if speed > policy.max_speed_kmh {
                flag(
                    CheckinFlag::ImpossibleTravel,
                    format!(
                        "{:.1} km from the previous check-in in {:.0} min ({} km/h; at most {:.0})",
                        metres / 1000.0,
                        hours * 60.0,
                        if speed.is_finite() {
                            format!("{speed:.0}")
                        } else {
                            "∞".into()
                        },
                        policy.max_speed_kmh
                    ),
                );
            }
        }
    }
    Verdict {
        point,
        at,
        site: nearest.map(|(i, _)| i),
        distance_m: nearest.map(|(_, d)| d),
        reasons,
    }
}

/// The flag of a check-out `dwell_s` seconds after the check-in, if the visit was too short.
pub fn judge_dwell(dwell_s: i64, policy: &CheckinPolicy) -> Option<Reason> {
    (dwell_s < policy.min_dwell_s).then(|| Reason {
        flag: CheckinFlag::ShortDwell,
        detail: format!(
            "checked out {} min after checking in (a visit takes at least {} min)",
            dwell_s / 60,
            policy.min_dwell_s / 60
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::datum::wgs84_to_gcj02;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + secs, 0).expect("time")
    }

    /// A factory gate in Beijing's Chaoyang district, WGS-84.
    const GATE: LatLng = LatLng {
        lat: 39.9219,
        lng: 116.4436,
    };

    fn fix_at(p: LatLng, datum: Datum) -> CheckinInput {
        CheckinInput {
            fix: Fix {
                point: datum.from_wgs84(p),
                datum,
                accuracy_m: 15.0,
                mock: false,
                fix_time: t(-10),
            },
            device_time: t(0),
            sent_at: t(0),
            received_at: t(1),
        }
    }

    fn flags(v: &Verdict) -> Vec<CheckinFlag> {
        v.reasons.iter().map(|r| r.flag).collect()
    }

    fn fence() -> Vec<Geofence> {
        vec![Geofence::circle(GATE, Datum::Wgs84, 200.0).expect("fence")]
    }

    /// `metres` north of the gate.
    fn north(metres: f64) -> LatLng {
        LatLng {
            lat: GATE.lat + metres / M_PER_DEG,
            lng: GATE.lng,
        }
    }

    #[test]
    fn a_gcj02_fix_at_the_gate_is_inside_and_trusted() {
        for datum in Datum::ALL {
            let v = judge(
                &fix_at(GATE, *datum),
                &fence(),
                None,
                &CheckinPolicy::default(),
            );
            assert!(v.trusted(), "{datum}: {:?}", v.reasons);
            assert_eq!(v.distance_m, Some(0.0));
        }
    }

    #[test]
    fn a_gcj02_fix_read_as_wgs84_would_be_hundreds_of_metres_off() {
        // The same spot, captured by AMap, but declared WGS-84: the datum matters.
        let gcj = wgs84_to_gcj02(GATE);
        let mut input = fix_at(GATE, Datum::Wgs84);
        input.fix.point = gcj;
        let v = judge(&input, &fence(), None, &CheckinPolicy::default());
        assert_eq!(flags(&v), [CheckinFlag::OutsideGeofence]);
        assert!(v.distance_m.unwrap_or_default() > 200.0, "{v:?}");
    }

    #[test]
    fn outside_the_fence_by_the_measured_distance() {
        let v = judge(
            &fix_at(north(500.0), Datum::Wgs84),
            &fence(),
            None,
            &CheckinPolicy::default(),
        );
        assert_eq!(flags(&v), [CheckinFlag::OutsideGeofence]);
        let d = v.distance_m.unwrap_or_default();
        assert!((d - 300.0).abs() < 1.0, "{d}");
        let inside = judge(
            &fix_at(north(150.0), Datum::Wgs84),
            &fence(),
            None,
            &CheckinPolicy::default(),
        );
        assert!(inside.trusted());
    }

    #[test]
    fn polygons_contain_and_measure() {
        // A 200 m square around the gate, drawn in BD-09 as Baidu maps give it.
        let corner = |n: f64, e: f64| {
            Datum::Bd09.from_wgs84(LatLng {
                lat: GATE.lat + n / M_PER_DEG,
                lng: GATE.lng + e / (M_PER_DEG * GATE.lat.to_radians().cos()),
            })
        };
        let ring = [
            corner(-100.0, -100.0),
            corner(-100.0, 100.0),
            corner(100.0, 100.0),
            corner(100.0, -100.0),
        ];
        let sites = vec![Geofence::polygon(&ring, Datum::Bd09).expect("polygon")];
        assert!(
            judge(
                &fix_at(GATE, Datum::Gcj02),
                &sites,
                None,
                &CheckinPolicy::default()
            )
            .trusted()
        );
        let out = judge(
            &fix_at(north(160.0), Datum::Wgs84),
            &sites,
            None,
            &CheckinPolicy::default(),
        );
        let d = out.distance_m.unwrap_or_default();
        assert!((d - 60.0).abs() < 1.0, "{d}");
        assert_eq!(
            Geofence::polygon(&ring[..2], Datum::Bd09),
            Err(GeofenceError::Vertices)
        );
        assert_eq!(
            Geofence::circle(GATE, Datum::Wgs84, 0.0),
            Err(GeofenceError::Radius)
        );
    }

    #[test]
    fn each_flag_is_raised_and_not_raised() {
        let p = CheckinPolicy::default();
        let ok = fix_at(GATE, Datum::Wgs84);
        assert!(judge(&ok, &fence(), None, &p).trusted());

        let mut low = ok.clone();
        low.fix.accuracy_m = 150.0;
        assert_eq!(
            flags(&judge(&low, &fence(), None, &p)),
            [CheckinFlag::LowAccuracy]
        );
        low.fix.accuracy_m = 100.0;
        assert!(judge(&low, &fence(), None, &p).trusted());

        let mut mock = ok.clone();
        mock.fix.mock = true;
        assert_eq!(
            flags(&judge(&mock, &fence(), None, &p)),
            [CheckinFlag::MockLocation]
        );

        let mut skewed = ok.clone();
        skewed.sent_at = t(-400);
        assert_eq!(
            flags(&judge(&skewed, &fence(), None, &p)),
            [CheckinFlag::ClockSkew]
        );
        skewed.sent_at = t(-250);
        assert!(judge(&skewed, &fence(), None, &p).trusted());

        let mut stale = ok.clone();
        stale.fix.fix_time = t(-600);
        assert_eq!(
            flags(&judge(&stale, &fence(), None, &p)),
            [CheckinFlag::StaleFix]
        );

        // An offline check-in sent three hours later is neither stale nor skewed.
        let mut offline = ok.clone();
        offline.sent_at = t(3 * 3600);
        offline.received_at = t(3 * 3600 + 2);
        let v = judge(&offline, &fence(), None, &p);
        assert!(v.trusted(), "{:?}", v.reasons);
        assert_eq!(v.at, t(2));

        assert_eq!(flags(&judge(&ok, &[], None, &p)), [CheckinFlag::NoSite]);
    }

    #[test]
    fn impossible_travel_is_measured_from_the_previous_check_in() {
        let p = CheckinPolicy::default();
        let ok = fix_at(GATE, Datum::Wgs84);
        // 30 km away 10 minutes earlier: 180 km/h.
        let far = PreviousCheckin {
            point: north(30_000.0),
            at: t(1 - 600),
        };
        assert_eq!(
            flags(&judge(&ok, &fence(), Some(far), &p)),
            [CheckinFlag::ImpossibleTravel]
        );
        // The same 30 km an hour earlier: 30 km/h.
        let earlier = PreviousCheckin {
            point: north(30_000.0),
            at: t(1 - 3600),
        };
        assert!(judge(&ok, &fence(), Some(earlier), &p).trusted());
        // Next door a second earlier: within the fixes' accuracy.
        let next_door = PreviousCheckin {
            point: north(50.0),
            at: t(0),
        };
        assert!(judge(&ok, &fence(), Some(next_door), &p).trusted());
    }

    #[test]
    fn times_a_year_off_are_not_times() {
        assert!(plausible(t(-300 * 86_400), t(0)));
        assert!(!plausible(t(-400 * 86_400), t(0)));
        assert!(!plausible(t(400 * 86_400), t(0)));
    }

    #[test]
    fn a_short_visit_is_flagged_at_check_out() {
        let p = CheckinPolicy::default();
        assert_eq!(
            judge_dwell(300, &p).map(|r| r.flag),
            Some(CheckinFlag::ShortDwell)
        );
        assert_eq!(judge_dwell(900, &p), None);
    }
}
