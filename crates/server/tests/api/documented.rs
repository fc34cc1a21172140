//! The OpenAPI document's closed sets (enums) hold what the server accepts: every value the
//! document lists for a field is taken by its route, and a value outside the list is refused.
//! The document is read from the running app, as a client generator would read it.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both;
use crate::harness::TestApp;

both!(
    every_documented_value_is_accepted,
    bodies_are_objects,
    the_served_document_is_the_whole_one,
    documented_limits_are_the_servers
);

/// The lengths, patterns and ranges the document gives request fields are the ones the
/// handlers check: for values on both sides of each limit, the server takes exactly the values
/// the field's documented schema allows (2xx) and refuses the others (400).
async fn documented_limits_are_the_servers(app: TestApp) {
    let root = app.admin().await;
    let doc = serde_json::to_value(switchboard_server::docs::openapi()).unwrap();
    let long = |c: &str, n: usize| c.repeat(n);
    let rule = |delay: i64, attempts: i64| json!({"busy": {"delay_seconds": delay, "max_attempts": attempts}});
    // (route, body schema, field, the rest of a good body, values to try); POST unless the
    // route is the rules' (PUT).
    let cases: Vec<(&str, &str, &str, Value, Vec<Value>)> = vec![
        (
            "/api/dialer/rules",
            "RulesBody",
            "retry",
            json!({}),
            vec![
                rule(-1, 3),
                rule(0, 3),
                rule(2_592_000, 3),
                rule(2_592_001, 3),
                rule(300, 0),
                rule(300, 1),
                rule(300, 100),
                rule(300, 101),
                json!({"no-answer": {"delay_seconds": 60, "max_attempts": 2}}),
                json!({"voicemail": {"delay_seconds": 60, "max_attempts": 2}}),
                json!({"busy": {"delay_seconds": 60}}),
                json!(null),
            ],
        ),
        (
            "/api/dialer/rules",
            "RulesBody",
            "max_attempts_per_day",
            json!({}),
            vec![json!(0), json!(1), json!(1000), json!(1001), json!(null)],
        ),
        (
            "/api/dialer/rules",
            "RulesBody",
            "wrapup_seconds",
            json!({}),
            vec![
                json!(-1),
                json!(0),
                json!(3600),
                json!(3601),
                json!("30"),
                json!(null),
            ],
        ),
        (
            "/api/users",
            "CreateUser",
            "username",
            json!({"password": "password-123", "role": "operator"}),
            vec![
                json!("a"),
                json!("ab"),
                json!(long("u", 64)),
                json!(long("v", 65)),
                json!("Ab.c_d-9"),
                json!("a b"),
                json!("ab!"),
                json!("émile"),
            ],
        ),
        (
            "/api/users",
            "CreateUser",
            "password",
            json!({"role": "operator"}),
            vec![
                json!(long("p", 7)),
                json!(long("p", 8)),
                json!(long("p", 128)),
                json!(long("p", 129)),
                json!(long("é", 8)),
            ],
        ),
        (
            "/api/lists",
            "ListBody",
            "name",
            json!({}),
            vec![
                json!(""),
                json!("   "),
                json!("x"),
                json!(long("l", 100)),
                json!(long("m", 101)),
                json!(long("é", 100)),
            ],
        ),
        (
            "/api/clients",
            "CreateClient",
            "name",
            json!({}),
            vec![
                json!(""),
                json!("c"),
                json!(long("c", 100)),
                json!(long("d", 101)),
            ],
        ),
        (
            "/api/clients",
            "CreateClient",
            "max_concurrent_calls",
            json!({}),
            vec![json!(-1), json!(0), json!(100_000), json!(100_001)],
        ),
        (
            "/api/api-keys",
            "CreateKey",
            "name",
            json!({"kind": "api"}),
            vec![
                json!(""),
                json!("k"),
                json!(long("k", 100)),
                json!(long("j", 101)),
            ],
        ),
    ];
    let mut n = 0;
    for (route, schema, field, base, values) in cases {
        let property = &doc["components"]["schemas"][schema]["properties"][field];
        assert!(
            property.is_object(),
            "{schema}.{field} is not in the document"
        );
        // The field's schema with the document's components beside it, for its `$ref`s.
        let documented = jsonschema::validator_for(&json!({
            "allOf": [property],
            "components": doc["components"],
        }))
        .unwrap();
        for v in values {
            n += 1;
            let mut body = base.clone();
            body[field] = v.clone();
            // Fields the case does not try get values of their own, so no two bodies collide.
            if route == "/api/users" && field != "username" {
                body["username"] = json!(format!("limits{n}"));
            }
            if route == "/api/users" && field != "password" {
                body["password"] = json!("password-123");
            }
            if route == "/api/clients" && field != "name" {
                body["name"] = json!(format!("limits client {n}"));
            }
            let method = if route == "/api/dialer/rules" {
                Method::PUT
            } else {
                Method::POST
            };
            let (s, answer) = app.call(method, route, Some(&root), Some(body)).await;
            let allowed = documented.is_valid(&v);
            assert_eq!(
                s.is_success(),
                allowed,
                "{route} {field} = {v}: the document {} it, the server answered {s} {answer}",
                if allowed { "allows" } else { "forbids" }
            );
            if !allowed {
                assert_eq!(
                    s,
                    StatusCode::BAD_REQUEST,
                    "{route} {field} = {v}: {answer}"
                );
            }
        }
    }
}

