//! The OpenAPI document describes every route of the router.

use serde_json::Value;

/// Every (method, path) the router serves. A route added without an annotation, or an
/// annotation removed, fails here.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/auth/login"),
    ("get", "/metrics"),
    ("post", "/api/leads/upload-csv"),
    ("get", "/api/auth/me"),
    ("get", "/api/events"),
    ("get", "/api/presence"),
    ("post", "/api/auth/change-password"),
    ("post", "/api/auth/logout"),
    ("get", "/api/audit"),
    ("get", "/api/users"),
    ("post", "/api/users"),
    ("get", "/api/users/{id}"),
    ("put", "/api/users/{id}"),
    ("patch", "/api/users/{id}"),
    ("delete", "/api/users/{id}"),
    ("get", "/api/admins"),
    ("get", "/api/clients"),
    ("post", "/api/clients"),
    ("get", "/api/api-keys"),
    ("post", "/api/api-keys"),
    ("delete", "/api/api-keys/{id}"),
    ("get", "/api/webhooks"),
    ("post", "/api/webhooks"),
    ("delete", "/api/webhooks/{id}"),
    ("get", "/api/webhooks/{id}/deliveries"),
    ("post", "/api/webhooks/{id}/ping"),
    ("patch", "/api/webhooks/{id}"),
    ("post", "/api/webhooks/{id}/secret"),
    ("post", "/api/webhooks/{id}/deliveries/{delivery_id}/retry"),
    ("get", "/api/lists"),
    ("post", "/api/lists"),
    ("get", "/api/lists/{id}"),
    ("put", "/api/lists/{id}"),
    ("patch", "/api/lists/{id}"),
    ("delete", "/api/lists/{id}"),
    ("get", "/api/leads"),
    ("post", "/api/leads"),
    ("get", "/api/leads/{id}"),
    ("put", "/api/leads/{id}"),
    ("patch", "/api/leads/{id}"),
    ("delete", "/api/leads/{id}"),
    ("get", "/api/leads/{id}/calls"),
    ("post", "/api/admin/leads/bulk-action"),
    ("post", "/api/numbers/export"),
    ("get", "/health"),
    ("get", "/api-docs/openapi.json"),
    ("get", "/api-docs"),
    ("get", "/api-docs/"),
    ("get", "/"),
    ("get", "/assets/{file}"),
    ("get", "/api/operator/leads/available"),
    ("post", "/api/operator/leads/claim"),
    ("post", "/api/operator/calls/start"),
    ("put", "/api/operator/calls/{id}/update"),
    ("get", "/api/operator/calls/history"),
    ("put", "/api/operator/profile/availability"),
    ("get", "/api/admin/dashboard"),
    ("get", "/api/admin/reports/performance"),
    ("get", "/api/operator/dashboard"),
    ("get", "/api/operator/profile/performance"),
    ("post", "/api/v1/leads/{id}/call"),
    ("get", "/api/v1/smartflo/active-call/{id}"),
    ("post", "/api/v1/smartflo/call/hangup"),
    ("get", "/api/v1/smartflo/live-calls"),
    ("get", "/api/v1/smartflo/call/records"),
    ("post", "/api/v1/smartflo/webhook"),
    ("get", "/api/calls"),
    ("post", "/api/calls"),
    ("get", "/api/calls/stats"),
    ("get", "/api/calls/active"),
    ("get", "/api/calls/analytics"),
    ("get", "/api/calls/export"),
    ("get", "/api/calls/{id}"),
    ("patch", "/api/calls/{id}"),
    ("delete", "/api/calls/{id}"),
    ("patch", "/api/calls/{id}/transcript"),
    ("post", "/api/calls/{id}/terminate"),
    ("post", "/webhooks/twilio/status"),
    ("post", "/webhooks/twilio/answer"),
    ("post", "/webhooks/twilio/inbound"),
    ("post", "/webhooks/twilio/dialed"),
    ("post", "/webhooks/plivo/hangup"),
    ("post", "/webhooks/plivo/voicemail"),
    ("post", "/webhooks/plivo/inbound"),
    ("post", "/webhooks/plivo/dialed"),
    ("post", "/webhooks/plivo/answer"),
    ("get", "/api/dialer/schedule"),
    ("put", "/api/dialer/schedule"),
    ("get", "/api/dialer/dnc"),
    ("post", "/api/dialer/dnc"),
    ("delete", "/api/dialer/dnc/{id}"),
    ("post", "/api/dialer/dnc/upload-csv"),
    ("get", "/api/dialer/next-batch"),
    ("post", "/api/dialer/report-result"),
    ("get", "/api/dialer/rules"),
    ("put", "/api/dialer/rules"),
    ("get", "/api/dialer/explain/{lead_id}"),
    ("post", "/api/admin/system/control"),
    ("get", "/api/admin/system-status"),
    ("post", "/plivo/create-campaign"),
    ("post", "/plivo/pause-campaign"),
    ("post", "/plivo/resume-campaign"),
    ("get", "/plivo/campaign-progress/{campaignId}"),
    ("get", "/plivo/dashboard/campaigns"),
    ("post", "/plivo/dashboard/bulk-operations"),
    ("post", "/plivo/single-call"),
    ("post", "/plivo/update-campaign"),
    ("get", "/plivo/get-active-channels"),
    ("get", "/plivo/monitoring/active-calls"),
    ("get", "/plivo/dashboard/stats"),
    ("get", "/plivo/dashboard/failed-calls"),
    ("get", "/plivo/monitoring/utilization"),
    ("get", "/plivo/monitoring/analytics"),
    ("get", "/health/cloud-run"),
    ("get", "/health/database"),
    ("get", "/health/comprehensive"),
    ("get", "/health/integration-test"),
];

