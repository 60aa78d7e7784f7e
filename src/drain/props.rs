//! Property tests: quantile accuracy, merging, the stored form, and the
//! parser against random and mutated bodies (≈100k cases in all, a few
//! seconds in a debug build).

use chrono::{DateTime, FixedOffset};
use proptest::prelude::*;

use super::frames::{frames, Frame, MAX_FRAMES};
use super::histogram::Histogram;
use super::lines::RouterLine;
use super::tests::{example_body, framed};
use super::*;

/// `cases` cases with the XorShift generator: the default (ChaCha) is
/// compiled unoptimised in debug builds and dominates the run time.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

/// Values spread over 0 .. ~10^10, zero and small integers included.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(0u64),
        3 => 1u64..200,
        6 => (0f64..23.0).prop_map(|e| e.exp() as u64),
    ]
}

/// A cheap deterministic stream (splitmix64): proptest's per-value
/// machinery is slow in debug builds, so the large inputs are expanded from
/// a generated seed (a failure still reports the seed to replay).
fn stream(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed;
    std::iter::repeat_with(move || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// `n` values like [`value`]'s, from a seed.
fn values_from(seed: u64, n: usize) -> Vec<u64> {
    stream(seed)
        .take(n)
        .map(|r| match r % 10 {
            0 => 0,
            1..=3 => 1 + (r >> 8) % 199,
            _ => (((r >> 8) % 23_000) as f64 / 1000.0).exp() as u64,
        })
        .collect()
}

fn quantile() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.5), Just(0.95), Just(0.99), 0.0f64..=1.0]
}

/// The exact nearest-rank quantile: the ceil(q·n)-th smallest.
fn exact(sorted: &[u64], q: f64) -> u64 {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

fn hist(values: &[u64]) -> Histogram {
    let mut h = Histogram::default();
    values.iter().for_each(|&v| h.record(v));
    h
}

/// What can be counted into a MinuteAggregate.
#[derive(Debug, Clone)]
enum Event {
    Router(Option<u64>, Option<u64>, Option<u16>, Option<u8>),
    Load(u64),
    Memory(f64, Option<f64>),
    Queue(u64),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (
            proptest::option::of(value()),
            proptest::option::of(value()),
            proptest::option::of(0u16..1000),
            proptest::option::of(0u8..100),
        )
            .prop_map(|(s, c, st, code)| Event::Router(s, c, st, code)),
        1 => (0u64..5000).prop_map(Event::Load),
        1 => (0f64..20_000.0, proptest::option::of(1f64..16_384.0))
            .prop_map(|(t, q)| Event::Memory(t, q)),
        1 => value().prop_map(Event::Queue),
    ]
}

fn aggregate(events: &[Event]) -> MinuteAggregate {
    let mut agg = MinuteAggregate::default();
    for e in events {
        match *e {
            Event::Router(service_ms, connect_ms, status, code) => agg.record_router(&RouterLine {
                process_type: Some("web"),
                connect_ms,
                service_ms,
                status,
                code,
            }),
            Event::Load(l) => agg.record_load(l),
            Event::Memory(t, q) => agg.record_memory(t, q),
            Event::Queue(ms) => agg.record_queue(ms),
        }
    }
    agg
}

/// A header token: printable ASCII without spaces.
fn header_token() -> impl Strategy<Value = String> {
    "[!-~]{1,20}"
}

/// One well-formed frame and what the parser must give back.
#[derive(Debug, Clone)]
struct Spec {
    pri: u16,
    timestamp: i64,
    text: String,
    hostname: String,
    app_name: String,
    procid: String,
    msg: Vec<u8>,
}

