//! A fake Logplex: the log lines Heroku would drain for an app, framed and
//! batched into POSTs exactly as an HTTPS drain receives them.
//!
//! - Router lines (legacy format, one per request) at `requests_per_second`,
//!   spread evenly over each second, over `dynos` web dynos picked at
//!   random; `service` drawn from a distribution; a share of them H12
//!   (30 s timeout, 503) and a share H11 (backlog too deep, `dyno=` empty);
//! - runtime metrics (`log-runtime-metrics`): a load line and a memory line
//!   per dyno every 20 s;
//! - optional HireFire `[hirefire:router] queue=Nms` app lines, app noise
//!   lines, and an L10 loss report.
//!
//! Frames: `<octet count> <message>` with counts computed from the bytes
//! (the trailing `\n` counted; the L10 message has none), no separator.
//! POSTs (contracts §10.3, §10.5): whole frames while they fit in 100 KiB
//! (a larger frame alone), headers `Content-Type: application/logplex-1`,
//! `Logplex-Msg-Count`, `Logplex-Frame-Id` (32 upper-case hex digits),
//! `Logplex-Drain-Token`, `User-Agent: Logplex/v123`. `Authorization` is the
//! receiver's business: add it to `headers`.
//!
//! [`Traffic::generate`] also returns the truth (exact counts and values per
//! minute) to compare the receiver's aggregates with.
//!
//! Shared by the integration tests and the drain benchmarks (included with
//! `#[path]`). Deterministic: everything random comes from `seed`.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::DateTime;

/// Logplex's `http_drain_target_bytes` default.
pub const TARGET_BYTES: usize = 102_400;

/// How long requests take in the dyno.
#[derive(Debug, Clone, Copy)]
pub enum ServiceTime {
    Fixed(u64),
    /// Uniform in `[lo, hi]` ms.
    Uniform(u64, u64),
    /// Log-normal with this median (ms) and σ of the log.
    LogNormal {
        median_ms: f64,
        sigma: f64,
    },
}

/// One app's traffic for some minutes.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Epoch seconds of the first minute (rounded down to the minute).
    pub start: i64,
    pub minutes: u32,
    pub requests_per_second: f64,
    /// Web dynos serving the requests (`web.1` ..= `web.N`).
    pub dynos: u32,
    pub service: ServiceTime,
    /// Share of requests answered H12 (`service=30000ms`, 503).
    pub h12_share: f64,
    /// Share of requests answered H11 (`dyno=` empty, 503).
    pub h11_share: f64,
    /// Load and memory lines per dyno every 20 s.
    pub runtime_metrics: bool,
    /// Mean `load_avg_1m` of a dyno.
    pub load: f64,
    /// Memory used and the quota, MB.
    pub memory_mb: (f64, f64),
    /// One HireFire queue-time line per request (`queue` uniform in 0..=this ms).
    pub hirefire_queue_max_ms: Option<u64>,
    /// One app output line per request (skipped by the receiver).
    pub app_noise: bool,
    /// An L10 report (`dropped` messages) at the start of this minute index.
    pub l10: Option<(u32, u64)>,
    pub seed: u64,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            start: 1_795_333_200, // 2026-11-22T07:40:00Z
            minutes: 1,
            requests_per_second: 10.0,
            dynos: 2,
            service: ServiceTime::LogNormal {
                median_ms: 80.0,
                sigma: 0.6,
            },
            h12_share: 0.0,
            h11_share: 0.0,
            runtime_metrics: true,
            load: 0.8,
            memory_mb: (310.0, 512.0),
            hirefire_queue_max_ms: None,
            app_noise: false,
            l10: None,
            seed: 1,
        }
    }
}

/// One syslog message (without its octet count) and its time.
#[derive(Debug, Clone)]
pub struct Message {
    /// Epoch microseconds.
    pub at_us: i64,
    pub text: String,
}

/// What the receiver should find for one minute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinuteTruth {
    /// Frames of the app in the minute.
    pub frames: u64,
    /// Router lines per process type (`web`).
    pub requests: BTreeMap<String, u64>,
    /// Router lines that reached no dyno (H11 here).
    pub unattributed: u64,
    /// Router lines per code (`H12`), all types.
    pub errors: BTreeMap<String, u64>,
    /// Every `service` value of web's router lines, in ms.
    pub service_ms: Vec<u64>,
    /// Every `connect` value of web's router lines, in ms.
    pub connect_ms: Vec<u64>,
    /// Every load sample (× 100) of web's dynos.
    pub load_x100: Vec<u64>,
    /// Every HireFire queue value, ms.
    pub queue_ms: Vec<u64>,
    /// Messages an L10 said were dropped.
    pub l10_dropped: u64,
    /// Frames the receiver skips (app noise).
    pub skipped: u64,
}

/// The generated messages and the truth per minute (epoch seconds).
#[derive(Debug, Clone)]
pub struct Generated {
    pub messages: Vec<Message>,
    pub truth: BTreeMap<i64, MinuteTruth>,
}