const PUBLIC: &[&str] = &[
    "/api/auth/login",
    "/health",
    "/health/cloud-run",
    "/health/database",
    "/health/comprehensive",
    "/health/integration-test",
    "/api-docs/openapi.json",
    "/api-docs",
    "/api-docs/",
    // The dashboard's page and files (it signs in through the API).
    "/",
    "/assets/{file}",
    // Webhooks carry a provider signature or shared secret, not a bearer token or API key.
    "/api/v1/smartflo/webhook",
    "/webhooks/twilio/status",
    "/webhooks/twilio/answer",
    "/webhooks/twilio/inbound",
    "/webhooks/twilio/dialed",
    "/webhooks/plivo/hangup",
    "/webhooks/plivo/answer",
    "/webhooks/plivo/voicemail",
    "/webhooks/plivo/inbound",
    "/webhooks/plivo/dialed",
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    let doc = switchboard_server::docs::openapi();
    serde_json::from_str(&doc.to_json().expect("the document serializes")).unwrap()
}

fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(*m).is_some() {
                ops.push((m.to_string(), path.clone()));
            }
        }
    }
    ops.sort();
    ops
}

#[test]
fn every_route_is_documented() {
    let doc = document();
    let ops = operations(&doc);
    for (method, path) in ROUTES {
        assert!(
            ops.contains(&(method.to_string(), path.to_string())),
            "{} {} is missing from the OpenAPI document",
            method.to_uppercase(),
            path
        );
    }
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(ops, expected, "the document and the list of routes differ");
}

#[test]
fn operations_are_tagged_summarized_and_secured() {
    let doc = document();
    for (method, path) in ROUTES {
        let op = &doc["paths"][*path][*method];
        let tags = op["tags"].as_array().map(Vec::len).unwrap_or(0);
        assert!(tags > 0, "{method} {path} has no tag");
        assert!(op["summary"].is_string(), "{method} {path} has no summary");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(
            secured,
            !PUBLIC.contains(path),
            "{method} {path}: security does not match whether it is public"
        );
    }
}

