//! Coordinate datums. Chinese map SDKs report GCJ-02 (国测局坐标, the "Mars" datum) or Baidu's
//! BD-09, 50–500 m off WGS-84 (GPS). Every coordinate carries its datum and is converted to
//! WGS-84 before any distance is computed.
//!
//! WGS-84 → GCJ-02 is the published offset formula on the Krasovsky ellipsoid; GCJ-02 → WGS-84
//! inverts it by fixed-point iteration to well under a centimetre. GCJ-02 ↔ BD-09 is Baidu's
//! published formula. Outside mainland China's bounding box GCJ-02 equals WGS-84.

use std::f64::consts::PI;

text_enum!(
    /// The datum a coordinate was captured in.
    Datum {
        /// WGS-84: GPS, and what the server stores.
        Wgs84 = "wgs84",
        /// GCJ-02: AMap (高德), Tencent, Google China, Apple in China.
        Gcj02 = "gcj02",
        /// BD-09: Baidu.
        Bd09 = "bd09",
    }
);

/// A latitude and longitude in degrees, in some datum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLng {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lng: f64,
}

impl LatLng {
    /// A point; `None` when either value is out of range or not finite.
    pub fn new(lat: f64, lng: f64) -> Option<Self> {
        (lat.is_finite()
            && lng.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lng))
        .then_some(Self { lat, lng })
    }
}

/// Semi-major axis of the Krasovsky 1940 ellipsoid, which the GCJ-02 formula uses.
const KRASOVSKY_A: f64 = 6_378_245.0;
/// Its first eccentricity squared.
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;
const BD_X_PI: f64 = PI * 3000.0 / 180.0;

/// Whether GCJ-02 applies at a point (mainland China's bounding box).
pub fn in_china(p: LatLng) -> bool {
    (72.004..=137.8347).contains(&p.lng) && (0.8293..=55.8271).contains(&p.lat)
}

fn offset(x: f64, y: f64) -> (f64, f64) {
    let xy = x * y;
    let abs_x = x.abs().sqrt();
    let (x_pi, y_pi) = (x * PI, y * PI);
    let d = 20.0 * (6.0 * x_pi).sin() + 20.0 * (2.0 * x_pi).sin();
    let mut lat = d + 20.0 * y_pi.sin() + 40.0 * (y_pi / 3.0).sin();
    let mut lng = d + 20.0 * x_pi.sin() + 40.0 * (x_pi / 3.0).sin();
    lat += 160.0 * (y_pi / 12.0).sin() + 320.0 * (y_pi / 30.0).sin();
    lng += 150.0 * (x_pi / 12.0).sin() + 300.0 * (x_pi / 30.0).sin();
    lat = lat * 2.0 / 3.0 - 100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * xy + 0.2 * abs_x;
    lng = lng * 2.0 / 3.0 + 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * xy + 0.1 * abs_x;
    (lat, lng)
}

/// The GCJ-02 shift (degrees) at a WGS-84 point.
fn gcj_delta(p: LatLng) -> (f64, f64) {
    let (d_lat, d_lng) = offset(p.lng - 105.0, p.lat - 35.0);
    let rad_lat = p.lat / 180.0 * PI;
    let magic = 1.0 - KRASOVSKY_EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    (
        d_lat * 180.0 / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * PI),
        d_lng * 180.0 / (KRASOVSKY_A / sqrt_magic * rad_lat.cos() * PI),
    )
}

/// WGS-84 to GCJ-02.
pub fn wgs84_to_gcj02(p: LatLng) -> LatLng {
    if !in_china(p) {
        return p;
    }
    let (d_lat, d_lng) = gcj_delta(p);
    LatLng {
        lat: p.lat + d_lat,
        lng: p.lng + d_lng,
    }
}

/// GCJ-02 to WGS-84, by iterating the forward formula (it converges in a handful of steps).
pub fn gcj02_to_wgs84(g: LatLng) -> LatLng {
    if !in_china(g) {
        return g;
    }
    let mut w = g;
    for _ in 0..10 {
        let f = wgs84_to_gcj02(w);
        let (e_lat, e_lng) = (f.lat - g.lat, f.lng - g.lng);
        w = LatLng {
            lat: w.lat - e_lat,
            lng: w.lng - e_lng,
        };
        if e_lat.abs() < 1e-10 && e_lng.abs() < 1e-10 {
            break;
        }
    }
    w
}

/// GCJ-02 to BD-09.
pub fn gcj02_to_bd09(g: LatLng) -> LatLng {
    let (x, y) = (g.lng, g.lat);
    let z = x.hypot(y) + 0.000_02 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) + 0.000_003 * (x * BD_X_PI).cos();
    LatLng {
        lat: z * theta.sin() + 0.006,
        lng: z * theta.cos() + 0.0065,
    }
}

