//! `top`, `diff` and flame graphs on Parquet data with known answers (built by
//! `profcol_testkit::query_data`): `hot_loop` is hottest by self time in `shop`, and `regressed_fn`
//! grew from 5 % (v1) to 40 % (v2) of CPU.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use profcol_query::ops::{self, DiffOptions, Metric, Side, TopOptions, TopOrder};
use profcol_query::{Filter, Session, TimeWindow, flame};
use profcol_testkit::query_data::{self as testdata, KNOWN_UNIT};

async fn known_session() -> (tempfile::TempDir, Session) {
    let dir = tempfile::tempdir().unwrap();
    let files = testdata::write_known(dir.path()).unwrap();
    // shop has 2 hours, cart 1: three partitions, one file each.
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(
        files[0]
            .to_string_lossy()
            .contains("profiles/service_name=cart/date=2026-11-25/hour=10/part-")
    );
    let s = Session::open(dir.path().to_str().unwrap()).await.unwrap();
    assert_eq!(s.files, 3);
    (dir, s)
}

fn shop() -> Filter {
    Filter {
        service: Some("shop".into()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_finds_the_hottest_function() {
    let (_d, s) = known_session().await;
    let r = ops::top(
        &s,
        &TopOptions {
            filter: shop(),
            limit: 20,
            order: TopOrder::SelfValue,
        },
    )
    .await
    .unwrap();
    // CPU is chosen over alloc_space; the memory profile is reported as another type.
    assert_eq!(r.profile.profile_type, "cpu:nanoseconds:cpu:nanoseconds");
    assert_eq!(r.other_types.len(), 1);
    assert_eq!(r.grand_total, 200 * KNOWN_UNIT);
    assert_eq!(r.rows[0].function, "hot_loop");
    assert_eq!(r.rows[0].self_value, 80 * KNOWN_UNIT);
    assert_eq!(r.rows[0].total_value, 80 * KNOWN_UNIT);
    let get = |f: &str| r.rows.iter().find(|x| x.function == f).unwrap().clone();
    assert_eq!(get("regressed_fn").self_value, 45 * KNOWN_UNIT);
    assert_eq!(get("main").self_value, 0);
    assert_eq!(get("main").total_value, 200 * KNOWN_UNIT);
    assert_eq!(get("serve").total_value, 175 * KNOWN_UNIT);
    // Recursion counts once per stack: recurse;recurse;recurse with 8 units is 8 units.
    assert_eq!(get("recurse").total_value, 8 * KNOWN_UNIT);
    assert_eq!(get("recurse").self_value, 8 * KNOWN_UNIT);
    // Sorted by self.
    assert!(
        r.rows
            .windows(2)
            .all(|w| w[0].self_value >= w[1].self_value)
    );

    // By total, main first; limit applies.
    let r = ops::top(
        &s,
        &TopOptions {
            filter: shop(),
            limit: 2,
            order: TopOrder::Total,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.rows[0].function, "main");
    assert_eq!(r.rows[1].function, "serve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_service_type_and_time() {
    let (_d, s) = known_session().await;
    let top1 = |f: Filter| {
        let s = &s;
        async move {
            ops::top(
                s,
                &TopOptions {
                    filter: f,
                    limit: 1,
                    order: TopOrder::SelfValue,
                },
            )
            .await
            .unwrap()
        }
    };
    // All services: cart's 500 units win.
    let r = top1(Filter::default()).await;
    assert_eq!(r.rows[0].function, "cart_hot");
    // Memory profile of shop.
    let r = top1(Filter {
        profile_type: Some("alloc_space".into()),
        ..shop()
    })
    .await;
    assert_eq!(r.rows[0].function, "allocator");
    assert_eq!(r.profile.unit, "bytes");
    assert_eq!(r.grand_total, 2 << 30);
    // Only v2's hour: regressed_fn is hottest there.
    let r = top1(Filter {
        window: TimeWindow::parse("2026-11-25T11..2026-11-25T12").unwrap(),
        ..shop()
    })
    .await;
    assert_eq!(r.rows[0].function, "regressed_fn");
    assert_eq!(r.grand_total, 100 * KNOWN_UNIT);
    // Free SQL.
    let r = top1(Filter {
        where_sql: vec!["service_version = 'v1'".into()],
        ..shop()
    })
    .await;
    assert_eq!(r.rows[0].function, "hot_loop");
    assert_eq!(r.rows[0].self_value, 50 * KNOWN_UNIT);
    // Nothing matches: a clear error.
    let e = ops::top(
        &s,
        &TopOptions {
            filter: Filter {
                service: Some("nope".into()),
                ..Default::default()
            },
            limit: 1,
            order: TopOrder::SelfValue,
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("no samples"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_finds_the_regression() {
    let (_d, s) = known_session().await;
    for (from, to) in [
        (
            Side::by("service_version", "v1"),
            Side::by("service_version", "v2"),
        ),
        (
            Side::window(TimeWindow::parse("2026-11-25T10..2026-11-25T11").unwrap()),
            Side::window(TimeWindow::parse("2026-11-25T11..2026-11-25T12").unwrap()),
        ),
    ] {
        let r = ops::diff(
            &s,
            &DiffOptions {
                filter: shop(),
                from,
                to,
                metric: Metric::SelfValue,
                limit: 10,
            },
        )
        .await
        .unwrap();
        assert_eq!(r.from_total, 100 * KNOWN_UNIT);
        assert_eq!(r.to_total, 100 * KNOWN_UNIT);
        let top = &r.rows[0];
        assert_eq!(top.function, "regressed_fn");
        assert!((top.from_pct - 5.0).abs() < 1e-9, "{top:?}");
        assert!((top.to_pct - 40.0).abs() < 1e-9, "{top:?}");
        assert!((top.delta_pp - 35.0).abs() < 1e-9, "{top:?}");
        // hot_loop shrank by 20 points: second largest change.
        assert_eq!(r.rows[1].function, "hot_loop");
        assert!((r.rows[1].delta_pp + 20.0).abs() < 1e-9);
    }
    // Total metric: serve (the caller) grew too, by 35 - 20 - 8 - 2 = +5 points.
    let r = ops::diff(
        &s,
        &DiffOptions {
            filter: shop(),
            from: Side::by("service_version", "v1"),
            to: Side::by("service_version", "v2"),
            metric: Metric::Total,
            limit: 20,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.rows[0].function, "regressed_fn");
    let serve = r.rows.iter().find(|x| x.function == "serve").unwrap();
    assert!((serve.delta_pp - 5.0).abs() < 1e-9, "{serve:?}");
    // An empty side is an error, not a table of -100 %.
    let e = ops::diff(
        &s,
        &DiffOptions {
            filter: shop(),
            from: Side::by("service_version", "v1"),
            to: Side::by("service_version", "v9"),
            metric: Metric::SelfValue,
            limit: 5,
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("to side"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flamegraph_svg_is_well_formed_and_names_the_hottest() {
    let (_d, s) = known_session().await;
    let f = ops::folded(&s, &shop()).await.unwrap();
    let get = |k: &str| f.stacks.iter().find(|(s, _)| s == k).map(|x| x.1);
    assert_eq!(get("main;serve;hot_loop"), Some(80 * KNOWN_UNIT));
    assert_eq!(get("main;recurse;recurse;recurse"), Some(8 * KNOWN_UNIT));
    assert_eq!(f.stacks.len(), 6);
    let svg = flame::svg(
        &f.stacks,
        &flame::SvgOptions {
            title: "shop".into(),
            subtitle: None,
            unit: f.profile.unit.clone(),
        },
    )
    .unwrap();
    let names = check_svg(&svg);
    assert!(
        names.iter().any(|t| t.starts_with("hot_loop ")),
        "{names:?}"
    );
    // The widest leaf is hot_loop (40 %).
    let hot = names.iter().find(|t| t.starts_with("hot_loop ")).unwrap();
    assert!(hot.contains("40.00%"), "{hot}");

    let d = ops::folded_diff(
        &s,
        &shop(),
        &Side::by("service_version", "v1"),
        &Side::by("service_version", "v2"),
    )
    .await
    .unwrap();
    let row = d
        .stacks
        .iter()
        .find(|(s, _, _)| s == "main;serve;regressed_fn")
        .unwrap();
    assert_eq!((row.1, row.2), (5 * KNOWN_UNIT, 40 * KNOWN_UNIT));
    let svg = flame::diff_svg(&d.stacks, &flame::SvgOptions::default()).unwrap();
    let names = check_svg(&svg);
    let reg = names
        .iter()
        .find(|t| t.starts_with("regressed_fn "))
        .unwrap();
    // inferno's differential tooltip: the change in share, +35 %.
    assert!(reg.contains("+35.00%"), "{reg}");
}

/// Parses the SVG as XML and returns the `<title>` texts of its frames.
fn check_svg(svg: &[u8]) -> Vec<String> {
    use quick_xml::Reader;
    use quick_xml::events::Event;
    let text = std::str::from_utf8(svg).unwrap();
    let mut r = Reader::from_str(text);
    let mut depth = 0i32;
    let mut in_title = false;
    let mut titles = Vec::new();
    let mut saw_svg = false;
    loop {
        match r.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                depth += 1;
                saw_svg |= e.name().as_ref() == b"svg";
                in_title = e.name().as_ref() == b"title";
            }
            Event::End(_) => {
                depth -= 1;
                in_title = false;
            }
            Event::Text(t) if in_title => {
                titles.push(t.decode().unwrap().into_owned());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(saw_svg);
    assert_eq!(depth, 0, "unbalanced elements");
    titles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_sees_partitions_and_the_schema() {
    let (dir, s) = known_session().await;
    let b = s
        .sql(
            "SELECT service_name, date, hour, count(*) AS n FROM samples \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
        .await
        .unwrap();
    let t = profcol_query::render::Table::from_batches(&b).unwrap();
    let text = t.to_text();
    assert!(
        text.contains("cart          2026-11-25  10      1"),
        "{text}"
    );
    assert!(
        text.contains("shop          2026-11-25  11    101"),
        "{text}"
    );
    // A partition directory opens too, with its fixed columns back.
    let part = dir.path().join("profiles/service_name=shop");
    let s2 = Session::open(part.to_str().unwrap()).await.unwrap();
    let b = s2
        .sql("SELECT DISTINCT service_name FROM samples")
        .await
        .unwrap();
    assert_eq!(ops::strings(&b[0], "service_name").unwrap(), vec!["shop"]);
    // So does a single file, with partitions from its path.
    let file = testdata::write_known(dir.path()).unwrap().remove(2);
    let s3 = Session::open(file.to_str().unwrap()).await.unwrap();
    let b = s3
        .sql("SELECT service_name, hour, count(*) AS n FROM samples GROUP BY 1, 2")
        .await
        .unwrap();
    assert_eq!(ops::strings(&b[0], "service_name").unwrap(), vec!["shop"]);
    assert_eq!(ops::strings(&b[0], "hour").unwrap(), vec!["11"]);
    // Every spec column is readable.
    let cols = s
        .sql("SELECT * FROM samples LIMIT 1")
        .await
        .unwrap()
        .remove(0)
        .schema();
    for f in profcol_query::schema::table_schema().fields() {
        assert!(cols.field_with_name(f.name()).is_ok(), "{}", f.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_request_answers_like_parquet() {
    let req = profcol_testkit::synth::stacks(
        "shop",
        &[
            (&["main", "serve", "hot_loop"], 50),
            (&["main", "gc"], 10),
            (&["main", "serve", "hot_loop"], 30),
        ],
    );
    let s = Session::from_request(&req, "synth").unwrap();
    let r = ops::top(
        &s,
        &TopOptions {
            filter: Filter::default(),
            limit: 5,
            order: TopOrder::SelfValue,
        },
    )
    .await
    .unwrap();
    assert_eq!(r.rows[0].function, "hot_loop");
    assert_eq!(r.rows[0].self_value, 80);
    assert_eq!(r.grand_total, 90);
    let b = s
        .sql("SELECT DISTINCT service_name FROM samples")
        .await
        .unwrap();
    assert_eq!(ops::strings(&b[0], "service_name").unwrap(), vec!["shop"]);
}

#[test]
fn no_data_is_a_clear_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = rt
        .block_on(Session::open(dir.path().to_str().unwrap()))
        .err()
        .unwrap();
    assert!(e.to_string().contains("no .parquet files"), "{e}");
    let e = rt
        .block_on(Session::open("/definitely/not/here"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("does not exist"), "{e}");
}
