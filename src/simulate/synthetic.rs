//! Synthetic traces: deterministic traffic shapes a default must also handle.
//!
//! Tuning a policy to one recorded trace is overfitting; these shapes check it
//! on traffic it was not tuned on. Same seed, same trace, on every machine (a
//! small SplitMix64 generator, no platform randomness). Loads are in requests
//! per minute, sized for 40 per dyno like the shared NASA trace.
//!
//! - `diurnal`: a working-day curve (night ≈ 15, afternoon peak ≈ 240),
//!   quieter weekends, ±15 % minute-to-minute noise;
//! - `spiky`: a flat-ish 60 with short bursts (2–15 minutes, +80 to +400) a few
//!   times a day, rising in a minute and decaying fast;
//! - `flash`: a modest diurnal base with a flash crowd every few days, ramping
//!   to 8–15× the base within 5 minutes, holding 20–90 minutes, easing off over an hour;
//! - `ramp`: batch-like work that rises slowly and drains: from a floor of ≈ 20,
//!   a linear ramp over 1–3 hours to a plateau of 150–320 held 1–4 hours, a
//!   ramp down over 40–60 minutes, then 1–8 hours of floor; only ±1 % noise.
//!   Nothing jumps within minutes, so a long hysteresis window only holds dynos
//!   the load has already left (NASA's bursty traffic rewards a long one).

use std::f64::consts::TAU;

use chrono::{TimeZone, Utc};

use super::Trace;

/// The synthetic shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Diurnal,
    Spiky,
    Flash,
    Ramp,
}

impl Shape {
    pub const ALL: [Shape; 4] = [Shape::Diurnal, Shape::Spiky, Shape::Flash, Shape::Ramp];

    pub fn name(self) -> &'static str {
        match self {
            Self::Diurnal => "diurnal",
            Self::Spiky => "spiky",
            Self::Flash => "flash",
            Self::Ramp => "ramp",
        }
    }

    /// By name (`diurnal`, `spiky`, `flash`, `ramp`).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// SplitMix64: tiny, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Roughly normal (sum of four uniforms), mean 0, sd ≈ 1.
    fn normal(&mut self) -> f64 {
        let s: f64 = (0..4).map(|_| self.unit()).sum();
        (s - 2.0) * 1.732
    }
}

/// A working day's shape in [0, 1]: low at night, peak mid-afternoon.
fn day_curve(minute_of_day: f64) -> f64 {
    let hour = minute_of_day / 60.0;
    let x = (1.0 - (TAU * (hour - 3.0) / 24.0).cos()) / 2.0; // 0 at 03:00, 1 at 15:00
    x.powf(1.6)
}

/// One cycle of `ramp`: floor, up, plateau, down, floor again.
#[derive(Debug, Clone, Copy, Default)]
struct RampCycle {
    start: usize,
    up: usize,
    hold: usize,
    down: usize,
    rest: usize,
    peak: f64,
}

impl RampCycle {
    const FLOOR: f64 = 20.0;

    fn draw(rng: &mut Rng, start: usize) -> Self {
        Self {
            start,
            up: rng.between(60.0, 180.0) as usize,
            hold: rng.between(60.0, 240.0) as usize,
            down: rng.between(40.0, 60.0) as usize,
            rest: rng.between(60.0, 480.0) as usize,
            peak: rng.between(150.0, 320.0),
        }
    }

    /// The first minute after the cycle.
    fn end(&self) -> usize {
        self.start + self.up + self.hold + self.down + self.rest
    }

    /// The noiseless load at minute `m` of the trace (inside the cycle).
    fn load(&self, m: usize) -> f64 {
        let age = m.saturating_sub(self.start) as f64;
        let (up, hold, down) = (self.up as f64, self.hold as f64, self.down as f64);
        let rise = self.peak - Self::FLOOR;
        if age < up {
            Self::FLOOR + rise * age / up
        } else if age < up + hold {
            self.peak
        } else if age < up + hold + down {
            self.peak - rise * (age - up - hold) / down
        } else {
            Self::FLOOR
        }
    }
}