/// One drain POST.
#[derive(Debug, Clone)]
pub struct Post {
    /// Header names as Logplex writes them (a Lambda sees them lowercased).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub msg_count: usize,
    pub frame_id: String,
}

impl Post {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// splitmix64: small, deterministic, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    pub fn hex(&mut self, digits: usize, upper: bool) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            let x = self.next_u64();
            if upper {
                s.push_str(&format!("{x:016X}"));
            } else {
                s.push_str(&format!("{x:016x}"));
            }
        }
        s.truncate(digits);
        s
    }
    pub fn uuid(&mut self) -> String {
        let h = self.hex(32, false);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

/// RFC 3339 with microseconds and `+00:00`, as Logplex copies it.
pub fn timestamp(at_us: i64) -> String {
    let t = DateTime::from_timestamp_micros(at_us).expect("time in range");
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

fn sample_service(rng: &mut Rng, s: ServiceTime) -> u64 {
    match s {
        ServiceTime::Fixed(ms) => ms,
        ServiceTime::Uniform(lo, hi) => lo + rng.below(hi.saturating_sub(lo) + 1),
        ServiceTime::LogNormal { median_ms, sigma } => (median_ms * (sigma * rng.normal()).exp())
            .round()
            .clamp(0.0, 29_999.0) as u64,
    }
}

impl Traffic {
    /// The messages in time order, and the truth.
    pub fn generate(&self) -> Generated {
        let mut rng = Rng::new(self.seed);
        let mut messages = Vec::new();
        let mut truth: BTreeMap<i64, MinuteTruth> = BTreeMap::new();
        let start = self.start.div_euclid(60) * 60;
        let host = "example-app-1234567890ab.herokuapp.com";
        for minute in 0..self.minutes {
            let m0 = start + i64::from(minute) * 60;
            let t = truth.entry(m0).or_default();
            if let Some((at, dropped)) = self.l10 {
                if at == minute {
                    let since = timestamp((m0 - 120) * 1_000_000);
                    let since = &since[..19];
                    messages.push(Message {
                        at_us: m0 * 1_000_000,
                        text: format!(
                            "<172>1 {}+00:00 host heroku logplex - Error L10 (output buffer overflow): {dropped} messages dropped since {since}+00:00.",
                            &timestamp(m0 * 1_000_000)[..19]
                        ),
                    });
                    t.frames += 1;
                    t.l10_dropped += dropped;
                }
            }
            // Requests, evenly spread over the minute.
            let n = (self.requests_per_second * 60.0).round() as u64;
            for i in 0..n {
                let at_us = m0 * 1_000_000 + (i as i64 * 60_000_000) / n.max(1) as i64;
                let ts = timestamp(at_us);
                let path = format!("/items/{}", rng.below(10_000));
                let fwd = format!("203.0.113.{}", rng.below(255));
                let request_id = rng.uuid();
                let dyno = 1 + rng.below(u64::from(self.dynos.max(1)));
                let roll = rng.unit();
                let text = if roll < self.h11_share {
                    t.unattributed += 1;
                    *t.errors.entry("H11".into()).or_default() += 1;
                    format!("<158>1 {ts} host heroku router - at=error code=H11 desc=\"Backlog too deep\" method=GET path=\"{path}\" host={host} request_id={request_id} fwd=\"{fwd}\" dyno= connect= service= status=503 bytes= protocol=https\n")
                } else if roll < self.h11_share + self.h12_share {
                    *t.requests.entry("web".into()).or_default() += 1;
                    *t.errors.entry("H12".into()).or_default() += 1;
                    t.service_ms.push(30_000);
                    t.connect_ms.push(1);
                    format!("<158>1 {ts} host heroku router - at=error code=H12 desc=\"Request timeout\" method=POST path=\"{path}\" host={host} request_id={request_id} fwd=\"{fwd}\" dyno=web.{dyno} connect=1ms service=30000ms status=503 bytes=0 protocol=https\n")
                } else {
                    *t.requests.entry("web".into()).or_default() += 1;
                    let service = sample_service(&mut rng, self.service);
                    let connect = if rng.unit() < 0.9 {
                        0
                    } else {
                        1 + rng.below(3)
                    };
                    t.service_ms.push(service);
                    t.connect_ms.push(connect);
                    let bytes = 200 + rng.below(20_000);
                    format!("<158>1 {ts} host heroku router - at=info method=GET path=\"{path}\" host={host} request_id={request_id} fwd=\"{fwd}\" dyno=web.{dyno} connect={connect}ms service={service}ms status=200 bytes={bytes} protocol=https\n")
                };
                t.frames += 1;
                messages.push(Message { at_us, text });
                if let Some(max) = self.hirefire_queue_max_ms {
                    let q = rng.below(max + 1);
                    t.queue_ms.push(q);
                    t.frames += 1;
                    messages.push(Message {
                        at_us,
                        text: format!(
                            "<190>1 {ts} host app web.{dyno} - [hirefire:router] queue={q}ms\n"
                        ),
                    });
                }
                if self.app_noise {
                    t.frames += 1;
                    t.skipped += 1;
                    messages.push(Message {
                        at_us,
                        text: format!(
                            "<190>1 {ts} host app web.{dyno} - Started GET \"{path}\" for {fwd}\n"
                        ),
                    });
                }
            }
            // Runtime metrics: every 20 s per dyno, load then memory.
            if self.runtime_metrics {
                for tick in 0..3i64 {
                    for d in 1..=self.dynos {
                        let at_us =
                            m0 * 1_000_000 + tick * 20_000_000 + i64::from(d) * 1_000 + 412_233;
                        let ts = timestamp(at_us);
                        let ts2 = timestamp(at_us + 684);
                        let id = format!("heroku.123456789.{}", rng.uuid());
                        let load = (self.load * (1.0 + 0.3 * rng.normal())).max(0.0);
                        let load_x100 = (load * 100.0).round() as u64;
                        t.load_x100.push(load_x100);
                        let (used, quota) = self.memory_mb;
                        let used = used * (1.0 + 0.05 * rng.normal()).max(0.0);
                        messages.push(Message {
                            at_us,
                            text: format!(
                                "<134>1 {ts} host heroku web.{d} - source=web.{d} dyno={id} sample#load_avg_1m={}.{:02} sample#load_avg_5m=0.31 sample#load_avg_15m=0.20\n",
                                load_x100 / 100,
                                load_x100 % 100
                            ),
                        });
                        messages.push(Message {
                            at_us: at_us + 684,
                            text: format!(
                                "<134>1 {ts2} host heroku web.{d} - source=web.{d} dyno={id} sample#memory_total={used:.2}MB sample#memory_rss={:.2}MB sample#memory_cache=9.13MB sample#memory_swap=0.00MB sample#memory_pgpgin=123456pages sample#memory_pgpgout=98765pages sample#memory_quota={quota:.2}MB\n",
                                (used - 9.13).max(0.0)
                            ),
                        });
                        t.frames += 2;
                    }
                }
            }
        }
        messages.sort_by_key(|m| m.at_us);
        Generated { messages, truth }
    }
}

/// `<octet count> <message>`, the count computed from the bytes.
pub fn frame(text: &str) -> Vec<u8> {
    let mut out = format!("{} ", text.len()).into_bytes();
    out.extend_from_slice(text.as_bytes());
    out
}

/// Batch messages into POSTs as Logplex does: whole frames while the body
/// stays within [`TARGET_BYTES`]; a frame larger than that goes alone.
pub fn batch(messages: &[Message], drain_token: &str, seed: u64) -> Vec<Post> {
    batch_with_target(messages, drain_token, seed, TARGET_BYTES)
}

pub fn batch_with_target(
    messages: &[Message],
    drain_token: &str,
    seed: u64,
    target: usize,
) -> Vec<Post> {
    let mut rng = Rng::new(seed ^ 0x004C_4F47_504C_4558);
    let mut posts = Vec::new();
    let mut body = Vec::new();
    let mut count = 0;
    let mut flush = |body: &mut Vec<u8>, count: &mut usize, posts: &mut Vec<Post>| {
        if *count == 0 {
            return;
        }
        posts.push(post(
            std::mem::take(body),
            *count,
            drain_token,
            rng.hex(32, true),
        ));
        *count = 0;
    };
    for m in messages {
        let f = frame(&m.text);
        if !body.is_empty() && body.len() + f.len() > target {
            flush(&mut body, &mut count, &mut posts);
        }
        body.extend_from_slice(&f);
        count += 1;
    }
    flush(&mut body, &mut count, &mut posts);
    posts
}

/// One POST with Logplex's headers.
pub fn post(body: Vec<u8>, msg_count: usize, drain_token: &str, frame_id: String) -> Post {
    let headers = vec![
        (
            "Content-Type".to_string(),
            "application/logplex-1".to_string(),
        ),
        ("Logplex-Msg-Count".to_string(), msg_count.to_string()),
        ("Logplex-Frame-Id".to_string(), frame_id.clone()),
        ("Logplex-Drain-Token".to_string(), drain_token.to_string()),
        ("User-Agent".to_string(), "Logplex/v123".to_string()),
        ("Content-Length".to_string(), body.len().to_string()),
    ];
    Post {
        headers,
        body,
        msg_count,
        frame_id,
    }
}

/// A drain token like Heroku's (`d.<uuid>`).
pub fn drain_token(seed: u64) -> String {
    format!("d.{}", Rng::new(seed).uuid())
}

/// The exact nearest-rank quantile of values (as the receiver's histograms
/// approximate it): the ceil(q·n)-th smallest.
pub fn exact_quantile(values: &[u64], q: f64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}
