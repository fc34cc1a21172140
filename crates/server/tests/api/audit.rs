//! The audit log read back: who changed what, when, for admins of the client only.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::both;
use crate::harness::TestApp;

both!(the_audit_log_tells_who_changed_what);

async fn the_audit_log_tells_who_changed_what(app: TestApp) {
    let admin = app.admin().await;
    let (op_id, op) = app.user(&admin, "agent3", "operator", None).await;
    let (s, v) = app
        .post("/api/lists", &admin, json!({"name": "Spring"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let list = v["list"]["id"].as_i64().unwrap();
    let lead = app.lead(&admin, "+14155550190").await;
    let path = format!("/api/leads/{lead}");
    let (s, v) = app
        .patch(
            &path,
            &admin,
            json!({"priority": "urgent", "assigned_user_id": op_id, "listId": list}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .patch(
            &path,
            &op,
            json!({"notes": "call after 5", "disposition": "BUSY"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // An API key acts as no person: the entry names the key.
    let (_, v) = app
        .post("/api/api-keys", &admin, json!({"name": "crm"}))
        .await;
    let (key, key_id) = (
        v["key"].as_str().unwrap().to_string(),
        v["apiKey"]["id"].clone(),
    );
    let req = Request::patch(&path)
        .header("x-api-key", &key)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"priority": "low"}).to_string()))
        .unwrap();
    assert_eq!(app.raw(req).await.0, StatusCode::OK);
    // A refused change leaves no entry.
    let (s, _) = app.patch(&path, &op, json!({"priority": "nope"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, v) = app
        .get(&format!("/api/audit?entity=lead&entity_id={lead}"), &admin)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["pagination"]["total"], 3, "{v}");
    let e = &v["entries"];
    // Newest first.
    assert_eq!(e[0]["user_id"], Value::Null);
    assert_eq!(e[0]["detail"]["api_key_id"], key_id);
    assert_eq!(
        e[0]["detail"]["priority"],
        json!({"from": "urgent", "to": "low"})
    );
    assert_eq!(e[1]["username"], "agent3");
    assert_eq!(e[1]["action"], "update");
    assert_eq!(
        e[1]["detail"]["disposition"],
        json!({"from": null, "to": "BUSY"})
    );
    let fields = e[1]["detail"]["fields"].as_array().unwrap();
    assert!(
        fields.contains(&json!("notes")) && fields.contains(&json!("disposition")),
        "{v}"
    );
    assert_eq!(e[2]["username"], "admin");
    assert_eq!(
        e[2]["detail"]["assigned_user_id"],
        json!({"from": null, "to": op_id})
    );
    assert_eq!(e[2]["detail"]["list_id"], json!({"from": null, "to": list}));
    assert_eq!(e[2]["detail"]["priority"]["to"], "urgent");
    assert!(
        e[2]["created_at"].as_str().unwrap().ends_with("+00:00"),
        "{v}"
    );

    // Filters.
    let total = |q: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let (s, v) = app.get(&format!("/api/audit?{q}"), admin).await;
            assert_eq!(s, StatusCode::OK, "{q}: {v}");
            v["pagination"]["total"].as_u64().unwrap()
        }
    };
    assert_eq!(total("entity=list&action=create").await, 1);
    assert_eq!(total("entity=user&action=create").await, 1, "agent3");
    assert_eq!(total("entity=api_key").await, 1);
    assert_eq!(total("start_date=2999-01-01").await, 0);
    assert!(total("end_date=2999-01-01").await >= 6);
    let (_, v) = app
        .get(&format!("/api/audit?user_id={op_id}"), &admin)
        .await;
    assert_eq!(v["pagination"]["total"], 1, "{v}");
    let (_, v) = app.get("/api/audit?limit=2&page=2", &admin).await;
    assert_eq!(v["entries"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["pagination"]["page"], 2);

    // A list's deletion is recorded when it is done.
    let (s, _) = app.delete(&format!("/api/lists/{list}"), &admin).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = app
        .get(&format!("/api/audit?entity=list&entity_id={list}"), &admin)
        .await;
    assert_eq!(v["entries"][0]["action"], "delete", "{v}");
    assert_eq!(v["pagination"]["total"], 2);

    // Bad filters: 400 in the native shape; the wrong role or client sees nothing.
    for q in [
        "entity=Lead!",
        "action=x%20y",
        "start_date=yesterday",
        "entity_id=abc",
        "user_id=1.5",
    ] {
        let (s, v) = app.get(&format!("/api/audit?{q}"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert!(v["message"].is_string(), "{v}");
    }
    assert_eq!(app.get("/api/audit", &op).await.0, StatusCode::FORBIDDEN);
    let other = app
        .in_another_client(&admin, "Other Co", "otheradmin", "admin")
        .await;
    let (s, v) = app.get("/api/audit", &other).await;
    assert_eq!(s, StatusCode::OK);
    // Its own: the super admin made the client and its admin, and nothing of the first client.
    let things: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity"].as_str().unwrap())
        .collect();
    assert_eq!(
        things,
        ["user", "client"],
        "another client's log is its own: {v}"
    );
    let (s, _) = app.get("/api/audit?client_id=1", &other).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "only a super admin names a client"
    );
    let (_, me) = app.get("/api/auth/me", &other).await;
    let other_client = me["user"]["client_id"].as_i64().unwrap();
    let (s, v) = app
        .get(&format!("/api/audit?client_id={other_client}"), &admin)
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a super admin reads another client's log: {v}"
    );
    assert_eq!(v["pagination"]["total"], 2);
    assert_eq!(
        app.get("/api/audit", "not-a-token").await.0,
        StatusCode::UNAUTHORIZED
    );
}
