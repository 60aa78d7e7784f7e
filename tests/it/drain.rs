//! The drain core against the fake Logplex (tests/fakes/logplex.rs): what
//! Logplex would POST for an app, parsed and merged, gives back the numbers
//! the fake generated.

use std::collections::BTreeMap;

use dynopilot::drain::{frames::frames, parse_body, AppMinute, Batch};

use crate::logplex::{self, exact_quantile, ServiceTime, Traffic};

fn within(got: Option<f64>, want: Option<u64>, rel: f64) -> bool {
    match (got, want) {
        (Some(g), Some(0)) => g == 0.0,
        (Some(g), Some(w)) => (g - w as f64).abs() <= w as f64 * rel,
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn posts_follow_logplex_framing_headers_and_size() {
    let traffic = Traffic {
        minutes: 2,
        requests_per_second: 40.0,
        dynos: 3,
        h12_share: 0.02,
        hirefire_queue_max_ms: Some(50),
        app_noise: true,
        l10: Some((1, 42)),
        ..Traffic::default()
    };
    let generated = traffic.generate();
    let token = logplex::drain_token(7);
    let posts = logplex::batch(&generated.messages, &token, 7);
    assert!(posts.len() > 5, "{} posts", posts.len());
    let mut ids = std::collections::BTreeSet::new();
    let mut total = 0;
    for p in &posts {
        assert!(p.body.len() <= logplex::TARGET_BYTES);
        assert_eq!(p.header("content-type"), Some("application/logplex-1"));
        assert_eq!(p.header("Logplex-Drain-Token"), Some(token.as_str()));
        assert_eq!(p.header("User-Agent"), Some("Logplex/v123"));
        let id = p.header("Logplex-Frame-Id").unwrap();
        assert!(
            id.len() == 32
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
        assert!(ids.insert(id.to_string()), "frame ids are unique");
        // Every frame's count is exact: the body parses to exactly msg-count frames.
        let parsed: Vec<_> = frames(&p.body)
            .collect::<Result<_, _>>()
            .expect("exact counts");
        assert_eq!(parsed.len(), p.msg_count);
        assert_eq!(
            p.header("Logplex-Msg-Count"),
            Some(p.msg_count.to_string().as_str())
        );
        total += p.msg_count;
    }
    assert_eq!(total, generated.messages.len());
    // Full posts were filled close to the target, as Logplex's batching does.
    assert!(posts[0].body.len() > logplex::TARGET_BYTES - 1000);
}

#[test]
fn posts_of_an_app_add_up_to_the_generated_truth() {
    let traffic = Traffic {
        minutes: 3,
        requests_per_second: 25.0,
        dynos: 4,
        service: ServiceTime::LogNormal {
            median_ms: 120.0,
            sigma: 0.8,
        },
        h12_share: 0.01,
        h11_share: 0.01,
        hirefire_queue_max_ms: Some(200),
        app_noise: true,
        l10: Some((2, 9)),
        seed: 42,
        ..Traffic::default()
    };
    let generated = traffic.generate();
    let posts = logplex::batch(&generated.messages, &logplex::drain_token(1), 1);
    let mut merged = Batch::default();
    for p in &posts {
        merged.merge(&parse_body(&p.body));
    }
    assert_eq!(merged.rejected, 0);
    assert_eq!(merged.frames as usize, generated.messages.len());
    assert_eq!(
        merged.minutes.keys().collect::<Vec<_>>(),
        generated.truth.keys().collect::<Vec<_>>()
    );
    for (minute, truth) in &generated.truth {
        let m: &AppMinute = &merged.minutes[minute];
        assert_eq!(m.frames, truth.frames, "minute {minute}");
        assert_eq!(m.skipped, truth.skipped);
        assert_eq!(m.l10_dropped, truth.l10_dropped);
        assert_eq!(m.unattributed.requests(), truth.unattributed);
        let web = m.formation("web").expect("web");
        assert_eq!(web.requests(), truth.requests["web"]);
        assert_eq!(
            web.error_count("H12"),
            truth.errors.get("H12").copied().unwrap_or(0)
        );
        assert_eq!(
            m.unattributed.error_count("H11"),
            truth.errors.get("H11").copied().unwrap_or(0)
        );
        for q in [0.5, 0.95, 0.99] {
            assert!(
                within(
                    web.service_ms(q),
                    exact_quantile(&truth.service_ms, q),
                    0.05
                ),
                "service p{q}"
            );
            assert!(
                within(web.queue_ms(q), exact_quantile(&truth.queue_ms, q), 0.05),
                "queue p{q}"
            );
        }
        assert!(within(
            web.connect_ms(0.95),
            exact_quantile(&truth.connect_ms, 0.95),
            0.05
        ));
        let mean =
            truth.load_x100.iter().sum::<u64>() as f64 / truth.load_x100.len() as f64 / 100.0;
        assert!((web.load_1m_mean().unwrap() - mean).abs() < 1e-9);
        // Stored and read back, a minute is the same.
        let stored: BTreeMap<String, u64> = m.counters();
        assert_eq!(&AppMinute::from_counters(&stored).unwrap(), m);
    }
}
