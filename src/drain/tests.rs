//! Example-based tests: the frames of the contracts (§10.7, octet counts
//! computed here), and one test per line shape the parser must read.

use std::collections::BTreeMap;

use super::frames::{frames, FrameError};
use super::lines::{classify, dyno, Dyno, Line, RouterLine, Skip};
use super::*;

/// 2026-11-22T07:40:00Z and the minute after.
const M40: i64 = 1_795_333_200;
const M41: i64 = M40 + 60;

/// The contracts' example messages (§10.7), without octet counts.
const EXAMPLE: [&str; 7] = [
    "<158>1 2026-11-22T07:40:01.123456+00:00 host heroku router - at=info method=GET path=\"/orders?page=2\" host=example-app.herokuapp.com request_id=5f0c6a86-0d0b-4c6e-9a2b-1d2f3c4b5a69 fwd=\"203.0.113.7\" dyno=web.1 connect=0ms service=42ms status=200 bytes=1834 protocol=https\n",
    "<158>1 2026-11-22T07:40:31.000412+00:00 host heroku router - at=error code=H12 desc=\"Request timeout\" method=POST path=\"/checkout\" host=example-app.herokuapp.com request_id=0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0 fwd=\"203.0.113.9\" dyno=web.2 connect=1ms service=30000ms status=503 bytes=0 protocol=https\n",
    "<158>1 2026-11-22T07:40:02.500001+00:00 host heroku router - at=info method=GET path=\"/\" host=example-app.herokuapp.com request_id=6903a168-b79b-ec27-03c8-b8f64d8d8792 fwd=\"203.0.113.7\" dyno=web.1 connect=0ms service=3ms status=200 bytes=512 protocol=http2.0 tls=true tls_version=unknown\n",
    "<134>1 2026-11-22T07:40:05.412233+00:00 host heroku web.1 - source=web.1 dyno=heroku.123456789.3f2a9c1e-7b4d-4e2f-9a01-5c6d7e8f9a0b sample#load_avg_1m=0.42 sample#load_avg_5m=0.31 sample#load_avg_15m=0.20\n",
    "<134>1 2026-11-22T07:40:05.412917+00:00 host heroku web.1 - source=web.1 dyno=heroku.123456789.3f2a9c1e-7b4d-4e2f-9a01-5c6d7e8f9a0b sample#memory_total=310.25MB sample#memory_rss=301.12MB sample#memory_cache=9.13MB sample#memory_swap=0.00MB sample#memory_pgpgin=123456pages sample#memory_pgpgout=98765pages sample#memory_quota=512.00MB\n",
    "<190>1 2026-11-22T07:40:01.120000+00:00 host app web.1 - [hirefire:router] queue=12ms\n",
    "<172>1 2026-11-22T07:41:00+00:00 host heroku logplex - Error L10 (output buffer overflow): 7 messages dropped since 2026-11-22T07:39:12+00:00.",
];

/// Frame messages with octet counts computed from their bytes.
pub(super) fn framed<S: AsRef<[u8]>>(msgs: &[S]) -> Vec<u8> {
    let mut body = Vec::new();
    for m in msgs {
        let m = m.as_ref();
        body.extend_from_slice(m.len().to_string().as_bytes());
        body.push(b' ');
        body.extend_from_slice(m);
    }
    body
}

pub(super) fn example_body() -> Vec<u8> {
    framed(&EXAMPLE)
}

fn msg(app: &str, procid: &str, text: &str) -> String {
    format!("<158>1 2026-11-22T07:40:01.5+00:00 host {app} {procid} - {text}\n")
}

fn line_of(m: &str) -> Line<'static> {
    let leaked: &'static str = Box::leak(m.to_string().into_boxed_str());
    let frame = super::frames::parse_message(leaked.as_bytes()).expect("valid header");
    classify(&frame)
}

fn router(text: &str) -> Line<'static> {
    line_of(&msg("heroku", "router", text))
}

