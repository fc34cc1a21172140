//! Every documented operation, called by every kind of caller with the least it could send: no
//! credentials, an operator, an admin, an API key, a dialer token and a bot key; path ids of
//! records that exist and of records that do not; an empty JSON object as the body. Whatever
//! each answers must be a status (and a body) the document gives that operation: the harness
//! holds every answer to the document (`conformance`). None may be a 5xx.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::both;
use crate::conformance;
use crate::harness::TestApp;

both!(every_operation_answers_only_what_it_documents);

/// Who calls: a name for the report, and the credentials.
#[derive(Clone, Copy)]
enum Caller<'a> {
    Nobody,
    Bearer(&'static str, &'a str),
    Key(&'static str, &'a str),
}

impl Caller<'_> {
    fn name(&self) -> &'static str {
        match self {
            Caller::Nobody => "nobody",
            Caller::Bearer(n, _) | Caller::Key(n, _) => n,
        }
    }
}

async fn key(app: &TestApp, admin: &str, kind: &str) -> String {
    let (s, v) = app
        .post(
            "/api/api-keys",
            admin,
            json!({"name": format!("sweep {kind}"), "kind": kind}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["key"].as_str().unwrap().to_string()
}

async fn every_operation_answers_only_what_it_documents(app: TestApp) {
    let admin = app.admin().await;
    let (_, operator) = app.user(&admin, "sweeper", "operator", None).await;
    let api = key(&app, &admin, "api").await;
    let dialer = key(&app, &admin, "dialer").await;
    let bot = key(&app, &admin, "bot").await;
    // Records for the ids in paths to name: a lead (id 1), a list, a call.
    let lead = app.lead(&admin, "+14155550123").await;
    let (s, v) = app
        .post("/api/lists", &admin, json!({"name": "sweep"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .post(
            "/api/calls",
            &bot,
            json!({"callId": "sweep-1", "phoneNumber": "+14155550123", "status": "completed"}),
        )
        .await;
    assert!(s.is_success(), "{s} {v}");

    let doc = serde_json::to_value(switchboard_server::docs::openapi()).unwrap();
    let callers = [
        Caller::Nobody,
        Caller::Bearer("an operator", &operator),
        Caller::Bearer("an admin", &admin),
        Caller::Key("an API key", &api),
        Caller::Bearer("a dialer token", &dialer),
        Caller::Key("a bot key", &bot),
    ];
    let mut calls = 0;
    let mut problems = Vec::new();
    let mut operations: Vec<(&String, &String, &Value)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            let ops = item.as_object().unwrap().iter();
            ops.map(move |(method, op)| (path, method, op))
        })
        .collect();
    // Signing out ends the callers' sessions: last, so that it leaves every other operation
    // its signed-in callers.
    operations.sort_by_key(|(path, _, _)| path.as_str() == "/api/auth/logout");
    for (path, method, op) in operations {
        if op.get("responses").is_none() {
            continue;
        }
        // An id that names a record, then one that names none.
        for id in [lead.to_string(), "999999".to_string()] {
            let uri = path
                .split('/')
                .map(|s| if s.starts_with('{') { id.as_str() } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let json_body = op["requestBody"]["content"]
                .get("application/json")
                .is_some();
            // An event stream answers a signed-in caller with a stream that never ends (its
            // events are tested in `realtime`): only its refusals are swept.
            let streams = op["responses"]["200"]["content"]
                .get("text/event-stream")
                .is_some();
            for caller in callers {
                if streams && matches!(caller, Caller::Bearer(..)) {
                    continue;
                }
                let mut b = Request::builder()
                    .method(method.to_ascii_uppercase().as_str())
                    .uri(&uri);
                match caller {
                    Caller::Nobody => {}
                    Caller::Bearer(_, t) => {
                        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"))
                    }
                    Caller::Key(_, k) => b = b.header("x-api-key", k),
                }
                let req = if json_body {
                    b.header(header::CONTENT_TYPE, "application/json")
                        .body(Body::from("{}"))
                } else {
                    b.body(Body::empty())
                }
                .unwrap();
                let m = req.method().clone();
                let (status, headers, body) = app.unchecked(req).await;
                if status.is_server_error() {
                    problems.push(format!(
                        "{method} {uri} as {}: {status} {}",
                        caller.name(),
                        String::from_utf8_lossy(&body)
                    ));
                }
                if let Some(p) = conformance::problem(&m, &uri, status, &headers, &body) {
                    problems.push(format!("as {}: {p}", caller.name()));
                }
                calls += 1;
            }
            if !path.contains('{') {
                break;
            }
        }
    }
    assert!(
        calls > 500,
        "only {calls} calls: the document lost its paths?"
    );
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} answers the document does not describe:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The check has teeth: answers that break the document are caught.
#[test]
fn the_check_refuses_what_the_document_does_not_say() {
    use axum::http::{HeaderMap, HeaderValue, Method};
    let mut json = HeaderMap::new();
    json.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let lead = json!({"success": true, "lead": {
        "id": 1, "client_id": 1, "list_id": null, "phone": "+14155550123",
        "phone_number": "+14155550123", "name": null, "email": null, "priority": "medium",
        "status": "pending", "disposition": "IN_QUEUE", "tags": [], "timezone": null,
        "assigned_user_id": null, "attempts": 0, "last_attempt_at": null,
        "next_attempt_at": null, "callback_at": null, "callback_for": null, "notes": null, "created_at": "2026-12-06T10:00:00.000+00:00",
        "updated_at": "2026-12-06T10:00:00.000+00:00"}});
    let check = |status: u16, body: &Value| {
        conformance::problem(
            &Method::GET,
            "/api/leads/7",
            StatusCode::from_u16(status).unwrap(),
            &json,
            body.to_string().as_bytes(),
        )
    };
    assert_eq!(check(200, &lead), None);
    let mut wrong = lead.clone();
    wrong["lead"]["attempts"] = json!("0");
    assert!(check(200, &wrong).is_some(), "a number as a string");
    let mut wrong = lead.clone();
    wrong["lead"]["status"] = json!("sleeping");
    assert!(check(200, &wrong).is_some(), "a status outside the set");
    let mut wrong = lead.clone();
    wrong["lead"].as_object_mut().unwrap().remove("phone");
    assert!(check(200, &wrong).is_some(), "a required field missing");
    let mut wrong = lead.clone();
    wrong["lead"].as_object_mut().unwrap().remove("email");
    assert!(
        check(200, &wrong).is_some(),
        "a field always sent (null or not) missing"
    );
    let mut wrong = lead.clone();
    wrong["lead"]["created_at"] = json!("yesterday");
    assert!(check(200, &wrong).is_some(), "a timestamp that is not one");
    assert!(check(418, &lead).is_some(), "an undocumented status");
    let error = json!({"error": "Not Found", "message": "no such lead"});
    assert_eq!(check(404, &error), None);
    assert!(
        check(404, &json!({"success": false})).is_some(),
        "the wrong error shape"
    );
}

/// The request half of the check: what a request the server took must fit in the document.
#[test]
fn the_request_check_refuses_what_the_document_does_not_take() {
    use axum::http::Method;
    use conformance::{Sent, request_problem};
    let get = |path: &str, query: &str| {
        request_problem(
            &Method::GET,
            path,
            StatusCode::OK,
            &Sent {
                query: Some(query),
                content_type: None,
                body: b"",
            },
        )
    };
    let post = |path: &str, body: &Value| {
        let bytes = body.to_string();
        request_problem(
            &Method::POST,
            path,
            StatusCode::OK,
            &Sent {
                query: None,
                content_type: Some("application/json"),
                body: bytes.as_bytes(),
            },
        )
    };
    assert_eq!(get("/api/leads", "page=2&limit=5&sort_by=priority"), None);
    assert!(
        get("/api/leads", "page=two").is_some(),
        "a number that is not one"
    );
    assert!(
        get("/api/leads", "nonsense=1").is_some(),
        "an undocumented parameter"
    );
    // camelCase aliases pass only where the operation says it takes them.
    assert_eq!(get("/api/leads", "sortBy=priority&listId=3"), None);
    let records = "/api/v1/smartflo/call/records";
    assert_eq!(
        get(records, "from_date=2026-12-01&to_date=2026-12-02"),
        None
    );
    assert!(
        get(records, "fromDate=2026-12-01&to_date=2026-12-02").is_some(),
        "an alias the operation does not state"
    );
    assert!(
        get(records, "to_date=2026-12-02").is_some(),
        "a required parameter missing"
    );
    // Ids as numbers or as their digits; nothing else.
    let claim = "/api/operator/leads/claim";
    assert_eq!(post(claim, &json!({"leadId": 7})), None);
    assert_eq!(post(claim, &json!({"leadId": " 7"})), None);
    assert!(
        post(claim, &json!({"leadId": "x"})).is_some(),
        "an id that is no id"
    );
    assert!(
        post(claim, &json!({"leadId": 0})).is_some(),
        "an id below 1"
    );
    assert!(
        post(claim, &json!({})).is_some(),
        "a required field missing"
    );
    // A closed set's value in another case is taken (docs/compat.md); another word is not.
    let report = "/api/dialer/report-result";
    assert_eq!(
        post(report, &json!({"number_id": 3, "status": "busy"})),
        None
    );
    assert!(post(report, &json!({"number_id": 3, "status": "sleeping"})).is_some());
    // A body where the document gives none; a body answered with an error is not checked.
    assert!(post("/api/calls/7/terminate", &json!({"force": true})).is_some());
    assert_eq!(post("/api/calls/7/terminate", &json!({})), None);
    assert_eq!(
        request_problem(
            &Method::POST,
            claim,
            StatusCode::BAD_REQUEST,
            &Sent {
                query: None,
                content_type: Some("application/json"),
                body: b"{\"leadId\":\"x\"}"
            },
        ),
        None
    );
}