/// `days` days of `shape`, starting Monday 2026-01-05 00:00 UTC.
pub fn generate(shape: Shape, days: u32, seed: u64) -> Trace {
    let minutes = days as usize * 1440;
    let start = Utc
        .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let mut rng = Rng(seed ^ (shape as u64 + 1).wrapping_mul(0x5851_F42D_4C95_7F2D));
    let mut values = Vec::with_capacity(minutes);
    // Active bursts/crowds: (start minute, peak, hold minutes).
    let mut burst: Option<(usize, f64, usize)> = None;
    let mut next_flash = 1440 + (rng.unit() * 1440.0) as usize;
    let mut flash: Option<(usize, f64, usize)> = None;
    let mut ramp = RampCycle::default();
    for m in 0..minutes {
        let minute_of_day = (m % 1440) as f64;
        let weekday = (m / 1440) % 7; // 0 = Monday
        let weekend = if weekday >= 5 { 0.6 } else { 1.0 };
        let noise = 1.0 + 0.15 * rng.normal();
        let v = match shape {
            Shape::Diurnal => (15.0 + 225.0 * weekend * day_curve(minute_of_day)) * noise,
            Shape::Spiky => {
                if burst.is_none() && rng.unit() < 1.0 / 300.0 {
                    burst = Some((m, rng.between(80.0, 400.0), rng.between(2.0, 15.0) as usize));
                }
                let mut extra = 0.0;
                if let Some((from, peak, hold)) = burst {
                    let age = m - from;
                    extra = if age < hold {
                        peak
                    } else {
                        peak * (-((age - hold) as f64) / 3.0).exp()
                    };
                    if extra < 1.0 {
                        burst = None;
                    }
                }
                (60.0 + 20.0 * day_curve(minute_of_day)) * noise + extra
            }
            Shape::Flash => {
                if flash.is_none() && m >= next_flash {
                    flash = Some((m, rng.between(8.0, 15.0), rng.between(20.0, 90.0) as usize));
                    next_flash = m + 2 * 1440 + (rng.unit() * 2.0 * 1440.0) as usize;
                }
                let base = 25.0 + 35.0 * weekend * day_curve(minute_of_day);
                let mut factor = 1.0;
                if let Some((from, peak, hold)) = flash {
                    let age = (m - from) as f64;
                    let hold = hold as f64;
                    factor = if age < 5.0 {
                        1.0 + (peak - 1.0) * age / 5.0
                    } else if age < 5.0 + hold {
                        peak
                    } else {
                        1.0 + (peak - 1.0) * (-(age - 5.0 - hold) / 20.0).exp()
                    };
                    // Over once it has eased off (not during the ramp, which starts at 1×).
                    if age >= 5.0 + hold && factor < 1.02 {
                        flash = None;
                    }
                }
                base * factor * noise
            }
            Shape::Ramp => {
                if m >= ramp.end() {
                    ramp = RampCycle::draw(&mut rng, m);
                }
                // The shared noise (sd 15 %), scaled down to sd 1 %.
                ramp.load(m) * (1.0 + (noise - 1.0) / 15.0)
            }
        };
        values.push(Some(v.max(0.0).round()));
    }
    Trace { start, values }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_trace() {
        for shape in Shape::ALL {
            assert_eq!(generate(shape, 2, 7), generate(shape, 2, 7));
            assert_ne!(generate(shape, 2, 7), generate(shape, 2, 8));
        }
    }

    #[test]
    fn shapes_have_their_character() {
        let peak = |t: &Trace| t.values.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
        let mean = |t: &Trace| t.values.iter().flatten().sum::<f64>() / t.len() as f64;
        let diurnal = generate(Shape::Diurnal, 7, 1);
        assert_eq!(diurnal.len(), 7 * 1440);
        assert!(peak(&diurnal) > 200.0 && mean(&diurnal) < 120.0);
        let spiky = generate(Shape::Spiky, 7, 1);
        assert!(peak(&spiky) > 2.0 * mean(&spiky));
        let flash = generate(Shape::Flash, 14, 1);
        assert!(
            peak(&flash) > 6.0 * mean(&flash),
            "{} {}",
            peak(&flash),
            mean(&flash)
        );
        let ramp = generate(Shape::Ramp, 14, 1);
        assert!(peak(&ramp) > 150.0 && mean(&ramp) < 150.0);
    }

    #[test]
    fn every_shape_is_found_by_its_name() {
        for shape in Shape::ALL {
            assert_eq!(Shape::parse(shape.name()), Some(shape));
        }
        assert_eq!(Shape::parse("ramp"), Some(Shape::Ramp));
        assert_eq!(Shape::parse("sawtooth"), None);
    }

    #[test]
    fn ramp_moves_slowly_and_covers_floor_and_plateau() {
        let ramp = generate(Shape::Ramp, 14, 3);
        let values: Vec<f64> = ramp.values.iter().flatten().copied().collect();
        // Minute to minute: a slope of at most (320 − 20) / 40 = 7.5 per minute
        // and noise (sd 1 % of at most 320, the sum of four uniforms: within
        // ±11); never a burst (spiky's are +80 and more).
        let steps: Vec<f64> = values.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
        let biggest_step = steps.iter().fold(0.0f64, |a, &b| a.max(b));
        assert!(biggest_step < 32.0, "a step of {biggest_step}");
        let mean_step = steps.iter().sum::<f64>() / steps.len() as f64;
        assert!(mean_step < 3.0, "a mean step of {mean_step}");
        // It spends time near the floor and near a plateau.
        let near_floor = values.iter().filter(|&&v| v < 30.0).count();
        let high = values.iter().filter(|&&v| v > 140.0).count();
        assert!(
            near_floor > values.len() / 10,
            "{near_floor} minutes near the floor"
        );
        assert!(high > values.len() / 10, "{high} minutes above 140");
    }

    #[test]
    fn ramp_cycles_follow_their_phases() {
        let cycle = RampCycle {
            start: 100,
            up: 10,
            hold: 5,
            down: 20,
            rest: 7,
            peak: 220.0,
        };
        assert_eq!(cycle.end(), 142);
        assert_eq!(cycle.load(100), 20.0);
        assert_eq!(cycle.load(105), 120.0);
        assert_eq!(cycle.load(110), 220.0);
        assert_eq!(cycle.load(114), 220.0);
        assert_eq!(cycle.load(125), 120.0);
        assert_eq!(cycle.load(135), 20.0);
        assert_eq!(cycle.load(141), 20.0);
    }
}