#[test]
fn the_contracts_example_body_is_read_frame_by_frame() {
    let body = example_body();
    // The contracts measured 1657 bytes; our computed counts agree.
    assert_eq!(body.len(), 1657);
    let got: Vec<_> = frames(&body).collect::<Result<_, _>>().unwrap();
    assert_eq!(got.len(), 7);
    let who: Vec<_> = got.iter().map(|f| (f.app_name, f.procid)).collect();
    assert_eq!(
        who,
        [
            ("heroku", "router"),
            ("heroku", "router"),
            ("heroku", "router"),
            ("heroku", "web.1"),
            ("heroku", "web.1"),
            ("app", "web.1"),
            ("heroku", "logplex"),
        ]
    );
    assert!(got.iter().all(|f| f.hostname == "host"));
    assert_eq!(got[0].timestamp, M40 + 1);
    assert_eq!(got[6].timestamp, M41);
}

#[test]
fn the_contracts_example_body_aggregates_into_two_minutes() {
    let batch = parse_body(&example_body());
    assert_eq!((batch.frames, batch.rejected, batch.skipped), (7, 0, 0));
    assert_eq!(
        batch.minutes.keys().copied().collect::<Vec<_>>(),
        [M40, M41]
    );

    let m40 = &batch.minutes[&M40];
    assert_eq!((m40.frames, m40.l10_dropped, m40.skipped), (6, 0, 0));
    assert_eq!(m40.types.keys().collect::<Vec<_>>(), ["web"]);
    let web = m40.formation("web").unwrap();
    assert_eq!(web.requests(), 3);
    assert_eq!(web.status_classes(), [0, 2, 0, 0, 1]);
    assert_eq!(web.error_count("H12"), 1);
    assert_eq!(web.capacity_errors(), 1);
    let close = |got: Option<f64>, want: f64| {
        let got = got.expect("a value");
        assert!((got - want).abs() <= want * 0.04, "{got} vs {want}");
    };
    close(web.service_ms(0.5), 42.0);
    close(web.service_ms(1.0), 30_000.0);
    close(web.service_ms(0.0), 3.0);
    assert_eq!(web.connect_ms(0.5), Some(0.0));
    close(web.connect_ms(1.0), 1.0);
    close(web.queue_ms(0.95), 12.0);
    assert_eq!(web.load_1m_mean(), Some(0.42));
    close(web.load_1m_max(), 0.42);
    close(web.memory_ratio_max(), 310.25 / 512.0);
    close(web.memory_total_max_mb(), 310.0);

    let m41 = &batch.minutes[&M41];
    assert_eq!((m41.frames, m41.l10_dropped), (1, 7));
    assert!(m41.incomplete() && !m40.incomplete());
    assert!(m41.types.is_empty());
}

