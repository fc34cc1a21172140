use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::both;
use crate::harness::TestApp;

both!(schedules_validate_and_version);

async fn schedules_validate_and_version(app: TestApp) {
    let admin = app.admin().await;
    let (s, v) = app.get("/api/dialer/schedule", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["timezone"].as_str(),
            v["version"].as_i64(),
            v["enabled"].as_bool()
        ),
        (Some("UTC"), Some(1), Some(true))
    );
    let windows = v["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 7, "a fresh install calls every day");
    assert!(
        windows
            .iter()
            .all(|w| w["start"] == "09:00" && w["end"] == "20:00")
    );

    let tehran = json!({"timezone": "Asia/Tehran", "windows": [{"weekday": 0, "start": "09:00", "end": "20:00"}, {"weekday": 5, "start": "10:00", "end": "14:30"}], "holidays": ["2026-03-21"], "enabled": true});
    let put = |body: serde_json::Value| {
        let (app, admin) = (&app, &admin);
        async move {
            app.call(Method::PUT, "/api/dialer/schedule", Some(admin), Some(body))
                .await
        }
    };
    let (s, v) = put(tehran.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["timezone"].as_str(), v["version"].as_i64()),
        (Some("Asia/Tehran"), Some(2))
    );
    assert_eq!(
        v["windows"][1],
        json!({"weekday": 5, "start": "10:00", "end": "14:30"})
    );
    assert_eq!(v["holidays"], json!(["2026-03-21"]));
    let (_, v) =
        put(json!({"timezone": "Asia/Tehran", "windows": [], "holidays": [], "enabled": false}))
            .await;
    assert_eq!(
        (v["version"].as_i64(), v["enabled"].as_bool()),
        (Some(3), Some(false)),
        "every change bumps the version"
    );

    for bad in [
        json!({"timezone": "Mars/Base", "windows": [], "enabled": true}),
        json!({"timezone": "UTC", "windows": [{"weekday": 0, "start": "9am", "end": "20:00"}], "enabled": true}),
        json!({"timezone": "UTC", "windows": [{"weekday": 0, "start": "20:00", "end": "09:00"}], "enabled": true}),
        json!({"timezone": "UTC", "windows": [{"weekday": 7, "start": "09:00", "end": "10:00"}], "enabled": true}),
        json!({"timezone": "UTC", "windows": [], "holidays": ["2026-02-30"], "enabled": true}),
        json!({"timezone": "UTC", "windows": []}),
        json!({"timezone": "UTC", "windows": "all day", "enabled": true}),
    ] {
        let (s, v) = put(bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {v}");
        assert!(v["message"].is_string());
    }
    assert_eq!(
        app.get("/api/dialer/schedule", &admin).await.1["version"],
        3,
        "refused changes left it alone"
    );
    let (_, op) = app.user(&admin, "op", "operator", None).await;
    assert_eq!(
        app.get("/api/dialer/schedule", &op).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            Method::PUT,
            "/api/dialer/schedule",
            Some(&op),
            Some(tehran.clone())
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    // Each client has its own.
    let (_, c) = app
        .post("/api/clients", &admin, json!({"name": "Other"}))
        .await;
    let (_, other) = app
        .user(&admin, "otheradmin", "admin", c["client"]["id"].as_i64())
        .await;
    assert_eq!(
        app.get("/api/dialer/schedule", &other).await.1["version"],
        1
    );
}