/// What `/api-docs/openapi.json` serves is the document the tests read
/// (`switchboard_server::docs::openapi()`), with everything added after the routes' annotations.
/// It once lacked the ids' minimum of 1.
async fn the_served_document_is_the_whole_one(app: TestApp) {
    let (s, served) = app
        .call(Method::GET, "/api-docs/openapi.json", None, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let whole = serde_json::to_value(switchboard_server::docs::openapi()).unwrap();
    assert!(
        served == whole,
        "the served document differs from docs::openapi()"
    );
    assert_eq!(
        served["paths"]["/api/leads/{id}"]["get"]["parameters"][0]["schema"]["minimum"],
        1
    );
}

/// The values `components.schemas[schema].properties[field].enum` lists.
fn body_enum(doc: &Value, schema: &str, field: &str) -> Vec<Value> {
    let values = doc["components"]["schemas"][schema]["properties"][field]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{schema}.{field} has no enum in the document"))
        .clone();
    assert!(!values.is_empty(), "{schema}.{field}: empty enum");
    values
}

/// The values the query parameter `name` of `method path` lists.
fn param_enum(doc: &Value, method: &str, path: &str, name: &str) -> Vec<String> {
    let params = doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"));
    let p = params
        .iter()
        .find(|p| p["name"] == name && p["in"] == "query")
        .unwrap_or_else(|| panic!("{method} {path} has no query parameter {name}"));
    p["schema"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} ?{name} has no enum"))
        .iter()
        .map(|v| v.as_str().expect("string values").to_string())
        .collect()
}

async fn every_documented_value_is_accepted(app: TestApp) {
    let root = app.admin().await;
    let (s, doc) = app
        .call(Method::GET, "/api-docs/openapi.json", None, None)
        .await;
    assert_eq!(s, StatusCode::OK);

    // Users: every role.
    let roles = body_enum(&doc, "CreateUser", "role");
    assert_eq!(roles, body_enum(&doc, "UpdateUser", "role"));
    for (k, role) in roles.iter().enumerate() {
        let (s, v) = app
            .post(
                "/api/users",
                &root,
                json!({"username": format!("documented{k}"), "password": "password-123", "role": role}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "role {role}: {v}");
        assert_eq!(v["user"]["role"], *role);
    }
    let (s, _) = app
        .post(
            "/api/users",
            &root,
            json!({"username": "undocumented", "password": "password-123", "role": "owner"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for role in param_enum(&doc, "get", "/api/users", "role") {
        let (s, v) = app.get(&format!("/api/users?role={role}"), &root).await;
        assert_eq!(s, StatusCode::OK, "?role={role}: {v}");
    }

    // Leads: every priority on create; every status and settable disposition on update.
    let mut phone = 14_155_550_100u64;
    let mut next_phone = || {
        phone += 1;
        format!("+{phone}")
    };
    for priority in body_enum(&doc, "LeadBody", "priority") {
        let (s, v) = app
            .post(
                "/api/leads",
                &root,
                json!({"phone": next_phone(), "priority": priority}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "priority {priority}: {v}");
        assert_eq!(v["lead"]["priority"], priority);
    }
    let lead = app.lead(&root, &next_phone()).await;
    for status in body_enum(&doc, "LeadBody", "status") {
        let (s, v) = app
            .call(
                Method::PUT,
                &format!("/api/leads/{lead}"),
                Some(&root),
                Some(json!({"status": status})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "status {status}: {v}");
        assert_eq!(v["lead"]["status"], status);
    }
    let dispositions = body_enum(&doc, "LeadBody", "disposition");
    assert!(dispositions.contains(&Value::Null), "{dispositions:?}");
    for d in &dispositions {
        let (s, v) = app
            .call(
                Method::PUT,
                &format!("/api/leads/{lead}"),
                Some(&root),
                Some(json!({"disposition": d})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "disposition {d}: {v}");
    }
    // A disposition the document leaves out is the dialer's: people get a 403.
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("/api/leads/{lead}"),
            Some(&root),
            Some(json!({"disposition": "CONNECTED"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for sort in param_enum(&doc, "get", "/api/leads", "sort_by") {
        for order in param_enum(&doc, "get", "/api/leads", "sort_order") {
            let (s, v) = app
                .get(
                    &format!("/api/leads?sort_by={sort}&sort_order={order}"),
                    &root,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "sort {sort} {order}: {v}");
        }
    }
    let (s, _) = app.get("/api/leads?sort_by=password", &root).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Bulk actions: each documented action, with the data it needs.
    for action in body_enum(&doc, "BulkBody", "action") {
        let data = match action.as_str().unwrap() {
            "update_priority" => json!({"priority": "high"}),
            "update_status" => json!({"status": "pending"}),
            "add_tags" => json!({"tags": ["vip"]}),
            _ => json!({}),
        };
        let (s, v) = app
            .post(
                "/api/admin/leads/bulk-action",
                &root,
                json!({"action": action, "leadIds": [lead], "data": data}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "bulk {action}: {v}");
    }

    // API keys: every kind.
    for (k, kind) in body_enum(&doc, "CreateKey", "kind").iter().enumerate() {
        let (s, v) = app
            .post(
                "/api/api-keys",
                &root,
                json!({"name": format!("key {k}"), "kind": kind}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "kind {kind}: {v}");
    }

    // The queue's control actions.
    for action in param_free_actions(&doc, "ControlBody") {
        let (s, v) = app
            .post(
                "/api/admin/system/control",
                &root,
                json!({"action": action}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "control {action}: {v}");
    }

    // The call log of seed 004: every status word, direction, period and export format.
    for status in param_enum(&doc, "get", "/api/calls", "status") {
        let (s, v) = app.get(&format!("/api/calls?status={status}"), &root).await;
        assert_eq!(s, StatusCode::OK, "status {status}: {v}");
    }
    for kind in param_enum(&doc, "get", "/api/calls", "type") {
        let (s, v) = app.get(&format!("/api/calls?type={kind}"), &root).await;
        assert_eq!(s, StatusCode::OK, "type {kind}: {v}");
    }
    for period in param_enum(&doc, "get", "/api/calls/stats", "period") {
        for path in ["/api/calls/stats", "/api/calls/analytics"] {
            let (s, v) = app.get(&format!("{path}?period={period}"), &root).await;
            assert_eq!(s, StatusCode::OK, "{path} period {period}: {v}");
        }
    }
    let (s, _) = app.get("/api/calls/stats?period=2w", &root).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    for format in param_enum(&doc, "get", "/api/calls/export", "format") {
        let (s, _, _) = app
            .raw(
                axum::http::Request::builder()
                    .uri(format!("/api/calls/export?format={format}"))
                    .header("authorization", format!("Bearer {root}"))
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "export {format}");
    }

    // The campaigns dashboard: every status filter and sort, and every bulk operation.
    let path = "/plivo/dashboard/campaigns";
    for status in param_enum(&doc, "get", path, "status") {
        let (s, v) = app.get(&format!("{path}?status={status}"), &root).await;
        assert_eq!(s, StatusCode::OK, "status {status}: {v}");
    }
    for sort in param_enum(&doc, "get", path, "sortBy") {
        for order in param_enum(&doc, "get", path, "sortOrder") {
            let (s, v) = app
                .get(&format!("{path}?sortBy={sort}&sortOrder={order}"), &root)
                .await;
            assert_eq!(s, StatusCode::OK, "sort {sort} {order}: {v}");
        }
    }
    for action in param_free_actions(&doc, "CampaignBulkBody") {
        let (s, v) = app
            .post(
                "/plivo/dashboard/bulk-operations",
                &root,
                json!({"action": action, "campaignIds": ["999999"]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "campaign bulk {action}: {v}");
        assert_eq!(v["summary"]["failed"], 1, "{v}");
    }
}

/// The `action` values of a body schema.
fn param_free_actions(doc: &Value, schema: &str) -> Vec<String> {
    body_enum(doc, schema, "action")
        .into_iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The document describes every JSON body as an object: an array is refused and changes
/// nothing (serde alone would read `[null]` as an object whose first field is null).
async fn bodies_are_objects(app: TestApp) {
    let root = app.admin().await;
    let (s, v) = app.post("/api/lists", &root, json!({"name": "Kept"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let list = v["list"]["id"].as_i64().unwrap();
    for body in ["[null]", " [\"Renamed\"]", "[]"] {
        let (s, v) = app
            .send_bytes(
                Method::PATCH,
                &format!("/api/lists/{list}"),
                Some(&root),
                "application/json",
                body.as_bytes().to_vec(),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains("JSON object"),
            "{v}"
        );
    }
    let (s, v) = app
        .send_bytes(
            Method::POST,
            "/api/leads",
            Some(&root),
            "application/json",
            b"[\"+14155550999\"]".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (_, v) = app.get(&format!("/api/lists/{list}"), &root).await;
    assert_eq!(v["list"]["name"], "Kept", "{v}");
    let (_, v) = app.get("/api/leads", &root).await;
    assert_eq!(v["pagination"]["total"], 0, "{v}");
}
