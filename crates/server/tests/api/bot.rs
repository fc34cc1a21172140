//! Seed 004: the bot's call log.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::calls::both_calls;
use crate::harness::TestApp;

both_calls!(
    bot_logs_calls_in_its_own_words,
    dashboard_reads_filters_and_exports,
    bad_bot_input_changes_nothing,
    metadata_numbers_read_back_as_written
);

/// PostgreSQL keeps a `jsonb` number as an exact decimal and writes f64's largest as 309
/// digits; read back, that must be the same number (it was "number out of range", and every
/// listing holding the call answered 500).
async fn metadata_numbers_read_back_as_written(app: TestApp) {
    let admin = app.admin().await;
    let numbers = json!({
        "max": f64::MAX, "min": f64::MIN, "tiny": 5e-324, "third": 1.0 / 3.0,
        "big": 1.0657993688070916e159, "int": i64::MIN, "uint": u64::MAX
    });
    let mut call = start("NUM1", "+14155550990");
    call["metadata"] = numbers.clone();
    let (s, v) = bot(&app, Method::POST, "/api/calls", call).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app.get("/api/calls/NUM1", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for (k, n) in numbers.as_object().unwrap() {
        assert_eq!(&v["data"]["metadata"][k], n, "{k}: {v}");
    }
    let (s, v) = app.get("/api/calls?limit=5", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

const BOT: &str = "bot-key-for-tests-1";

async fn bot(app: &TestApp, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("x-api-key", BOT)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (s, _, bytes) = app.raw(req).await;
    (s, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn start(call_id: &str, receiver: &str) -> Value {
    json!({"callId": call_id, "type": "outbound", "caller": "+14150000000", "receiver": receiver, "startTime": "2026-11-20T10:00:00Z", "status": "in-progress", "language": "mixed"})
}

async fn bot_logs_calls_in_its_own_words(app: TestApp) {
    let admin = app.admin().await;
    let lead = app.lead(&admin, "+14155550500").await;
    let (s, v) = bot(
        &app,
        Method::POST,
        "/api/calls",
        start("TEST123", "+14155550500"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (
            v["success"].as_bool(),
            v["data"]["callId"].as_str(),
            v["data"]["status"].as_str()
        ),
        (Some(true), Some("TEST123"), Some("in-progress"))
    );
    assert_eq!(
        v["data"]["leadId"], lead,
        "the receiver's number finds the lead"
    );
    // The same callId again is an update, not a second call.
    let (s, _) = bot(
        &app,
        Method::POST,
        "/api/calls",
        start("TEST123", "+14155550500"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Transcript updates append.
    for line in ["User: Hello\n", "Bot: Hi there!\n"] {
        let (s, v) = bot(
            &app,
            Method::PATCH,
            "/api/calls/TEST123/transcript",
            json!({"transcript": line}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // The call shows live everywhere: in the bot's list and in seed 000's live calls.
    let (_, active) = app.get("/api/calls/active", &admin).await;
    assert_eq!(active["count"], 1);
    let (_, live) = app.get("/api/v1/smartflo/live-calls", &admin).await;
    assert_eq!(live.as_array().unwrap().len(), 1);
    // Completion in the bot's words, read back in the bot's words.
    let (s, v) = bot(&app, Method::PATCH, "/api/calls/TEST123", json!({"endTime": "2026-11-20T10:05:00Z", "status": "success", "duration": 300, "satisfaction": "high"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = &v["data"];
    assert_eq!(
        (
            d["status"].as_str(),
            d["duration"].as_i64(),
            d["transcript"].as_str()
        ),
        (
            Some("success"),
            Some(300),
            Some("User: Hello\nBot: Hi there!\n")
        )
    );
    assert_eq!(d["endTime"], "2026-11-20T10:05:00.000+00:00");
    // Other surfaces count the same call in their own words.
    let (_, l) = app.get(&format!("/api/leads/{lead}"), &admin).await;
    assert_eq!(
        (
            l["lead"]["attempts"].as_i64(),
            l["lead"]["disposition"].as_str()
        ),
        (Some(1), Some("CONNECTED"))
    );
    let (_, one) = app.get("/api/calls/TEST123", &admin).await;
    assert_eq!(one["data"]["status"], "success");
    assert!(
        one["data"]["events"].as_array().unwrap().len() >= 2,
        "{one}"
    );
    let id = one["data"]["id"].as_i64().unwrap();
    assert_eq!(
        app.get(&format!("/api/calls/{id}"), &admin).await.1["data"]["callId"],
        "TEST123",
        "by our id too"
    );
    // A word the bot used is kept as long as it fits: "ended" reads back as "ended".
    bot(
        &app,
        Method::POST,
        "/api/calls",
        json!({"callId": "T2", "status": "in-progress"}),
    )
    .await;
    let (_, v) = bot(
        &app,
        Method::PATCH,
        "/api/calls/T2",
        json!({"status": "ended"}),
    )
    .await;
    assert_eq!(v["data"]["status"], "ended");
    // Terminate: a call we did not place is ended in the log.
    bot(
        &app,
        Method::POST,
        "/api/calls",
        json!({"callId": "T3", "status": "in-progress"}),
    )
    .await;
    let (s, v) = app.post("/api/calls/T3/terminate", &admin, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["status"], "failed");
    let (_, op) = app.user(&admin, "viewer", "operator", None).await;
    assert_eq!(
        app.post("/api/calls/T2/terminate", &op, json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete("/api/calls/T2", &op).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.delete("/api/calls/T2", &admin).await.0, StatusCode::OK);
    assert_eq!(
        app.get("/api/calls/T2", &admin).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn dashboard_reads_filters_and_exports(app: TestApp) {
    let admin = app.admin().await;
    bot(&app, Method::POST, "/api/calls", json!({"callId": "A", "type": "inbound", "caller": "+14155550601", "receiver": "+14150000000", "startTime": "2026-11-20T09:00:00Z", "status": "success", "duration": 60, "language": "en"})).await;
    bot(&app, Method::POST, "/api/calls", json!({"callId": "B", "type": "outbound", "caller": "+14150000000", "receiver": "+14155550602", "startTime": "2026-11-20T11:00:00Z", "status": "failed", "language": "fa"})).await;
    bot(&app, Method::POST, "/api/calls", json!({"callId": "C", "type": "outbound", "caller": "+14150000000", "receiver": "+14155550603", "startTime": "2026-11-21T11:00:00Z", "status": "missed"})).await;
    let (s, v) = app.get("/api/calls?page=1&limit=2", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["pagination"],
        json!({"page": 1, "limit": 2, "total": 3, "pages": 2, "totalIsLowerBound": false})
    );
    assert_eq!(v["data"][0]["callId"], "C", "newest first");
    let count = |q: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            app.get(&format!("/api/calls?{q}"), admin).await.1["pagination"]["total"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(count("status=success").await, 1);
    assert_eq!(count("status=missed").await, 1);
    assert_eq!(count("type=outbound").await, 2);
    assert_eq!(count("date=2026-11-20").await, 2);
    assert_eq!(count("startDate=2026-11-21").await, 1);
    assert_eq!(count("search=4155550602").await, 1);
    // `period` filters the log as it does the stats (these calls are weeks old).
    assert_eq!(count("period=24h").await, 0);
    assert_eq!(count("period=all").await, 3);
    for path in ["/api/calls?period=2w", "/api/calls/export?period=2w"] {
        assert_eq!(
            app.get(path, &admin).await.0,
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
    assert_eq!(
        count("search=415555060").await,
        3,
        "a prefix of the number matches"
    );
    assert_eq!(
        app.get("/api/calls?search=41", &admin).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/api/calls?type=sideways", &admin).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/api/calls?status=weird", &admin).await.0,
        StatusCode::BAD_REQUEST
    );

    let (_, st) = app.get("/api/calls/stats", &admin).await;
    let d = &st["data"];
    assert_eq!(
        (
            d["totalCalls"].as_i64(),
            d["successfulCalls"].as_i64(),
            d["failedCalls"].as_i64(),
            d["missedCalls"].as_i64()
        ),
        (Some(3), Some(1), Some(1), Some(1))
    );
    assert_eq!(d["successRate"], 33.33);
    assert_eq!(d["averageDuration"], 60);
    let (s, an) = app.get("/api/calls/analytics", &admin).await;
    assert_eq!(s, StatusCode::OK, "{an}");
    let hours = an["data"]["hourlyDistribution"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    assert_eq!(
        (hours[9]["count"].as_i64(), hours[11]["count"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        an["data"]["dailyTrends"],
        json!([{"date": "2026-11-20", "total": 2, "successful": 1}, {"date": "2026-11-21", "total": 1, "successful": 0}])
    );
    assert!(
        an["data"]["languageDistribution"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["language"] == "fa")
    );
    assert_eq!(
        app.get("/api/calls/analytics?period=3y", &admin).await.0,
        StatusCode::BAD_REQUEST
    );

    let req = Request::get("/api/calls/export?format=csv&type=outbound")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let (s, h, bytes) = app.raw(req).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with("callId,type,caller,receiver")
    );
    let req = Request::get("/api/calls/export?format=xlsx")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let (s, _, bytes) = app.raw(req).await;
    assert_eq!((s, &bytes[..2]), (StatusCode::OK, &b"PK"[..]));
    assert_eq!(
        app.get("/api/calls/export?format=pdf", &admin).await.0,
        StatusCode::BAD_REQUEST
    );
    // Another client sees none of it.
    let other = app
        .in_another_client(&admin, "Elsewhere", "elsewhere", "admin")
        .await;
    assert_eq!(
        app.get("/api/calls", &other).await.1["pagination"]["total"],
        0
    );
    assert_eq!(
        app.get("/api/calls/A", &other).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn bad_bot_input_changes_nothing(app: TestApp) {
    let admin = app.admin().await;
    // Without the key, or with a wrong one: 401 in the seed's shape.
    let (s, v) = app
        .call(
            Method::POST,
            "/api/calls",
            None,
            Some(start("X1", "+14155550700")),
        )
        .await;
    assert_eq!(
        (s, v["success"].clone()),
        (StatusCode::UNAUTHORIZED, json!(false)),
        "{v}"
    );
    let req = Request::post("/api/calls")
        .header("x-api-key", "wrong")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(start("X1", "+1").to_string()))
        .unwrap();
    assert_eq!(app.raw(req).await.0, StatusCode::UNAUTHORIZED);
    // A wrong key beside an admin's valid token is refused too, not let through on the token
    // (an admin's token alone may write the log).
    let wrong_key_and_admin = |body: Value| {
        Request::post("/api/calls")
            .header("x-api-key", "wrong")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    assert_eq!(
        app.raw(wrong_key_and_admin(start("X1", "+14155550700")))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, v) = app.get("/api/calls/X1", &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing was logged: {v}");
    // An operator's session is not the bot.
    let (_, op) = app.user(&admin, "op", "operator", None).await;
    assert_eq!(
        app.post("/api/calls", &op, start("X1", "+14155550700"))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    for bad in [
        json!({"type": "outbound"}),
        json!({"callId": "X1", "type": "sideways"}),
        json!({"callId": "X1", "status": "exploded"}),
        json!({"callId": "X1", "startTime": "yesterday"}),
        json!({"callId": "X1", "duration": -1}),
        json!({"callId": 5}),
        json!({"callId": "X1", "metadata": [1]}),
        // PostgreSQL stores no NUL in text or jsonb: refused on both databases alike.
        json!({"callId": "X1", "metadata": {"note": "a\u{0}b"}}),
        json!({"callId": "X\u{0}1"}),
    ] {
        let (s, v) = bot(&app, Method::POST, "/api/calls", bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {v}");
        assert_eq!(v["success"], false);
    }
    let (s, _) = bot(
        &app,
        Method::PATCH,
        "/api/calls/nope",
        json!({"status": "success"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    bot(
        &app,
        Method::POST,
        "/api/calls",
        start("X2", "+14155550701"),
    )
    .await;
    for transcript in [json!(5), json!("hello\u{0}")] {
        assert_eq!(
            bot(
                &app,
                Method::PATCH,
                "/api/calls/X2/transcript",
                json!({"transcript": transcript})
            )
            .await
            .0,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        bot(
            &app,
            Method::PATCH,
            "/api/calls/X2",
            json!({"status": "success", "endTime": "soon"})
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let (_, v) = app.get("/api/calls/X2", &admin).await;
    assert_eq!(
        v["data"]["status"], "in-progress",
        "a refused update changed nothing"
    );
    assert_eq!(
        app.get("/api/calls", &admin).await.1["pagination"]["total"],
        1
    );
    assert_eq!(
        app.delete("/api/calls/X2", &admin).await.0,
        StatusCode::CONFLICT,
        "live calls are not deleted"
    );
}