#[test]
fn counters_of_the_example_use_the_documented_names() {
    let batch = parse_body(&example_body());
    let c = batch.minutes[&M40].counters();
    for name in [
        "fr",
        "web.rq",
        "web.s2",
        "web.s5",
        "web.e_h12",
        "web.cn_z",
        "web.lds",
    ] {
        assert!(c.contains_key(name), "{name} in {c:?}");
    }
    assert_eq!(c["fr"], 6);
    assert_eq!(c["web.rq"], 3);
    assert_eq!(c["web.e_h12"], 1);
    assert_eq!(c["web.cn_z"], 2);
    assert_eq!(c["web.lds"], 42);
    assert!(c.keys().all(|k| k
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')));
    let l10 = batch.minutes[&M41].counters();
    assert_eq!(l10, BTreeMap::from([("fr".into(), 1), ("l10".into(), 7)]));
    // No application text, path, host or IP leaks into the stored form.
    let stored = serde_json::to_string(&batch).unwrap();
    for secret in [
        "orders",
        "checkout",
        "203.0.113",
        "example-app",
        "5f0c6a86",
        "hirefire",
    ] {
        assert!(!stored.contains(secret), "{secret} stored");
    }
}

#[test]
fn app_minute_counters_round_trip_and_unknown_names_are_named() {
    let batch = parse_body(&example_body());
    for m in batch.minutes.values() {
        assert_eq!(&AppMinute::from_counters(&m.counters()).unwrap(), m);
    }
    for bad in [
        "web.zz", "bogus", "web.zz_1", "xx_z", "web.sv_x", "web.e_h1", "w!b.rq", "sv_999",
    ] {
        let c = BTreeMap::from([(bad.to_string(), 1)]);
        let err = AppMinute::from_counters(&c).unwrap_err();
        assert!(err.contains(bad), "{err}");
    }
}

#[test]
fn router_values_may_be_bare_quoted_empty_or_without_ms() {
    let Line::Router(l) = router("at=info method=GET path=/ host=a.b fwd=\"1.2.3.4, 5.6.7.8\" dyno=web.3 connect=0 service=17 status=201 bytes=1") else {
        panic!("not a router line")
    };
    assert_eq!(
        l,
        RouterLine {
            process_type: Some("web"),
            connect_ms: Some(0),
            service_ms: Some(17),
            status: Some(201),
            code: None
        }
    );
    // Key order is not a contract; quoted values may hold `=` and spaces.
    let Line::Router(l) = router(
        "status=\"404\" desc=\"a = b c\" service=\"5ms\" dyno=\"worker.2\" unknown_key= connect=",
    ) else {
        panic!("not a router line")
    };
    assert_eq!(
        (l.process_type, l.status, l.service_ms, l.connect_ms),
        (Some("worker"), Some(404), Some(5), None)
    );
}

#[test]
fn router_text_that_is_not_a_request_is_skipped() {
    assert_eq!(router("Shutting down"), Line::Skipped(Skip::NotAggregated));
    assert_eq!(
        router("sock=client foo=bar"),
        Line::Skipped(Skip::NotAggregated)
    );
    assert!(
        matches!(router("sock=client at=warning code=H27 dyno=web.1 status=499"), Line::Router(l) if l.code == Some(27))
    );
}

#[test]
fn router_lines_without_a_dyno_count_for_the_app_only() {
    let h11 = msg("heroku", "router", "at=error code=H11 desc=\"Backlog too deep\" method=GET path=\"/\" host=x fwd=1.1.1.1 dyno= connect= service= status=503 bytes=");
    let batch = parse_body(&framed(&[h11]));
    let m = &batch.minutes[&M40];
    assert!(m.types.is_empty());
    assert_eq!(m.unattributed.requests(), 1);
    assert_eq!(m.unattributed.capacity_errors(), 1);
    assert_eq!(m.unattributed.service_ms(0.5), None);
    assert_eq!(m.counters()["e_h11"], 1);
}

#[test]
fn only_h10_to_h13_h19_to_h22_and_h99_are_capacity_errors() {
    let codes = [
        "H10", "H11", "H12", "H13", "H14", "H15", "H18", "H19", "H20", "H21", "H22", "H25", "H27",
        "H28", "H80", "H81", "H82", "H99",
    ];
    let msgs: Vec<_> = codes
        .iter()
        .map(|c| {
            msg(
                "heroku",
                "router",
                &format!("at=error code={c} dyno=web.1 status=503"),
            )
        })
        .collect();
    let batch = parse_body(&framed(&msgs));
    let web = batch.minutes[&M40].formation("web").unwrap();
    assert_eq!(web.requests(), codes.len() as u64);
    assert_eq!(web.capacity_errors(), 9);
    assert_eq!(web.error_count("H27"), 1);
    assert_eq!(web.error_count("h80"), 1);
    assert_eq!(web.error_count("H83"), 0);
    assert_eq!(web.error_count("X"), 0);
}

#[test]
fn dyno_names_give_process_types() {
    assert_eq!(dyno("web.1"), Dyno::Formation("web"));
    assert_eq!(dyno("worker_high.12"), Dyno::Formation("worker_high"));
    assert_eq!(dyno("web-6b9f7d8c4-x2k9p"), Dyno::Formation("web"));
    assert_eq!(
        dyno("queue-worker-6b9f7d8c4-x2k9p"),
        Dyno::Formation("queue-worker")
    );
    assert_eq!(dyno("run.7166"), Dyno::OneOff);
    assert_eq!(dyno("scheduler.2345"), Dyno::OneOff);
    assert_eq!(dyno("release.1"), Dyno::OneOff);
    for unknown in [
        "",
        "web",
        "web.",
        "web.x",
        "DATABASE",
        "heroku-postgres",
        "a b.1",
    ] {
        assert_eq!(dyno(unknown), Dyno::Unknown, "{unknown}");
    }
}

#[test]
fn runtime_metrics_are_read_per_process_type_and_one_offs_are_skipped() {
    let load = |src: &str, v: &str| {
        msg(
            "heroku",
            src,
            &format!(
                "source={src} dyno=heroku.1.abc sample#load_avg_1m={v} sample#load_avg_5m=0.1"
            ),
        )
    };
    let mem_no_quota = msg(
        "heroku",
        "worker.1",
        "source=worker.1 dyno=heroku.1.abc sample#memory_total=21.00MB sample#memory_rss=21.22MB",
    );
    let postgres = msg(
        "heroku",
        "heroku-postgres",
        "source=DATABASE addon=x sample#current_transaction=1 sample#load-avg-1m=0.5",
    );
    let batch = parse_body(&framed(&[
        load("web.1", "2.46"),
        load("web.2", "0.54"),
        load("run.7166", "9.00"),
        mem_no_quota,
        postgres,
    ]));
    assert_eq!((batch.frames, batch.skipped), (5, 2));
    let m = &batch.minutes[&M40];
    let web = m.formation("web").unwrap();
    assert_eq!(web.load_samples(), 2);
    assert_eq!(web.load_1m_mean(), Some(1.5));
    let max = web.load_1m_max().unwrap();
    assert!((max - 2.46).abs() < 2.46 * 0.04, "{max}");
    let worker = m.formation("worker").unwrap();
    assert_eq!(worker.memory_ratio_max(), None, "no quota, no ratio");
    assert!(worker.memory_total_max_mb().is_some());
    assert_eq!(worker.requests(), 0);
}

#[test]
fn hirefire_queue_lines_must_match_exactly() {
    let q = |text: &str| line_of(&msg("app", "web.2", text).replace('\n', "\r\n"));
    assert_eq!(
        q("[hirefire:router] queue=250ms"),
        Line::Queue {
            process_type: "web",
            ms: 250
        }
    );
    for other in [
        "[hirefire:router] queue=12.5ms",
        "[hirefire:router] queue=ms",
        "[hirefire:router] queue=12ms extra",
        "Started GET \"/\" [hirefire:router] queue=12ms",
        "[hirefire:router] queue=-3ms",
    ] {
        assert_eq!(q(other), Line::Skipped(Skip::NotAggregated), "{other}");
    }
    // From a one-off dyno: not a formation.
    assert_eq!(
        line_of(&msg("app", "run.1", "[hirefire:router] queue=1ms")),
        Line::Skipped(Skip::OneOff)
    );
}

#[test]
fn l10_adds_the_dropped_count_to_its_minute() {
    let l10 = |n: &str| {
        format!(
            "<172>1 2026-11-22T07:40:59.999999Z host heroku logplex - Error L10 (output buffer overflow): {n} messages dropped since 2026-11-22T07:39:12+00:00."
        )
    };
    let batch = parse_body(&framed(&[l10("7"), l10("1000"), l10("x")]));
    let m = &batch.minutes[&M40];
    assert_eq!(m.l10_dropped, 1007);
    assert_eq!(batch.skipped, 1);
}

#[test]
fn rejected_frames_are_counted_and_good_ones_kept() {
    let good = msg("heroku", "router", "dyno=web.1 service=5ms status=200");
    let mut body = framed(&[
        good.clone(),
        "<158>1 not-a-time host heroku router - x\n".to_string(),
        good.clone(),
    ]);
    body.extend_from_slice(b"300 <158>1 2026-11-22T07:40:01Z host heroku router - cut");
    let batch = parse_body(&body);
    assert_eq!((batch.frames, batch.rejected), (2, 2));
    assert_eq!(batch.minutes[&M40].formation("web").unwrap().requests(), 2);
    let errors: Vec<_> = frames(&body).filter_map(Result::err).collect();
    assert_eq!(
        errors,
        [FrameError::Header("TIMESTAMP"), FrameError::Truncated]
    );
    // Error texts name the field, never the frame's contents.
    assert_eq!(errors[0].to_string(), "bad TIMESTAMP in frame header");
}

#[test]
fn types_beyond_the_cap_are_skipped_not_stored() {
    let msgs: Vec<_> = (0..aggregate::MAX_TYPES_PER_MINUTE + 3)
        .map(|i| msg("heroku", "router", &format!("dyno=t{i}.1 status=200")))
        .collect();
    let batch = parse_body(&framed(&msgs));
    assert_eq!(
        batch.minutes[&M40].types.len(),
        aggregate::MAX_TYPES_PER_MINUTE
    );
    assert_eq!(batch.skipped, 3);
}