/// BD-09 to GCJ-02: Baidu's published inverse, refined by iterating the forward formula so a
/// round trip returns the same point.
pub fn bd09_to_gcj02(b: LatLng) -> LatLng {
    let (x, y) = (b.lng - 0.0065, b.lat - 0.006);
    let z = x.hypot(y) - 0.000_02 * (y * BD_X_PI).sin();
    let theta = y.atan2(x) - 0.000_003 * (x * BD_X_PI).cos();
    let mut g = LatLng {
        lat: z * theta.sin(),
        lng: z * theta.cos(),
    };
    for _ in 0..10 {
        let f = gcj02_to_bd09(g);
        let (e_lat, e_lng) = (f.lat - b.lat, f.lng - b.lng);
        g = LatLng {
            lat: g.lat - e_lat,
            lng: g.lng - e_lng,
        };
        if e_lat.abs() < 1e-10 && e_lng.abs() < 1e-10 {
            break;
        }
    }
    g
}

impl Datum {
    /// A point of this datum in WGS-84.
    pub fn to_wgs84(self, p: LatLng) -> LatLng {
        match self {
            Self::Wgs84 => p,
            Self::Gcj02 => gcj02_to_wgs84(p),
            Self::Bd09 => gcj02_to_wgs84(bd09_to_gcj02(p)),
        }
    }

    /// A WGS-84 point in this datum.
    pub fn from_wgs84(self, p: LatLng) -> LatLng {
        match self {
            Self::Wgs84 => p,
            Self::Gcj02 => wgs84_to_gcj02(p),
            Self::Bd09 => gcj02_to_bd09(wgs84_to_gcj02(p)),
        }
    }
}

/// Great-circle distance in metres between two WGS-84 points.
pub fn distance_m(a: LatLng, b: LatLng) -> f64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point::new(a.lng, a.lat), Point::new(b.lng, b.lat))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lng: f64) -> LatLng {
        LatLng { lat, lng }
    }

    /// Within `metres` of each other.
    fn near(a: LatLng, b: LatLng, metres: f64) -> bool {
        distance_m(a, b) < metres
    }

    // Published pairs (WGS-84, GCJ-02) of the eviltransform test suite (Shanghai, Shenzhen,
    // Beijing), which uses the WGS-84 semi-major axis where the leaked formula uses
    // Krasovsky's: the two agree to a few centimetres.
    const WGS_GCJ: [((f64, f64), (f64, f64)); 3] = [
        (
            (31.1774276, 121.5272106),
            (31.17530398364597, 121.531541859215),
        ),
        (
            (22.543847, 113.912316),
            (22.540796131694766, 113.9171764808363),
        ),
        (
            (39.911954, 116.377817),
            (39.91334545536069, 116.38404722455657),
        ),
    ];

    #[test]
    fn gcj02_matches_published_reference_points_both_ways() {
        for ((wl, wg), (gl, gg)) in WGS_GCJ {
            let (w, g) = (p(wl, wg), p(gl, gg));
            assert!(near(wgs84_to_gcj02(w), g, 0.1), "{w:?}");
            assert!(near(gcj02_to_wgs84(g), w, 0.1), "{g:?}");
            // The offset itself is hundreds of metres: converting matters.
            assert!(distance_m(w, g) > 100.0);
        }
    }

    #[test]
    fn bd09_matches_published_reference_points() {
        // eviltransform: BD-09 (29.199786, 120.019809) is WGS-84 (29.1961316, 120.0087790).
        // Baidu's published formula approximates its own transform: within 15 m, where the
        // datum shift is over 1 km.
        let bd = p(29.199786, 120.019809);
        let w = Datum::Bd09.to_wgs84(bd);
        assert!(
            near(w, p(29.196131605295484, 120.00877901149691), 15.0),
            "{w:?}"
        );
        assert!(distance_m(w, bd) > 1000.0);
        // gcoord: GCJ-02 (45, 123) is BD-09 (45.00636899, 123.00636499) and WGS-84
        // (44.99804071, 122.99395597).
        assert!(near(
            gcj02_to_bd09(p(45.0, 123.0)),
            p(45.00636899, 123.00636499),
            0.5
        ));
        assert!(near(
            gcj02_to_wgs84(p(45.0, 123.0)),
            p(44.99804071, 122.99395597),
            0.5
        ));
    }

    #[test]
    fn round_trips_are_exact_and_foreign_points_are_left_alone() {
        let w = p(30.6107779, 121.0917077);
        for d in Datum::ALL {
            assert!(near(d.to_wgs84(d.from_wgs84(w)), w, 0.01), "{d}");
        }
        let london = p(51.5007, -0.1246);
        assert_eq!(wgs84_to_gcj02(london), london);
        assert_eq!(gcj02_to_wgs84(london), london);
    }

    #[test]
    fn coordinates_out_of_range_are_refused() {
        assert!(LatLng::new(90.1, 0.0).is_none());
        assert!(LatLng::new(0.0, -180.5).is_none());
        assert!(LatLng::new(f64::NAN, 0.0).is_none());
        assert!(LatLng::new(39.9, 116.4).is_some());
    }
}
