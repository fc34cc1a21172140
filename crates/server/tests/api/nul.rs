//! The NUL character: PostgreSQL stores none in text or `jsonb` (it answered a 500), so every
//! surface refuses it with a 400, on both databases alike, and writes nothing.

use axum::http::StatusCode;
use serde_json::json;

use crate::both;
use crate::harness::TestApp;

both!(the_nul_character_is_refused_and_changes_nothing);

async fn the_nul_character_is_refused_and_changes_nothing(app: TestApp) {
    let admin = app.admin().await;
    let refused = |s: StatusCode, v: &serde_json::Value, what: &str| {
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {v}");
        assert!(
            v["message"].as_str().is_some_and(|m| m.contains("NUL")),
            "{what}: {v}"
        );
    };

    // A JSON body: in a field, in a list, in a key.
    for body in [
        json!({"phone": "+14155550400", "name": "a\u{0}b"}),
        json!({"phone": "+14155550400", "tags": ["ok", "x\u{0}"]}),
        json!({"phone": "+14155550400\u{0}"}),
    ] {
        let (s, v) = app.post("/api/leads", &admin, body.clone()).await;
        refused(s, &v, &body.to_string());
    }
    let (_, v) = app.get("/api/leads", &admin).await;
    assert_eq!(v["pagination"]["total"], 0, "nothing was written: {v}");

    // A backslash followed by `u0000` is text like any other.
    let (s, v) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550401", "name": "back\\u0000slash"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["lead"]["name"], "back\\u0000slash");
    let id = v["lead"]["id"].as_i64().unwrap();

    // An update: refused, the lead as it was.
    let (s, v) = app
        .patch(
            &format!("/api/leads/{id}"),
            &admin,
            json!({"notes": "n\u{0}"}),
        )
        .await;
    refused(s, &v, "patch");
    let (_, v) = app.get(&format!("/api/leads/{id}"), &admin).await;
    assert_eq!(v["lead"]["notes"], serde_json::Value::Null, "{v}");

    // A query string and a path.
    let (s, v) = app.get("/api/leads?search=a%00b", &admin).await;
    refused(s, &v, "query");
    let (s, v) = app.get("/api/leads?search=a%2500b", &admin).await;
    assert_eq!(s, StatusCode::OK, "a literal %00 is searched for: {v}");
    let (s, v) = app.get("/api/dialer/explain/1%00", &admin).await;
    refused(s, &v, "path");

    // A CSV row past the first block read (where a NUL would make the whole file binary): that
    // row is reported, the others imported.
    let mut csv = String::from("phone,name\n");
    for i in 0..12_000 {
        let name = if i == 11_000 {
            "Nul\u{0}Row".to_string()
        } else {
            format!("Lead number {i:05}")
        };
        csv.push_str(&format!(
            "+1628{}{:04},{name}\n",
            200 + i / 10_000,
            i % 10_000
        ));
    }
    assert!(csv.len() > 300 * 1024);
    let (s, v) = crate::files::upload(&app, &admin, csv.as_bytes(), &[]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["summary"],
        json!({"totalProcessed": 12_000, "successCount": 11_999, "duplicateCount": 0, "errorCount": 1}),
        "{v}"
    );
    assert_eq!(v["errors"][0]["line"], 11_002, "{v}");
    let (_, v) = app.get("/api/leads?search=NulRow", &admin).await;
    assert_eq!(v["pagination"]["total"], 0, "{v}");
}