fn spec() -> impl Strategy<Value = Spec> {
    let app = prop_oneof![
        Just("heroku".to_string()),
        Just("app".to_string()),
        header_token()
    ];
    let procid = prop_oneof![
        Just("router".to_string()),
        Just("web.1".to_string()),
        Just("worker-6b9f7d8c4-x2k9p".to_string()),
        Just("logplex".to_string()),
        header_token(),
    ];
    let msg = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        (value(), value(), 100u16..600, "(web|worker|run)\\.[0-9]{1,4}| ").prop_map(
            |(s, c, st, d)| format!("at=info path=\"/\" dyno={d} connect={c}ms service={s}ms status={st}")
                .into_bytes()
        ),
        (0u64..5000, "(web|run)\\.[0-9]").prop_map(|(l, d)| format!(
            "source={d} sample#load_avg_1m={}.{:02}",
            l / 100,
            l % 100
        )
        .into_bytes()),
        (0u64..100_000).prop_map(|q| format!("[hirefire:router] queue={q}ms").into_bytes()),
        (0u64..10_000).prop_map(|n| format!(
            "Error L10 (output buffer overflow): {n} messages dropped since 2026-11-22T07:39:12+00:00."
        )
        .into_bytes()),
    ];
    (
        0u16..1000,
        0i64..4_102_444_800,
        0usize..=6,
        prop_oneof![Just(None), (-720i32..=840).prop_map(Some)],
        0u32..1_000_000,
        header_token(),
        app,
        procid,
        header_token(),
        msg,
        any::<bool>(),
    )
        .prop_map(
            |(
                pri,
                timestamp,
                frac_digits,
                offset,
                frac,
                hostname,
                app_name,
                procid,
                msgid,
                mut msg,
                newline,
            )| {
                let tz = FixedOffset::east_opt(offset.unwrap_or(0) * 60).unwrap();
                let local = DateTime::from_timestamp(timestamp, 0)
                    .unwrap()
                    .with_timezone(&tz);
                let mut ts = local.format("%Y-%m-%dT%H:%M:%S").to_string();
                if frac_digits > 0 {
                    let f = format!("{frac:06}");
                    ts.push('.');
                    ts.push_str(&f[..frac_digits]);
                }
                match offset {
                    None => ts.push('Z'),
                    Some(_) => ts.push_str(&local.format("%:z").to_string()),
                }
                if newline {
                    msg.push(b'\n');
                }
                let text = format!("<{pri}>1 {ts} {hostname} {app_name} {procid} {msgid} ");
                Spec {
                    pri,
                    timestamp,
                    text,
                    hostname,
                    app_name,
                    procid,
                    msg,
                }
            },
        )
}

fn render(specs: &[Spec]) -> Vec<u8> {
    let msgs: Vec<Vec<u8>> = specs
        .iter()
        .map(|s| [s.text.as_bytes(), &s.msg].concat())
        .collect();
    framed(&msgs)
}