#[test]
fn security_schemes_and_error_shape_are_described() {
    let doc = document();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["type"], "http");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(schemes["metricsToken"]["scheme"], "bearer");
    let metrics = &doc["paths"]["/metrics"]["get"]["security"];
    assert_eq!(
        metrics,
        &serde_json::json!([{}, {"metricsToken": []}]),
        "{metrics}"
    );
    assert_eq!(schemes["apiKey"]["type"], "apiKey");
    assert_eq!(schemes["apiKey"]["in"], "header");
    assert_eq!(schemes["apiKey"]["name"], "x-api-key");

    let error = &doc["components"]["schemas"]["ErrorBody"];
    let required: Vec<&str> = error["required"]
        .as_array()
        .expect("ErrorBody.required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(required.contains(&"error") && required.contains(&"message"));

    let unauthorized = &doc["paths"]["/api/auth/me"]["get"]["responses"]["401"];
    assert_eq!(
        unauthorized["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
}

#[test]
fn parameters_and_bodies_are_described() {
    let doc = document();
    let names = |method: &str, path: &str, place: &str| -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == place)
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Every `{name}` in a path is a documented path parameter, in order.
    for (method, path) in ROUTES {
        let in_path: Vec<String> = path
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
            .collect();
        assert_eq!(names(method, path, "path"), in_path, "{method} {path}");
    }
    // Integer ids in paths start at 1.
    let id = doc["paths"]["/api/leads/{id}"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "id")
        .unwrap()
        .clone();
    assert_eq!(id["schema"]["type"], "integer");
    assert_eq!(id["schema"]["minimum"], 1);
    for q in ["page", "limit", "status", "search", "list_id", "sort_by"] {
        assert!(
            names("get", "/api/leads", "query").iter().any(|n| n == q),
            "GET /api/leads lacks the query parameter {q}"
        );
    }
    assert!(
        names("get", "/api/users", "query")
            .iter()
            .any(|n| n == "role")
    );
    assert!(
        names("post", "/api/numbers/export", "query")
            .iter()
            .any(|n| n == "format")
    );

    for (method, path, schema) in [
        ("post", "/api/auth/login", "LoginBody"),
        ("post", "/api/users", "CreateUser"),
        ("patch", "/api/users/{id}", "UpdateUser"),
        ("post", "/api/clients", "CreateClient"),
        ("post", "/api/api-keys", "CreateKey"),
        ("post", "/api/webhooks", "CreateWebhook"),
        ("put", "/api/lists/{id}", "ListBody"),
        ("post", "/api/leads", "LeadBody"),
        ("post", "/api/admin/leads/bulk-action", "BulkBody"),
        ("post", "/api/numbers/export", "ExportBody"),
        (
            "post",
            "/plivo/dashboard/bulk-operations",
            "CampaignBulkBody",
        ),
    ] {
        assert_eq!(
            doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{schema}"),
            "{method} {path}"
        );
    }
    assert_eq!(
        doc["paths"]["/api/leads/upload-csv"]["post"]["requestBody"]["content"]["multipart/form-data"]
            ["schema"]["$ref"],
        "#/components/schemas/UploadForm"
    );
}

/// Every operation documents the errors its kind of route answers, each in its surface's
/// shape: 400 for input, 404 for a record in the path, 401 for credentials, 413 and 415 for a
/// JSON body.
#[test]
fn common_errors_are_documented_in_each_surfaces_shape() {
    let doc = document();
    let mut checked = 0;
    for (method, path) in ROUTES {
        let op = &doc["paths"][*path][*method];
        let responses = op["responses"].as_object().unwrap();
        let has = |code: &str| responses.contains_key(code);
        let json_body = op["requestBody"]["content"]
            .get("application/json")
            .is_some();
        let params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
        let secured = op["security"].as_array().is_some_and(|s| {
            s.iter()
                .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
        });
        if json_body || params {
            assert!(has("400"), "{method} {path}: no 400");
        }
        if json_body {
            assert!(has("413") && has("415"), "{method} {path}: no 413 or 415");
        }
        if path.contains('{') {
            assert!(has("404"), "{method} {path}: no 404");
        }
        if secured {
            assert!(has("401") && has("429"), "{method} {path}: no 401 or 429");
        }
        checked += 1;
    }
    assert_eq!(checked, ROUTES.len());
    // The shape follows the surface.
    let schema_of = |path: &str, method: &str, code: &str| {
        doc["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(
        schema_of("/plivo/create-campaign", "post", "415").as_deref(),
        Some("#/components/schemas/Seed003ErrorBody")
    );
    assert_eq!(
        schema_of("/api/calls", "post", "415").as_deref(),
        Some("#/components/schemas/SuccessFalseErrorBody")
    );
    assert_eq!(
        schema_of("/api/leads/{id}", "get", "404").as_deref(),
        Some("#/components/schemas/ErrorBody")
    );
    // Annotated errors too: the route names the native shape, the surface answers in its own.
    assert_eq!(
        schema_of("/api/v1/smartflo/call/hangup", "post", "409").as_deref(),
        Some("#/components/schemas/SuccessFalseErrorBody")
    );
    assert_eq!(
        schema_of("/plivo/campaign-progress/{campaignId}", "get", "404").as_deref(),
        Some("#/components/schemas/Seed003ErrorBody")
    );
}

/// Fields whose values are a closed set list every value the core knows, no more: the lists
/// are built from the same arrays the handlers check against. (That the server takes each
/// listed value is the API test `documented`.)
#[test]
fn closed_sets_list_the_cores_values() {
    use switchboard_core::{CallStatus, Disposition, LeadStatus, Priority, Role};
    let doc = document();
    let values = |schema: &str, field: &str| -> Vec<Value> {
        doc["components"]["schemas"][schema]["properties"][field]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema}.{field}: no enum"))
            .clone()
    };
    let strings = |v: &[&str]| -> Vec<Value> { v.iter().map(|s| Value::from(*s)).collect() };
    assert_eq!(
        values("CreateUser", "role"),
        strings(&Role::ALL.map(Role::as_str))
    );
    assert_eq!(
        values("UpdateUser", "role"),
        strings(&Role::ALL.map(Role::as_str))
    );
    assert_eq!(
        values("LeadBody", "priority"),
        strings(&Priority::ALL.map(Priority::as_str))
    );
    assert_eq!(
        values("LeadBody", "status"),
        strings(&LeadStatus::ALL.map(LeadStatus::as_str))
    );
    assert_eq!(
        values("ReportBody", "status"),
        strings(&Disposition::ALL.map(Disposition::as_str))
    );
    let mut people = strings(&["IN_QUEUE", "MISSED", "BUSY", "POWER_OFF", "BANNED"]);
    people.push(Value::Null);
    assert_eq!(values("LeadBody", "disposition"), people);
    let settable: Vec<&str> = CallStatus::ALL
        .into_iter()
        .filter(|s| *s != CallStatus::Canceled)
        .map(CallStatus::as_str)
        .collect();
    assert_eq!(values("UpdateCallBody", "status"), strings(&settable));
    // `null` is taken as the default kind.
    let mut kinds = strings(&["api", "dialer", "bot"]);
    kinds.push(Value::Null);
    assert_eq!(values("CreateKey", "kind"), kinds);
    assert_eq!(
        values("BulkBody", "action"),
        strings(&["update_priority", "update_status", "add_tags", "delete"])
    );
    assert_eq!(
        values("CampaignBulkBody", "action"),
        strings(&["pause", "resume", "cancel"])
    );
    // Paging: from page 1, limits named with the cap the server applies.
    let leads = doc["paths"]["/api/leads"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| leads.iter().find(|p| p["name"] == name).unwrap()["schema"].clone();
    // What the server takes: any unsigned number (0 as 1, a limit over the cap as the cap).
    assert_eq!(param("page")["minimum"], 0);
    assert_eq!(param("limit")["minimum"], 0);
    assert_eq!(param("limit")["default"], 20);
    assert!(
        param("limit")["description"]
            .as_str()
            .unwrap()
            .contains("100")
    );
    assert_eq!(
        param("sort_order")["enum"],
        serde_json::json!(["asc", "desc"])
    );
    assert_eq!(
        param("sort_by")["enum"].as_array().unwrap().len(),
        switchboard_store::leads::SORTABLE.len()
    );
    // What a handler refuses to go without is required, and not nullable.
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    for (name, fields) in [
        (
            "CreateBody",
            &["campaignName", "listId", "fromNumber", "wssUrl"][..],
        ),
        ("CampaignBulkBody", &["action", "campaignIds"]),
        ("BulkBody", &["action", "leadIds"]),
        ("ControlBody", &["action"]),
        ("ReportBody", &["status"]),
        ("LeadIdBody", &["leadId"]),
        ("LoginBody", &["password"]),
    ] {
        let s = schema(name);
        assert_eq!(s["required"], serde_json::json!(fields), "{name}");
        for f in fields {
            // One type, or alternatives none of which is null (an id as a number or digits).
            let p = &s["properties"][*f];
            let types: Vec<&serde_json::Value> = match p["oneOf"].as_array() {
                Some(alts) => alts.iter().map(|a| &a["type"]).collect(),
                None => vec![&p["type"]],
            };
            for t in types {
                assert!(
                    t.is_string() && t != "null",
                    "{name}.{f} is typed {t}, not one type"
                );
            }
        }
    }
    // A bot may leave out `metadata` (it was documented as required).
    assert!(
        schema("CallBody").get("required").is_none(),
        "{}",
        schema("CallBody")
    );
    // The call log's status filter: the bot's four words, then every other core status.
    let log = doc["paths"]["/api/calls"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let status = log.iter().find(|p| p["name"] == "status").unwrap();
    let mut expected = strings(&["failed", "in-progress", "missed", "success"]);
    expected.extend(strings(
        &CallStatus::ALL
            .map(CallStatus::as_str)
            .into_iter()
            .filter(|s| *s != "failed")
            .collect::<Vec<_>>(),
    ));
    assert_eq!(status["schema"]["enum"].as_array().unwrap(), &expected);
}
