use axum::http::StatusCode;
use serde_json::json;
use switchboard_store::leads::{self, LeadPatch};

use crate::both;
use crate::harness::TestApp;

both!(
    lead_crud_and_validation,
    listing_filters_sorts_and_pages,
    final_dispositions_are_locked_for_people,
    bulk_actions_report_each_lead,
    lists_hold_leads,
    a_list_being_deleted_is_gone_for_every_route
);

async fn lead_crud_and_validation(app: TestApp) {
    let admin = app.admin().await;
    let (s, v) = app.post("/api/leads", &admin, json!({"phone": "(415) 555-0100", "name": "Ann Lee", "email": "Ann@Example.com", "priority": "high", "tags": ["Hot", "hot", "vip"], "timezone": "America/Los_Angeles"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let lead = &v["lead"];
    assert_eq!(lead["phone"], "+14155550100");
    assert_eq!(lead["email"], "ann@example.com");
    assert_eq!(lead["status"], "pending");
    assert_eq!(lead["disposition"], "IN_QUEUE");
    assert_eq!(lead["tags"], json!(["hot", "vip"]));
    let id = lead["id"].as_i64().unwrap();
    // One lead per phone per client, whatever way it is written.
    let (s, v) = app
        .post("/api/leads", &admin, json!({"phone": "+1 415 555 0100"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    for bad in [
        json!({"phone": "hello"}),
        json!({}),
        json!({"phone": 4155550100u64}),
        json!({"phone": "+14155550101", "priority": "asap"}),
        json!({"phone": "+14155550101", "timezone": "Mars/Olympus"}),
        json!({"phone": "+14155550101", "tags": "notalist"}),
        json!({"phone": "+14155550101", "list_id": 999}),
        json!({"phone": "+14155550101", "status": "answered"}),
        json!({"phone": "+14155550101", "name": "x".repeat(500)}),
    ] {
        let (s, v) = app.post("/api/leads", &admin, bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {v}");
    }
    let (_, list) = app.get("/api/leads", &admin).await;
    assert_eq!(list["pagination"]["total"], 1, "bad input wrote nothing");
    let (s, v) = app
        .patch(
            &format!("/api/leads/{id}"),
            &admin,
            json!({"name": null, "priority": "urgent", "disposition": "BUSY"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["lead"]["name"], serde_json::Value::Null);
    assert_eq!(v["lead"]["disposition"], "BUSY");
    assert_eq!(
        app.patch(&format!("/api/leads/{id}"), &admin, json!({}))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.delete(&format!("/api/leads/{id}"), &admin).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/leads/{id}"), &admin).await.0,
        StatusCode::NOT_FOUND
    );
    // A deleted lead frees its number.
    app.lead(&admin, "+14155550100").await;
    assert_eq!(
        app.get("/api/leads/424242", &admin).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn listing_filters_sorts_and_pages(app: TestApp) {
    let admin = app.admin().await;
    let (agent, _) = app.user(&admin, "agent", "operator", None).await;
    for i in 0..25 {
        let pr = ["urgent", "high", "medium", "low", "medium"][i % 5];
        let body = json!({"phone": format!("+1415555{:04}", 1000 + i), "name": format!("Lead {i:02}"), "email": format!("l{i}@corp.example"), "priority": pr, "tags": if i % 3 == 0 { json!(["vip"]) } else { json!([]) }, "assigned_user_id": if i < 4 { json!(agent) } else { json!(null) }});
        assert_eq!(
            app.post("/api/leads", &admin, body).await.0,
            StatusCode::CREATED
        );
    }
    let (s, v) = app.get("/api/leads?page=2&limit=10", &admin).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["pagination"],
        json!({"page": 2, "limit": 10, "total": 25, "pages": 3})
    );
    assert_eq!(v["leads"].as_array().unwrap().len(), 10);
    let (_, v) = app.get("/api/leads?limit=1000", &admin).await;
    assert_eq!(v["pagination"]["limit"], 100, "limit is capped at 100");
    let (_, v) = app.get("/api/leads", &admin).await;
    assert_eq!(v["pagination"]["limit"], 20, "default limit 20");
    let (_, v) = app.get("/api/leads?priority=urgent,high", &admin).await;
    assert_eq!(v["pagination"]["total"], 10);
    let (_, v) = app.get("/api/leads?tags=VIP", &admin).await;
    assert_eq!(v["pagination"]["total"], 9);
    let (_, v) = app.get("/api/leads?search=lead%2007", &admin).await;
    assert_eq!(v["pagination"]["total"], 1);
    let (_, v) = app.get("/api/leads?search=5551024", &admin).await;
    assert_eq!(v["pagination"]["total"], 1, "search by phone digits");
    let (_, v) = app.get("/api/leads?search=415555102", &admin).await;
    assert_eq!(
        v["pagination"]["total"], 5,
        "part of a number: 1020 to 1024"
    );
    // A whole number, however it is written, is that lead's phone (found from the phone
    // index), not text in other fields.
    let (s, _) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155559999", "name": "was 4155551024"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for typed in ["4155551024", "(415)%20555-1024", "%2B1%20415%20555%201024"] {
        let (_, v) = app.get(&format!("/api/leads?search={typed}"), &admin).await;
        assert_eq!(v["pagination"]["total"], 1, "{typed}: {v}");
        assert_eq!(v["leads"][0]["phone"], "+14155551024", "{typed}");
    }
    let (_, v) = app.get("/api/leads?search=was", &admin).await;
    assert_eq!(
        v["pagination"]["total"], 1,
        "text is still searched as text"
    );
    let (s, _) = app
        .delete(&format!("/api/leads/{}", v["leads"][0]["id"]), &admin)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = app.get("/api/leads?search=lead%25", &admin).await;
    assert_eq!(v["pagination"]["total"], 0, "LIKE wildcards are literal");
    let (_, v) = app
        .get(&format!("/api/leads?agent_id={agent}"), &admin)
        .await;
    assert_eq!(v["pagination"]["total"], 4);
    let (_, v) = app
        .get("/api/leads?status=pending&disposition=IN_QUEUE", &admin)
        .await;
    assert_eq!(v["pagination"]["total"], 25);
    let (_, v) = app
        .get("/api/leads?sort_by=name&sort_order=asc&limit=3", &admin)
        .await;
    let names: Vec<&str> = v["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Lead 00", "Lead 01", "Lead 02"]);
    let (_, v) = app
        .get("/api/leads?sortBy=priority&sortOrder=asc&limit=5", &admin)
        .await;
    assert!(
        v["leads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["priority"] == "urgent"),
        "{v}"
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (_, v) = app
        .get(
            &format!("/api/leads?start_date={today}&end_date={today}"),
            &admin,
        )
        .await;
    assert_eq!(v["pagination"]["total"], 25);
    let (_, v) = app.get("/api/leads?end_date=2000-01-01", &admin).await;
    assert_eq!(v["pagination"]["total"], 0);
    for bad in [
        "sort_by=password",
        "sort_order=sideways",
        "status=lost",
        "priority=asap",
        "start_date=yesterday",
        "page=-1",
        "limit=ten",
    ] {
        let (s, v) = app.get(&format!("/api/leads?{bad}"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {v}");
    }
}

/// Seed 002: people may change only the mutable dispositions, and a lead with an immutable one
/// cannot be edited or deleted by people; the dialer (a machine) still can.
async fn final_dispositions_are_locked_for_people(app: TestApp) {
    let admin = app.admin().await;
    let id = app.lead(&admin, "+14155550150").await;
    for d in [
        "CONNECTED",
        "FAILED",
        "NOT_INTERESTED",
        "HANGUP",
        "DISCONNECTED",
        "UNKNOWN",
    ] {
        let (s, _) = app
            .patch(
                &format!("/api/leads/{id}"),
                &admin,
                json!({"disposition": d}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "people may not set {d}");
    }
    for d in ["MISSED", "BUSY", "POWER_OFF", "BANNED", "IN_QUEUE"] {
        let (s, v) = app
            .patch(
                &format!("/api/leads/{id}"),
                &admin,
                json!({"disposition": d}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "people may set {d}: {v}");
        assert_eq!(v["lead"]["disposition"], d);
    }
    // A machine records a conversation.
    let mut tx = app.state.db.begin().await.unwrap();
    leads::update(
        &mut tx,
        app.state.default_client_id,
        id,
        &LeadPatch {
            disposition: Some(Some("CONNECTED".into())),
            status: Some("answered".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (s, v) = app
        .patch(
            &format!("/api/leads/{id}"),
            &admin,
            json!({"name": "changed"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["message"].as_str().unwrap().contains("CONNECTED"));
    assert_eq!(
        app.delete(&format!("/api/leads/{id}"), &admin).await.0,
        StatusCode::CONFLICT
    );
    let (_, v) = app.get(&format!("/api/leads/{id}"), &admin).await;
    assert_eq!(v["lead"]["disposition"], "CONNECTED");
    assert_eq!(v["lead"]["name"], serde_json::Value::Null);
}

async fn bulk_actions_report_each_lead(app: TestApp) {
    let admin = app.admin().await;
    let a = app.lead(&admin, "+14155550160").await;
    let b = app.lead(&admin, "+14155550161").await;
    let locked = app.lead(&admin, "+14155550162").await;
    let mut tx = app.state.db.begin().await.unwrap();
    leads::update(
        &mut tx,
        app.state.default_client_id,
        locked,
        &LeadPatch {
            disposition: Some(Some("NOT_INTERESTED".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let (s, v) = app.post("/api/admin/leads/bulk-action", &admin, json!({"action": "update_priority", "leadIds": [a, b.to_string(), locked, 9999], "data": {"priority": "high"}})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["summary"],
        json!({"requested": 4, "updated": 2, "refused": 2})
    );
    let refused = v["results"]["refused"].as_array().unwrap();
    assert!(
        refused
            .iter()
            .any(|r| r["leadId"] == locked
                && r["reason"].as_str().unwrap().contains("NOT_INTERESTED")),
        "{v}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r["leadId"] == 9999 && r["reason"] == "not found")
    );
    assert_eq!(
        app.get(&format!("/api/leads/{a}"), &admin).await.1["lead"]["priority"],
        "high"
    );

    let (_, v) = app
        .post(
            "/api/admin/leads/bulk-action",
            &admin,
            json!({"action": "add_tags", "leadIds": [a], "data": {"tags": ["Warm", "vip"]}}),
        )
        .await;
    assert_eq!(v["summary"]["updated"], 1);
    assert_eq!(
        app.get(&format!("/api/leads/{a}"), &admin).await.1["lead"]["tags"],
        json!(["vip", "warm"])
    );
    let (_, v) = app
        .post(
            "/api/admin/leads/bulk-action",
            &admin,
            json!({"action": "update_status", "leadIds": [a], "data": {"status": "BUSY"}}),
        )
        .await;
    assert_eq!(v["summary"]["updated"], 1);
    assert_eq!(
        app.get(&format!("/api/leads/{a}"), &admin).await.1["lead"]["disposition"],
        "BUSY"
    );
    let (s, _) = app
        .post(
            "/api/admin/leads/bulk-action",
            &admin,
            json!({"action": "update_status", "leadIds": [a], "data": {"status": "CONNECTED"}}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (_, v) = app
        .post(
            "/api/admin/leads/bulk-action",
            &admin,
            json!({"action": "delete", "leadIds": [a, locked]}),
        )
        .await;
    assert_eq!(v["summary"]["updated"], 1);
    assert_eq!(
        app.get(&format!("/api/leads/{a}"), &admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/leads/{locked}"), &admin).await.0,
        StatusCode::OK
    );

    for bad in [
        json!({"action": "explode", "leadIds": [b]}),
        json!({"action": "update_priority", "leadIds": [b]}),
        json!({"action": "update_priority", "leadIds": [b], "data": {"priority": "asap"}}),
        json!({"action": "delete", "leadIds": []}),
        json!({"action": "delete", "leadIds": "all"}),
        json!({"action": "delete", "leadIds": [{"id": 1}]}),
        json!({"leadIds": [b]}),
    ] {
        let (s, v) = app
            .post("/api/admin/leads/bulk-action", &admin, bad.clone())
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad} -> {v}");
    }
    assert_eq!(
        app.get(&format!("/api/leads/{b}"), &admin).await.1["lead"]["priority"],
        "high",
        "refused requests changed nothing"
    );
}

async fn lists_hold_leads(app: TestApp) {
    let admin = app.admin().await;
    let (s, v) = app
        .post(
            "/api/lists",
            &admin,
            json!({"name": "Spring", "description": "promo"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let list = v["list"]["id"].as_i64().unwrap();
    assert_eq!(
        app.post("/api/lists", &admin, json!({"name": "Spring"}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.post("/api/lists", &admin, json!({"name": ""})).await.0,
        StatusCode::BAD_REQUEST
    );
    // Renaming a list to another's name is the same conflict (and changes nothing).
    let (s, v) = app
        .post("/api/lists", &admin, json!({"name": "Autumn"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let autumn = v["list"]["id"].as_i64().unwrap();
    let (s, v) = app
        .patch(
            &format!("/api/lists/{autumn}"),
            &admin,
            json!({"name": "Spring"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (_, v) = app.get(&format!("/api/lists/{autumn}"), &admin).await;
    assert_eq!(v["list"]["name"], "Autumn");
    let (s, _) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550170", "listId": list}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, v) = app.get(&format!("/api/lists/{list}"), &admin).await;
    assert_eq!(v["list"]["lead_count"], 1);
    let (_, v) = app.get(&format!("/api/leads?listId={list}"), &admin).await;
    assert_eq!(v["pagination"]["total"], 1);
    let (s, v) = app
        .patch(
            &format!("/api/lists/{list}"),
            &admin,
            json!({"name": "Spring 2026"}),
        )
        .await;
    assert_eq!(
        (s, v["list"]["name"].as_str()),
        (StatusCode::OK, Some("Spring 2026"))
    );
    // Deleting: only an admin of its own client, only a list that exists; a refusal keeps it.
    let path = format!("/api/lists/{list}");
    let (_, operator) = app.user(&admin, "listop", "operator", None).await;
    let outsider = app
        .in_another_client(&admin, "Listless", "listoutsider", "admin")
        .await;
    for (who, want) in [
        (&operator, StatusCode::FORBIDDEN),
        (&outsider, StatusCode::NOT_FOUND),
    ] {
        assert_eq!(app.delete(&path, who).await.0, want);
    }
    assert_eq!(
        app.delete("/api/lists/999999", &admin).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete("/api/lists/spring", &admin).await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, v) = app.get(&path, &admin).await;
    assert_eq!(v["list"]["lead_count"], 1, "{v}");
    assert_eq!(app.delete(&path, &admin).await.0, StatusCode::OK);
    let (_, v) = app.get("/api/leads", &admin).await;
    assert_eq!(
        v["leads"][0]["list_id"],
        serde_json::Value::Null,
        "leads outlive their list"
    );
    assert_eq!(
        app.get(&format!("/api/lists/{list}"), &admin).await.0,
        StatusCode::NOT_FOUND
    );
}

/// A list marked for deletion (a server stopped between the steps of a deletion) is gone for
/// every route at once: no page, no listing, no new leads, no second deletion; its name is
/// refused with a reason until the deletion is finished.
async fn a_list_being_deleted_is_gone_for_every_route(app: TestApp) {
    let admin = app.admin().await;
    let (_, v) = app
        .post("/api/lists", &admin, json!({"name": "Winter"}))
        .await;
    let list = v["list"]["id"].as_i64().unwrap();
    let (_, v) = app
        .post("/api/lists", &admin, json!({"name": "Kept"}))
        .await;
    let kept = v["list"]["id"].as_i64().unwrap();
    let lead = app.lead(&admin, "+14155550180").await;
    let (s, _) = app
        .patch(
            &format!("/api/leads/{lead}"),
            &admin,
            json!({"listId": list}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    switchboard_store::sql("UPDATE lists SET deleted_at = $1 WHERE id = $2")
        .arg(switchboard_store::now())
        .arg(list)
        .execute(&mut app.state.db.write().await.unwrap())
        .await
        .unwrap();

    let path = format!("/api/lists/{list}");
    assert_eq!(app.get(&path, &admin).await.0, StatusCode::NOT_FOUND);
    let (_, v) = app.get("/api/lists", &admin).await;
    assert_eq!(v["lists"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["lists"][0]["id"], kept);
    let (s, _) = app.patch(&path, &admin, json!({"name": "Spring"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path, &admin).await.0, StatusCode::NOT_FOUND);
    let (s, v) = app
        .post("/api/lists", &admin, json!({"name": "Winter"}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("being deleted"),
        "{v}"
    );
    let (s, v) = app
        .patch(
            &format!("/api/lists/{kept}"),
            &admin,
            json!({"name": "Winter"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = app
        .post(
            "/api/leads",
            &admin,
            json!({"phone": "+14155550181", "listId": list}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = crate::files::upload(
        &app,
        &admin,
        b"phone\n+14155550182\n",
        &[("listId", &list.to_string())],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) =
        crate::files::upload(&app, &admin, b"phone,list\n+14155550183,Winter\n", &[]).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (_, v) = app.get("/api/leads", &admin).await;
    assert_eq!(v["pagination"]["total"], 1, "nothing was added: {v}");
    let (s, v) = app.get(&format!("/api/leads?list_id={list}"), &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["pagination"]["total"], 0,
        "the list has no leads now: {v}"
    );
    assert_eq!(v["leads"].as_array().unwrap().len(), 0, "{v}");

    // What a restarted server does first.
    switchboard_store::lists::finish_deletions(&app.state.db, std::time::Duration::ZERO)
        .await
        .unwrap();
    let (_, v) = app.get(&format!("/api/leads/{lead}"), &admin).await;
    assert_eq!(v["lead"]["list_id"], serde_json::Value::Null, "{v}");
    let (s, v) = app
        .post("/api/lists", &admin, json!({"name": "Winter"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}