/// Invariants every parse keeps, whatever the body.
fn check_invariants(body: &[u8], batch: &Batch) -> Result<(), TestCaseError> {
    prop_assert!(batch.frames + batch.rejected <= MAX_FRAMES as u64 + 1);
    prop_assert!(batch.frames + batch.rejected <= body.len() as u64);
    let (frames, skipped) = batch
        .minutes
        .values()
        .fold((0, 0), |(f, s), m| (f + m.frames, s + m.skipped));
    prop_assert_eq!(frames, batch.frames);
    prop_assert_eq!(skipped, batch.skipped);
    prop_assert!(batch.skipped <= batch.frames);
    for (&minute, m) in &batch.minutes {
        prop_assert_eq!(minute % 60, 0);
        prop_assert!(m.types.len() <= aggregate::MAX_TYPES_PER_MINUTE);
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    Truncate(usize),
    InsertDigit(usize, u8),
    Delete(usize),
    Insert(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        3 => (any::<usize>(), b'0'..=b'9').prop_map(|(i, d)| Mutation::InsertDigit(i, d)),
        2 => any::<usize>().prop_map(Mutation::Delete),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

fn mutate(body: &mut Vec<u8>, m: &Mutation) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *m {
        Mutation::FlipBit(i, b) if !body.is_empty() => {
            let i = at(i, body.len());
            body[i] ^= 1 << b;
        }
        Mutation::Truncate(i) => body.truncate(at(i, body.len() + 1)),
        Mutation::InsertDigit(i, d) => body.insert(at(i, body.len() + 1), d),
        Mutation::Delete(i) if !body.is_empty() => {
            body.remove(at(i, body.len()));
        }
        Mutation::Insert(i, b) => body.insert(at(i, body.len() + 1), b),
        _ => {}
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn quantiles_are_within_five_percent_of_the_exact_value(
        seed in any::<u64>(),
        n in 1usize..300,
        q in quantile(),
    ) {
        let mut values = values_from(seed, n);
        let h = hist(&values);
        values.sort_unstable();
        let want = exact(&values, q) as f64;
        let got = h.quantile(q).unwrap();
        if want == 0.0 {
            prop_assert_eq!(got, 0.0);
        } else {
            prop_assert!((got - want).abs() / want <= 0.05, "q{} got {} want {}", q, got, want);
        }
        let max = *values.last().unwrap() as f64;
        let got_max = h.max().unwrap();
        prop_assert!((got_max - max).abs() <= max * 0.05, "max {} vs {}", got_max, max);
    }

    #[test]
    fn merging_is_associative_commutative_and_equals_recording_all(
        a in proptest::collection::vec(event(), 0..25),
        b in proptest::collection::vec(event(), 0..25),
        c in proptest::collection::vec(event(), 0..25),
    ) {
        let (ha, hb, hc) = (aggregate(&a), aggregate(&b), aggregate(&c));
        let mut left = ha.clone();
        left.merge(&hb);
        left.merge(&hc);
        let mut bc = hb.clone();
        bc.merge(&hc);
        let mut right = ha.clone();
        right.merge(&bc);
        let mut rotated = hc.clone();
        rotated.merge(&ha);
        rotated.merge(&hb);
        let all = aggregate(&[a, b, c].concat());
        prop_assert_eq!(&left, &right);
        prop_assert_eq!(&left, &rotated);
        prop_assert_eq!(&left, &all);
    }

    #[test]
    fn counters_round_trip(events in proptest::collection::vec(event(), 0..60)) {
        let agg = aggregate(&events);
        let c = agg.counters();
        prop_assert!(c.values().all(|&n| n > 0));
        prop_assert!(c.keys().all(|k| k.len() <= 8
            && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
        prop_assert_eq!(MinuteAggregate::from_counters(&c).unwrap(), agg);
    }
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn a_valid_concatenation_yields_exactly_its_frames(
        specs in proptest::collection::vec(spec(), 0..8),
        split in any::<usize>(),
    ) {
        let body = render(&specs);
        let got: Vec<Frame<'_>> = frames(&body).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(got.len(), specs.len());
        for (f, s) in got.iter().zip(&specs) {
            prop_assert_eq!(f.pri, s.pri);
            prop_assert_eq!(f.timestamp, s.timestamp);
            prop_assert_eq!(f.hostname, s.hostname.as_str());
            prop_assert_eq!(f.app_name, s.app_name.as_str());
            prop_assert_eq!(f.procid, s.procid.as_str());
            prop_assert_eq!(f.msg, s.msg.as_slice());
        }
        // Split between two POSTs, the minutes add up to the same numbers.
        let whole = parse_body(&body);
        check_invariants(&body, &whole)?;
        for m in whole.minutes.values() {
            prop_assert_eq!(&AppMinute::from_counters(&m.counters()).unwrap(), m);
        }
        prop_assert_eq!(whole.frames, specs.len() as u64);
        prop_assert_eq!(whole.rejected, 0);
        let k = if specs.is_empty() { 0 } else { split % (specs.len() + 1) };
        let mut parts = parse_body(&render(&specs[..k]));
        parts.merge(&parse_body(&render(&specs[k..])));
        prop_assert_eq!(parts, whole);
    }
}

proptest! {
    #![proptest_config(config(47_000))]

    #[test]
    fn random_bytes_never_panic(seed in any::<u64>(), len in 0usize..400, framed_start in any::<bool>()) {
        let mut body: Vec<u8> = stream(seed).take(len.div_ceil(8)).flat_map(u64::to_le_bytes).take(len).collect();
        if framed_start {
            // Give the parser a readable first count so it gets past framing.
            let head = format!("{} <158>1 ", len.saturating_sub(3));
            body.splice(0..0, head.bytes());
        }
        let batch = parse_body(&body);
        check_invariants(&body, &batch)?;
    }

    #[test]
    fn mutated_real_frames_never_panic(
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        let mut body = example_body();
        for m in &mutations {
            mutate(&mut body, m);
        }
        let batch = parse_body(&body);
        check_invariants(&body, &batch)?;
    }
}
