use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::both;
use crate::harness::{TestApp, multipart};

both!(schedules_validate_and_version, no_call_reaches_a_dnc_number);

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
    let other = app
        .in_another_client(&admin, "Other", "otheradmin", "admin")
        .await;
    assert_eq!(
        app.get("/api/dialer/schedule", &other).await.1["version"],
        1
    );
}

/// `POST /api/dialer/dnc/upload-csv` of `data` as the file `name`.
async fn upload_dnc(
    app: &TestApp,
    token: &str,
    name: &str,
    data: &[u8],
) -> (StatusCode, serde_json::Value) {
    upload_dnc_with(app, token, name, data, &[]).await
}

/// [`upload_dnc`] with more form fields.
async fn upload_dnc_with(
    app: &TestApp,
    token: &str,
    name: &str,
    data: &[u8],
    fields: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let (ct, body) = multipart("csvFile", name, data, fields);
    app.send_bytes(
        Method::POST,
        "/api/dialer/dnc/upload-csv",
        Some(token),
        &ct,
        body,
    )
    .await
}

async fn no_call_reaches_a_dnc_number(app: TestApp) {
    let admin = app.admin().await;
    let lead = app.lead(&admin, "+14155550800").await;
    let (s, v) = app
        .post(
            "/api/dialer/dnc",
            &admin,
            json!({"phone": "(415) 555-0800", "reason": "asked not to be called"}),
        )
        .await;
    assert_eq!(
        (s, v["phone"].as_str(), v["added"].as_bool()),
        (StatusCode::CREATED, Some("+14155550800"), Some(true)),
        "{v}"
    );
    let (s, v) = app
        .post("/api/dialer/dnc", &admin, json!({"phone": "+14155550800"}))
        .await;
    assert_eq!(
        (s, v["added"].as_bool()),
        (StatusCode::OK, Some(false)),
        "listing twice changes nothing"
    );
    // Neither click-to-call nor the operator panel reaches it; nothing is written.
    let (s, v) = app
        .post(&format!("/api/v1/leads/{lead}/call"), &admin, json!({}))
        .await;
    assert_eq!(
        (s, v["success"].as_bool()),
        (StatusCode::FORBIDDEN, Some(false)),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("do-not-call"));
    let (_, op) = app.user(&admin, "op", "operator", None).await;
    assert_eq!(
        app.post("/api/operator/calls/start", &op, json!({"leadId": lead}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (_, l) = app.get(&format!("/api/leads/{lead}"), &admin).await;
    assert_eq!(
        (l["lead"]["status"].as_str(), l["lead"]["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    assert_eq!(
        app.get("/api/calls", &admin).await.1["pagination"]["total"],
        0,
        "no call was created"
    );
    // Listing, search, roles, bad input.
    let (_, v) = app.get("/api/dialer/dnc?search=5550800", &admin).await;
    assert_eq!(v["pagination"]["total"], 1);
    let id = v["entries"][0]["id"].as_i64().unwrap();
    assert_eq!(v["entries"][0]["reason"], "asked not to be called");
    assert_eq!(
        app.get("/api/dialer/dnc", &op).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/api/dialer/dnc", &op, json!({"phone": "+14155550801"}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    for bad in [
        json!({"phone": "not a number"}),
        json!({}),
        json!({"phone": 4155550801u64}),
    ] {
        assert_eq!(
            app.post("/api/dialer/dnc", &admin, bad.clone()).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    // Removing it lets the call through.
    assert_eq!(
        app.delete("/api/dialer/dnc/99999", &admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/dialer/dnc/{id}"), &admin).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.post(&format!("/api/v1/leads/{lead}/call"), &admin, json!({}))
            .await
            .0,
        StatusCode::OK
    );
    // A global entry (super admins only) blocks every client.
    let other = app
        .in_another_client(&admin, "Other", "otheradmin", "admin")
        .await;
    assert_eq!(
        app.post(
            "/api/dialer/dnc",
            &other,
            json!({"phone": "+14155550900", "global": true})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(
            "/api/dialer/dnc",
            &admin,
            json!({"phone": "+14155550900", "global": true})
        )
        .await
        .0,
        StatusCode::CREATED
    );
    let theirs = app.lead(&other, "+14155550900").await;
    assert_eq!(
        app.post(&format!("/api/v1/leads/{theirs}/call"), &other, json!({}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/dialer/dnc", &other).await.1["entries"][0]["global"],
        true
    );
    // CSV import: good rows added, bad rows reported by line.
    let (s, v) = upload_dnc(
        &app,
        &admin,
        "dnc.csv",
        b"mobile;reason\n4155550901;complained\nnope;x\n4155550901;again\n12;too short\n",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["added"].as_u64(),
            v["duplicates"].as_u64(),
            v["errors"][0]["line"].as_u64(),
            v["errors"][1]["line"].as_u64()
        ),
        (Some(1), Some(1), Some(3), Some(5)),
        "{v}"
    );
    let (s, _) = upload_dnc(&app, &admin, "dnc.csv", b"name\nann\n").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // A larger file (written in several statements): numbers repeated across its chunks and
    // ones listed already count as duplicates; the upload is in the audit log.
    let total =
        || async { app.get("/api/dialer/dnc", &admin).await.1["pagination"]["total"].as_u64() };
    let before = total().await.unwrap();
    let mut file = String::from("\u{feff}phone,reason\n4155550901,listed already\n");
    for i in 0..1500 {
        file.push_str(&format!("+1415556{:04},bulk\n", i % 1200));
    }
    let (s, v) = upload_dnc(&app, &admin, "dnc.csv", file.as_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["added"].as_u64(),
            v["duplicates"].as_u64(),
            v["errorCount"].as_u64()
        ),
        (Some(1200), Some(301), Some(0)),
        "{v}"
    );
    assert_eq!(total().await, Some(before + 1200));
    let (_, v) = app.get("/api/dialer/dnc?search=4155561199", &admin).await;
    assert_eq!(v["entries"][0]["reason"], "bulk", "{v}");
    let (_, log) = app.get("/api/audit?entity=dnc", &admin).await;
    let upload = log["entries"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["action"] == "upload"))
        .cloned()
        .unwrap_or_else(|| panic!("no upload in the audit log: {log}"));
    assert_eq!(upload["detail"]["added"], 1200, "{upload}");
    // A file that is not text, or whose rows all fail, adds nothing; operators may not upload.
    let (s, v) = upload_dnc(
        &app,
        &admin,
        "dnc.xlsx",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5\xff",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = upload_dnc(&app, &admin, "dnc.csv", b"phone\n12\nabc\n").await;
    assert_eq!(
        (s, v["added"].as_u64(), v["errorCount"].as_u64()),
        (StatusCode::OK, Some(0), Some(2)),
        "{v}"
    );
    let (s, _) = upload_dnc(&app, &op, "dnc.csv", b"phone\n4155557000\n").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(total().await, Some(before + 1200));

    // A file for every client (a national register): super admins only.
    let register = b"phone\n4155558800\n4155558801\n";
    let global = [("global", "true")];
    let (s, v) = upload_dnc_with(&app, &other, "register.csv", register, &global).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an admin: {v}");
    let (s, v) = upload_dnc_with(
        &app,
        &admin,
        "register.csv",
        register,
        &[("global", "maybe")],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // A form without its file, and a body that is not a form.
    let (ct, body) = multipart("notTheFile", "x.csv", register, &[]);
    let (s, v) = app
        .send_bytes(
            Method::POST,
            "/api/dialer/dnc/upload-csv",
            Some(&admin),
            &ct,
            body,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = app
        .send_bytes(
            Method::POST,
            "/api/dialer/dnc/upload-csv",
            Some(&admin),
            "application/json",
            b"{\"phone\": 1}".to_vec(),
        )
        .await;
    assert!(s.is_client_error(), "{s} {v}");
    assert_eq!(total().await, Some(before + 1200), "nothing added");
    let (s, v) = upload_dnc_with(&app, &admin, "register.csv", register, &global).await;
    assert_eq!((s, v["added"].as_u64()), (StatusCode::OK, Some(2)), "{v}");
    let (_, theirs) = app.get("/api/dialer/dnc?search=4155558801", &other).await;
    assert_eq!(
        (
            theirs["entries"][0]["phone"].as_str(),
            theirs["entries"][0]["global"].as_bool()
        ),
        (Some("+14155558801"), Some(true)),
        "another client sees it: {theirs}"
    );
}
