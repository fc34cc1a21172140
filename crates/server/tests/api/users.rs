use axum::http::StatusCode;
use serde_json::json;

use crate::both;
use crate::harness::TestApp;

both!(
    admins_manage_users_of_their_client,
    roles_are_enforced,
    roster_matches_seed_002,
    tenants_are_isolated,
    users_are_searched_and_paged
);

/// `GET /api/users`: everyone without `page` or `limit` (no `pagination`), one page with them;
/// `search` on username, email and name (any case, `%` and `_` taken literally), `role`,
/// `is_active`; another client's users never; bad values refused.
async fn users_are_searched_and_paged(app: TestApp) {
    let admin = app.admin().await;
    let mut ids = Vec::new();
    for (name, first) in [
        ("ann_x", "Ann"),
        ("bob", "Bob"),
        ("cy", "Cyrus"),
        ("dee", "Ann-Marie"),
    ] {
        let (s, v) = app
            .post(
                "/api/users",
                &admin,
                json!({"username": name, "email": format!("{name}@calls.example"), "password": "password-123", "role": "operator", "first_name": first}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["user"]["id"].as_i64().unwrap());
    }
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, v) = app.get("/api/users", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(names(&v), ["admin", "ann_x", "bob", "cy", "dee"]);
    assert!(v.get("pagination").is_none(), "{v}");
    let (_, v) = app.get("/api/users?limit=2&page=2", &admin).await;
    assert_eq!(names(&v), ["bob", "cy"]);
    assert_eq!(v["count"], 2);
    assert_eq!(
        v["pagination"],
        json!({"page": 2, "limit": 2, "total": 5, "pages": 3})
    );
    let (_, v) = app.get("/api/users?search=ANN", &admin).await;
    assert_eq!(names(&v), ["ann_x", "dee"], "username or name: {v}");
    let (_, v) = app
        .get(
            "/api/users?search=calls.example&role=operator&page=1",
            &admin,
        )
        .await;
    assert_eq!(v["pagination"]["total"], 4, "{v}");
    let (_, v) = app.get("/api/users?search=n_", &admin).await;
    assert_eq!(
        names(&v),
        ["ann_x"],
        "_ is a character, not a wildcard: {v}"
    );
    let (_, v) = app.get("/api/users?search=%25", &admin).await;
    assert_eq!(names(&v), Vec::<String>::new(), "{v}");
    let (s, _) = app.delete(&format!("/api/users/{}", ids[1]), &admin).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = app.get("/api/users?is_active=false", &admin).await;
    assert_eq!(names(&v), ["bob"]);
    let (_, v) = app
        .get("/api/users?is_active=true&role=operator", &admin)
        .await;
    assert_eq!(names(&v), ["ann_x", "cy", "dee"]);
    // Another client's people are not found.
    let other = app
        .in_another_client(&admin, "Elsewhere", "ann_elsewhere", "admin")
        .await;
    let (_, v) = app.get("/api/users?search=ann", &admin).await;
    assert_eq!(names(&v), ["ann_x", "dee"]);
    let (_, v) = app.get("/api/users?search=ann", &other).await;
    assert_eq!(names(&v), ["ann_elsewhere"]);
    for bad in [
        "/api/users?page=0x",
        "/api/users?limit=-1",
        "/api/users?is_active=maybe",
        "/api/users?role=boss",
    ] {
        let (s, v) = app.get(bad, &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(v["error"].is_string() || v["message"].is_string(), "{v}");
    }
    let long = "a".repeat(201);
    let (s, _) = app.get(&format!("/api/users?search={long}"), &admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn admins_manage_users_of_their_client(app: TestApp) {
    let root = app.admin().await;
    let (admin_id, admin) = app.user(&root, "manager", "admin", None).await;
    let (s, v) = app.post("/api/users", &admin, json!({"username": "agent7", "email": "a7@example.com", "password": "password-123", "role": "operator", "first_name": "Ali", "last_name": "Ahmadi", "phone_number": "+14155550177"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["user"]["id"].as_i64().unwrap();
    assert_eq!(v["user"]["phone_number"], "+14155550177");
    assert!(!v.to_string().contains("password"), "{v}");
    // Duplicate username or email: 409, nothing written.
    let (s, _) = app
        .post(
            "/api/users",
            &admin,
            json!({"username": "AGENT7", "password": "password-123"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app
        .post(
            "/api/users",
            &admin,
            json!({"username": "other", "email": "A7@example.com", "password": "password-123"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Bad input.
    for bad in [
        json!({"username": "x y", "password": "password-123"}),
        json!({"username": "okname", "password": "short"}),
        json!({"username": "okname", "password": "password-123", "role": "king"}),
        json!({"username": "okname", "password": "password-123", "email": "not-an-email"}),
        json!({"username": 12, "password": "password-123"}),
        json!({"password": "password-123"}),
    ] {
        let (s, v) = app.post("/api/users", &admin, bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {v}");
    }
    let (_, list) = app.get("/api/users", &admin).await;
    assert_eq!(list["count"], 3, "{list}"); // root admin, manager, agent7
    // Update, then sign in with the new password.
    let (s, v) = app
        .patch(
            &format!("/api/users/{id}"),
            &admin,
            json!({"first_name": "Alí", "password": "new-password-9", "is_available": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["user"]["first_name"], "Alí");
    app.login("agent7", "new-password-9").await;
    // An admin cannot touch a super admin, nor make one.
    let (s, _) = app
        .patch("/api/users/1", &admin, json!({"first_name": "x"}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .patch(
            &format!("/api/users/{id}"),
            &admin,
            json!({"role": "super_admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.delete(&format!("/api/users/{admin_id}"), &admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "no removing yourself");
    let (s, _) = app.get("/api/users/99999", &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn roles_are_enforced(app: TestApp) {
    let root = app.admin().await;
    let (_, op) = app.user(&root, "operator1", "operator", None).await;
    assert_eq!(app.get("/api/users", &op).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/admins", &op).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.post("/api/leads", &op, json!({"phone": "+14155550123"}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(
            "/api/admin/leads/bulk-action",
            &op,
            json!({"action": "delete", "leadIds": [1]})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/api/numbers/export", &op, json!({"select_all": true}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (_, admin) = app.user(&root, "admin2", "admin", None).await;
    assert_eq!(
        app.get("/api/clients", &admin).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/api/clients", &admin, json!({"name": "Other"}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = app
        .post(
            "/api/users",
            &admin,
            json!({"username": "boss", "password": "password-123", "role": "super_admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Operators still read leads.
    assert_eq!(app.get("/api/leads", &op).await.0, StatusCode::OK);
}

async fn roster_matches_seed_002(app: TestApp) {
    let root = app.admin().await;
    app.post("/api/users", &root, json!({"username": "ali", "password": "password-123", "first_name": "Ali", "last_name": "Ahmadi", "phone_number": "+14155550100"})).await;
    let (s, v) = app.get("/api/admins", &root).await;
    assert_eq!(s, StatusCode::OK);
    let list = v.as_array().expect("an array");
    assert_eq!(list.len(), 2);
    let mut keys: Vec<&str> = list[1]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "first_name",
            "id",
            "is_active",
            "last_name",
            "phone_number",
            "role",
            "username"
        ]
    );
    assert_eq!(list[1]["first_name"], "Ali");
}

async fn tenants_are_isolated(app: TestApp) {
    let root = app.admin().await;
    let (s, v) = app
        .post(
            "/api/clients",
            &root,
            json!({"name": "Acme", "max_concurrent_calls": 5, "timezone": "Asia/Tehran"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let acme = v["client"]["id"].as_i64().unwrap();
    assert_eq!(
        app.post("/api/clients", &root, json!({"name": "Acme"}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.post(
            "/api/clients",
            &root,
            json!({"name": "Bad", "timezone": "Nowhere/City"})
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let (_, acme_admin) = app.user(&root, "acmeadmin", "admin", Some(acme)).await;
    // A client made with a zone of its own calls in it from the start.
    let (s, v) = app.get("/api/dialer/schedule", &acme_admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["timezone"].as_str(),
            v["version"].as_i64(),
            v["enabled"].as_bool()
        ),
        (Some("Asia/Tehran"), Some(1), Some(true)),
        "{v}"
    );
    assert_eq!(v["windows"].as_array().map(Vec::len), Some(7), "{v}");
    assert_eq!(
        (
            v["windows"][0]["start"].as_str(),
            v["windows"][0]["end"].as_str()
        ),
        (Some("09:00"), Some("20:00"))
    );
    let (_, v) = app.get("/api/dialer/schedule", &root).await;
    assert_eq!(
        v["timezone"], "UTC",
        "the server's zone for the first client: {v}"
    );
    let ours = app.lead(&root, "+14155550199").await;
    let theirs = app.lead(&acme_admin, "+14155550199").await; // same phone, other client: fine
    assert_ne!(ours, theirs);
    // Another client's lead is simply not there.
    assert_eq!(
        app.get(&format!("/api/leads/{ours}"), &acme_admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.patch(
            &format!("/api/leads/{ours}"),
            &acme_admin,
            json!({"name": "x"})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/api/leads/{ours}"), &acme_admin)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, v) = app
        .post(
            "/api/admin/leads/bulk-action",
            &acme_admin,
            json!({"action": "delete", "leadIds": [ours]}),
        )
        .await;
    assert_eq!(v["summary"]["updated"], 0, "{v}");
    assert_eq!(
        app.get(&format!("/api/leads/{ours}"), &root).await.0,
        StatusCode::OK
    );
    let (_, list) = app.get("/api/leads", &acme_admin).await;
    assert_eq!(list["pagination"]["total"], 1);
    // Users of another client are invisible to an admin, and an admin cannot act on another client.
    assert_eq!(
        app.get("/api/users/1", &acme_admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            "/api/users",
            &acme_admin,
            json!({"username": "sneaky", "password": "password-123", "client_id": 1})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (_, roster) = app.get("/api/admins", &acme_admin).await;
    assert_eq!(roster.as_array().unwrap().len(), 1);
}
