use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::both;
use crate::harness::{TestApp, multipart};

both!(
    csv_upload_imports_good_rows_and_reports_bad_ones,
    csv_upload_refuses_what_is_not_csv,
    export_xlsx_and_csv_follow_the_selection,
    large_exports_hold_every_row_in_order,
    exports_take_turns
);

pub(crate) async fn upload(
    app: &TestApp,
    token: &str,
    content: &[u8],
    fields: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let (ct, body) = multipart("csvFile", "leads.csv", content, fields);
    app.send_bytes(
        Method::POST,
        "/api/leads/upload-csv",
        Some(token),
        &ct,
        body,
    )
    .await
}

async fn csv_upload_imports_good_rows_and_reports_bad_ones(app: TestApp) {
    let admin = app.admin().await;
    app.lead(&admin, "+14155550300").await; // already there: a duplicate
    // UTF-8 BOM, `;` delimiter, loose header names, quoted fields with the delimiter inside.
    let csv = "\u{feff}Mobile;Full Name;E-mail;Priority;Tags;List\n\
               (415) 555-0301;\"Lee; Ann\";ann@example.com;high;hot|vip;Spring\n\
               4155550302;Bob;;;;\n\
               not a phone;Carl;;;;\n\
               +14155550300;Dup;;;;\n\
               4155550303;Dee;bad-email;;;\n\
               4155550304;Eve;;someday;;\n\
               4155550301;Again;;;;\n\
               \n\
               4155550305;Fay;;low;;Spring\n";
    let (s, v) = upload(&app, &admin, csv.as_bytes(), &[]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["message"], "CSV upload completed");
    assert_eq!(
        v["summary"],
        json!({"totalProcessed": 8, "successCount": 3, "duplicateCount": 2, "errorCount": 3})
    );
    let lines: Vec<i64> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [4, 6, 7], "{v}");
    let (_, l) = app.get("/api/leads?search=ann", &admin).await;
    let ann = &l["leads"][0];
    assert_eq!(ann["name"], "Lee; Ann");
    assert_eq!(ann["phone"], "+14155550301");
    assert_eq!(ann["priority"], "high");
    assert_eq!(ann["tags"], json!(["hot", "vip"]));
    let (_, lists) = app.get("/api/lists", &admin).await;
    assert_eq!(lists["lists"][0]["name"], "Spring");
    assert_eq!(lists["lists"][0]["lead_count"], 2);
    // A listId form field puts rows without a list column into that list.
    let (_, v) = app
        .post("/api/lists", &admin, json!({"name": "Inbox"}))
        .await;
    let inbox = v["list"]["id"].as_i64().unwrap().to_string();
    let (s, v) = upload(
        &app,
        &admin,
        b"phone,name\n4155550310,Gus\n",
        &[("listId", &inbox)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app
        .get(&format!("/api/leads?list_id={inbox}"), &admin)
        .await;
    assert_eq!(v["pagination"]["total"], 1);
    // The listId field after the file: the same (the file waits on disk for the whole form).
    let (ct, mut body) = multipart("csvFile", "x.csv", b"phone\n4155550312\n", &[]);
    let end = format!("--{}--\r\n", ct.rsplit('=').next().unwrap());
    body.truncate(body.len() - end.len());
    body.extend_from_slice(
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"listId\"\r\n\r\n{inbox}\r\n{end}",
            b = ct.rsplit('=').next().unwrap()
        )
        .as_bytes(),
    );
    let (s, v) = app
        .send_bytes(
            Method::POST,
            "/api/leads/upload-csv",
            Some(&admin),
            &ct,
            body,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app
        .get(&format!("/api/leads?list_id={inbox}"), &admin)
        .await;
    assert_eq!(v["pagination"]["total"], 2, "{v}");
    let (s, _) = upload(&app, &admin, b"phone\n4155550311\n", &[("listId", "999")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn csv_upload_refuses_what_is_not_csv(app: TestApp) {
    let admin = app.admin().await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
    for (what, content) in [
        ("binary", &png[..]),
        ("no phone column", b"name,email\nAnn,a@b.c\n".as_slice()),
        ("empty", b"".as_slice()),
    ] {
        let (s, v) = upload(&app, &admin, content, &[]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {v}");
        assert!(
            v["message"].is_string() && v["error"] == "Bad Request",
            "{v}"
        );
    }
    let (_, v) = app.get("/api/leads", &admin).await;
    assert_eq!(v["pagination"]["total"], 0, "nothing imported");
    // No file field at all.
    let (ct, body) = multipart("other", "x.csv", b"phone\n4155550100\n", &[]);
    let (s, _) = app
        .send_bytes(
            Method::POST,
            "/api/leads/upload-csv",
            Some(&admin),
            &ct,
            body,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Not multipart: a 400 in seed 001's error shape.
    for ct in ["application/json", "multipart/form-data"] {
        let (s, v) = app
            .send_bytes(
                Method::POST,
                "/api/leads/upload-csv",
                Some(&admin),
                ct,
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{ct}");
        assert_eq!(v["error"], "Bad Request", "{ct}: {v}");
        assert!(v["message"].as_str().unwrap().contains("multipart"), "{v}");
    }
    // Over the size limit (10 MB by default): refused, nothing imported. Far over it the body
    // limit stops it; a little over it, the file's own size.
    for over in [200 * 1024, 1024] {
        let mut big = b"phone,name\n".to_vec();
        let mut i = 0u64;
        while big.len() < 10 * 1024 * 1024 + over - 100 {
            big.extend_from_slice(
                format!("+1415{:07},{}\n", 2_000_000 + i, "x".repeat(80)).as_bytes(),
            );
            i += 1;
        }
        big.truncate(big.iter().rposition(|&b| b == b'\n').unwrap() + 1);
        while big.len() <= 10 * 1024 * 1024 {
            big.extend_from_slice(b"+14150000000,y\n");
        }
        let (s, v) = upload(&app, &admin, &big, &[]).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{} bytes: {v}", big.len());
        let (_, v) = app.get("/api/leads", &admin).await;
        assert_eq!(v["pagination"]["total"], 0);
    }
    // Without a token.
    let (ct, body) = multipart("csvFile", "x.csv", b"phone\n4155550100\n", &[]);
    assert_eq!(
        app.send_bytes(Method::POST, "/api/leads/upload-csv", None, &ct, body)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

/// Set a lead's status and disposition behind the API's back (reaching them through the API
/// takes calls).
async fn set_state(app: &TestApp, lead: i64, status: &str, disposition: Option<&str>) {
    switchboard_store::sql("UPDATE leads SET status = $1, disposition = $2 WHERE id = $3")
        .arg(status)
        .arg(disposition.map(String::from))
        .arg(lead)
        .execute(&mut app.state.db.write().await.unwrap())
        .await
        .unwrap();
}

#[path = "../support/xlsx_sheets.rs"]
mod xlsx;
use xlsx::xlsx_sheets;

/// More leads than the export once read per query (5,000), in CSV and in XLSX: every one, once,
/// in the order asked, another client's none.
async fn large_exports_hold_every_row_in_order(app: TestApp) {
    let admin = app.admin().await;
    let n = 12_345;
    let mut csv = String::from("phone,name\n");
    for i in 0..n {
        csv.push_str(&format!("+1415{:07},Lead {i}\n", 7_000_000 + i));
    }
    let (s, v) = upload(&app, &admin, csv.as_bytes(), &[]).await;
    assert_eq!(
        (s, &v["summary"]["successCount"]),
        (StatusCode::OK, &json!(n))
    );
    let rows = csv_rows(
        &app,
        &admin,
        json!({"select_all": true, "sort_by": "phone", "sort_order": "desc", "format": "csv"}),
    )
    .await;
    assert_eq!(rows.len(), n);
    for (k, r) in rows.iter().enumerate() {
        let phone = format!(",+1415{:07},", 7_000_000 + n - 1 - k);
        assert!(r.contains(&phone), "row {k}: {r}, wanted {phone}");
    }

    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/numbers/export")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(
            json!({"select_all": true, "excluded_ids": [], "sort_by": "phone", "sort_order": "asc"})
                .to_string(),
        ))
        .unwrap();
    let (s, h, bytes) = app.raw(req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h[header::CONTENT_LENGTH].to_str().unwrap(),
        bytes.len().to_string()
    );
    let sheets = xlsx_sheets(std::io::Cursor::new(bytes));
    assert_eq!(sheets.len(), 1);
    let sheet = &sheets[0];
    assert!(sheet.contains(">last_user_message<"));
    let mut at = 0;
    for i in 0..n {
        let phone = format!(">+1415{:07}<", 7_000_000 + i);
        let found = sheet[at..].find(&phone).map(|k| at + k);
        at = found.unwrap_or_else(|| panic!("{phone} missing or out of order"));
    }

    // Another client's admin exports none of them.
    let other = app
        .in_another_client(&admin, "Elsewhere", "elsewhere", "admin")
        .await;
    let rows = csv_rows(&app, &other, json!({"select_all": true, "format": "csv"})).await;
    assert_eq!(rows.len(), 0);
}

/// Two exports run at once; a third waits until one ends (here: its client goes away without
/// reading), and the rest of the API answers meanwhile.
async fn exports_take_turns(app: TestApp) {
    use tower::ServiceExt;
    let admin = app.admin().await;
    let mut csv = String::from("phone\n");
    for i in 0..5_000 {
        csv.push_str(&format!("+1415{:07}\n", 7_100_000 + i));
    }
    assert_eq!(
        upload(&app, &admin, csv.as_bytes(), &[]).await.0,
        StatusCode::OK
    );
    let export = || {
        Request::builder()
            .method(Method::POST)
            .uri("/api/numbers/export")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(
                json!({"select_all": true, "format": "csv"}).to_string(),
            ))
            .unwrap()
    };
    let turns = app.state.exports.clone();
    let at_once = switchboard_server::routes::export::AT_ONCE;
    // Two downloads that read nothing: their queries end all the same (the rows go to a file),
    // and give their turns back.
    let mut held = Vec::new();
    for _ in 0..at_once {
        let res = app.router().oneshot(export()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        held.push(res);
    }
    let start = std::time::Instant::now();
    while turns.available_permits() < at_once {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "unread downloads kept their turns"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (s, _, bytes) = tokio::time::timeout(std::time::Duration::from_secs(20), app.raw(export()))
        .await
        .expect("a third export while two are unread");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 5_001);
    // Each unread download keeps its place among those served at once (its temporary file).
    let places = switchboard_server::routes::export::DOWNLOADS_AT_ONCE;
    assert_eq!(app.state.downloads.available_permits(), places - at_once);

    // While two queries run, a third export waits; the rest of the API answers.
    let running = turns
        .clone()
        .acquire_many_owned(at_once as u32)
        .await
        .unwrap();
    let third =
        tokio::time::timeout(std::time::Duration::from_millis(700), app.raw(export())).await;
    assert!(third.is_err(), "a third export waits its turn");
    let (s, v) = app.get("/api/leads?limit=1", &admin).await;
    assert_eq!(
        (s, &v["pagination"]["total"]),
        (StatusCode::OK, &json!(5_000))
    );
    let waiting = tokio::spawn(app.router().oneshot(export()));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(running);
    let res = tokio::time::timeout(std::time::Duration::from_secs(20), waiting)
        .await
        .expect("its turn came")
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 5_001);
    // Downloads in their places to the last: an export waits for one.
    let served = app
        .state
        .downloads
        .clone()
        .acquire_many_owned((places - at_once) as u32)
        .await
        .unwrap();
    let waits =
        tokio::time::timeout(std::time::Duration::from_millis(700), app.raw(export())).await;
    assert!(waits.is_err(), "an export waits for a download's place");
    drop(served);
    // The unread ones are still whole when read at last, and give their places back.
    for res in held {
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(bytes.to_vec()).unwrap().lines().count(),
            5_001
        );
    }
    assert_eq!(app.state.downloads.available_permits(), places);
}

/// The data rows of a CSV export of `body`'s selection.
async fn csv_rows(app: &TestApp, token: &str, body: serde_json::Value) -> Vec<String> {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/numbers/export")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let (s, _, bytes) = app.raw(req).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

async fn export_xlsx_and_csv_follow_the_selection(app: TestApp) {
    let admin = app.admin().await;
    let (agent, _) = app.user(&admin, "agentx", "operator", None).await;
    let a = app.lead(&admin, "+14155550400").await;
    let b = app.lead(&admin, "+14155550401").await;
    let c = app.lead(&admin, "+14155550402").await;
    app.patch(
        &format!("/api/leads/{a}"),
        &admin,
        json!({"assigned_user_id": agent, "notes": "call after 5", "disposition": "BUSY"}),
    )
    .await;

    let req = |body: serde_json::Value| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/numbers/export")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    let (s, h, bytes) = app.raw(req(json!({"ids": [a, b]}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h[header::CONTENT_TYPE],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        h[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    assert_eq!(&bytes[..2], b"PK", "an XLSX file is a zip archive");

    let (s, h, bytes) = app.raw(req(json!({"select_all": true, "excluded_ids": [c], "sort_by": "phone", "sort_order": "asc", "format": "csv"}))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = String::from_utf8(bytes).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(
        rows[0].starts_with("id,phone,name,email,status,lead_status,priority,attempts,created_at")
    );
    // `status` in seed 002's words (the disposition, or IN_QUEUE), the lead's own next to it.
    assert!(
        rows[1].contains(",BUSY,pending,") && rows[2].contains(",IN_QUEUE,pending,"),
        "{text}"
    );
    assert!(
        rows[1].contains("+14155550400")
            && rows[1].contains("agentx")
            && rows[1].contains("call after 5")
            && rows[1].contains("BUSY"),
        "{}",
        rows[1]
    );
    assert!(rows[2].contains("+14155550401"));

    let (s, _, bytes) = app
        .raw(req(
            json!({"select_all": true, "status": "BUSY", "format": "csv"}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 2);

    // FAILED (seed 002) is the disposition; failed (lowercase) the lead status.
    set_state(&app, b, "failed", Some("BUSY")).await;
    set_state(&app, c, "answered", Some("FAILED")).await;
    let rows = csv_rows(
        &app,
        &admin,
        json!({"select_all": true, "status": "FAILED", "format": "csv"}),
    )
    .await;
    assert!(
        rows.len() == 1 && rows[0].contains("+14155550402"),
        "{rows:?}"
    );
    let rows = csv_rows(
        &app,
        &admin,
        json!({"select_all": true, "status": "failed", "format": "csv"}),
    )
    .await;
    assert!(
        rows.len() == 1 && rows[0].contains("+14155550401"),
        "{rows:?}"
    );
    // Only the leads a call back holds (as `GET /api/leads?callback=true`), or only the others.
    let at = chrono::Utc::now() + chrono::Duration::hours(3);
    let (s, v) = app
        .patch(
            &format!("/api/leads/{a}"),
            &admin,
            json!({"callback_at": at.to_rfc3339()}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rows = csv_rows(
        &app,
        &admin,
        json!({"select_all": true, "callback": true, "format": "csv"}),
    )
    .await;
    assert!(
        rows.len() == 1 && rows[0].contains("+14155550400"),
        "{rows:?}"
    );
    let rows = csv_rows(
        &app,
        &admin,
        json!({"select_all": true, "callback": false, "format": "csv"}),
    )
    .await;
    assert!(
        rows.len() == 2 && rows.iter().all(|r| !r.contains("+14155550400")),
        "{rows:?}"
    );
    // Ids as numbers or numeric strings, as everywhere.
    let rows = csv_rows(
        &app,
        &admin,
        json!({"select_all": true, "agent_id": agent.to_string(), "format": "csv"}),
    )
    .await;
    assert!(
        rows.len() == 1 && rows[0].contains("+14155550400"),
        "{rows:?}"
    );

    for bad in [
        json!({}),
        json!({"ids": []}),
        json!({"ids": "all"}),
        json!({"select_all": true, "format": "pdf"}),
        json!({"select_all": true, "sort_by": "secret"}),
        json!({"ids": [a], "excluded_ids": ["x"]}),
        json!({"select_all": true, "agent_id": "someone"}),
        json!({"select_all": true, "list_id": -1}),
        json!({"ids": vec![a; 10_001]}),
        json!({"select_all": true, "excluded_ids": vec![a; 10_001]}),
    ] {
        let (s, _, body) = app.raw(req(bad.clone())).await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{bad} -> {}",
            String::from_utf8_lossy(&body)
        );
    }
}
