//! The docs page in a real browser (headless Chromium) with every host but this machine's
//! unreachable: it loads the document from the server and shows every operation and every
//! schema, with nothing fetched from the internet.
//!
//! Chromium is found as `SWITCHBOARD_TEST_CHROMIUM` or `chromium` on the `PATH`. Without it the
//! test prints `SKIPPED: …` and passes, unless `SWITCHBOARD_TEST_REQUIRE_BROWSER=1` (CI).

use std::net::SocketAddr;

use crate::harness::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_shows_every_operation_and_schema_offline() {
    let Some(chromium) = crate::harness::chromium("the docs page test") else {
        return;
    };
    let Some(app) = TestApp::new(Backend::Sqlite).await else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/api-docs");
    let out = tokio::task::spawn_blocking({
        let profile = profile.path().to_path_buf();
        move || {
            std::process::Command::new("timeout")
                .arg("120")
                .arg(&chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    // No host but this one resolves: anything fetched from the internet fails.
                    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                    "--virtual-time-budget=20000",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg("--dump-dom")
                .arg(&url)
                .output()
                .expect("run chromium")
        }
    })
    .await
    .unwrap();
    server.abort();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !dom.is_empty(),
        "chromium failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // What the page rendered, without the script that renders it.
    let dom = &dom[..dom.find("<script").expect("the page's script")];

    let doc = serde_json::to_value(switchboard_server::docs::openapi()).unwrap();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            ["get", "put", "post", "delete", "patch"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert_eq!(
        dom.matches("<span class=\"method m-").count(),
        operations,
        "operations shown"
    );
    assert!(dom.contains(&format!("{operations} operations")));
    for name in schemas.keys() {
        assert!(
            dom.contains(&format!("id=\"schema-{name}\"")),
            "schema {name} is not on the page"
        );
    }
    // A typed answer is shown with its fields, not as a bare object.
    assert!(dom.contains("schema-NextBatch"));
    assert!(dom.contains("retry_after_seconds"));
}
