//! API documentation: the OpenAPI document and a page that renders it with no internet access.
//!
//! Every route is registered from its `#[utoipa::path]` annotation (see [`crate::routes`]), so
//! the document is collected from the routes actually served and cannot drift from them.

use std::sync::Arc;

use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The docs page: plain HTML, CSS and JavaScript, nothing fetched but the document itself.
const PAGE: &str = include_str!("docs.html");

/// The native error shape every route answers with.
#[derive(ToSchema)]
#[schema(example = json!({"error": "Bad Request", "message": "name is required"}))]
pub struct ErrorBody {
    /// Short title: the HTTP reason phrase.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// Extra detail, on some errors only.
    #[schema(nullable = false)]
    pub details: Option<Value>,
}

/// Errors any signed-in route can answer.
#[derive(IntoResponses)]
pub enum AuthErrors {
    /// Missing, invalid or expired credentials
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// Rate limit exceeded; see the Retry-After header
    #[response(status = 429)]
    TooManyRequests(ErrorBody),
}

/// Errors of routes that place a call, after the caller's own (they replace its 403 and 429).
#[derive(IntoResponses)]
pub enum CallErrors {
    /// The caller's role may not do this, or the number is on the do-not-call list
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Rate limit exceeded (see the Retry-After header), or the global or client concurrency cap is reached
    #[response(status = 429)]
    TooManyRequests(ErrorBody),
    /// The telephony provider refused the call or could not be reached
    #[response(status = 502)]
    BadGateway(ErrorBody),
}

/// Errors of routes that need a particular role.
#[derive(IntoResponses)]
pub enum AdminErrors {
    /// Missing, invalid or expired credentials
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The caller's role may not do this
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Rate limit exceeded; see the Retry-After header
    #[response(status = 429)]
    TooManyRequests(ErrorBody),
}

/// The multipart form of a CSV upload.
#[derive(Deserialize, ToSchema)]
pub struct UploadForm {
    /// The CSV file (the field may also be called `file`).
    #[serde(rename = "csvFile")]
    #[schema(value_type = String, format = Binary)]
    pub csv_file: Vec<u8>,
    /// Put the imported leads on this list (the field may also be called `list_id`).
    #[serde(rename = "listId")]
    pub list_id: Option<i64>,
}

/// The multipart form of a do-not-call upload.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DncUploadForm {
    /// The CSV file (the field may also be called `file`): a phone column, and a `reason`
    /// (or `notes`) column if you like.
    #[schema(rename = "csvFile", value_type = String, format = Binary)]
    pub csv_file: Vec<u8>,
    /// `true`: block the numbers for every client (super admins only).
    pub global: Option<bool>,
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The token from POST /api/auth/login"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "dialerToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "SWITCHBOARD_DIALER_TOKEN or a dialer token made by an admin (seed 002)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metricsToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "SWITCHBOARD_METRICS_TOKEN (GET /metrics; without one configured, callers on the same machine need none)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "An API key made by an admin; acts as an admin of its client",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "Call-center backend: users, clients, API keys, lists, leads, calls, provider webhooks and the bot call log.\n\n\
            Errors answer `{\"error\": \"...\", \"message\": \"...\"}` (schema `ErrorBody`); under `/plivo` and `/health` in seed 003's shape \
            (`Seed003ErrorBody`), under `/api/v1` and `/api/calls` in seeds 000/004's (`SuccessFalseErrorBody`)."
    ),
    components(schemas(
        ErrorBody,
        Seed003ErrorBody,
        SuccessFalseErrorBody,
        // Named by `RulesBody` through an `Option` the generator does not follow.
        crate::routes::batches::RetrySet,
        switchboard_core::dialer::RetryRule,
    )),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign-in and the signed-in user"),
        (name = "users", description = "People of a client (admins)"),
        (name = "clients", description = "Clients (super admins)"),
        (name = "api-keys", description = "API keys, dialer tokens and bot keys (admins)"),
        (name = "webhooks", description = "Outbound webhooks: the client's events POSTed, signed, to its own URLs (admins)"),
        (name = "lists", description = "Lead lists"),
        (name = "leads", description = "Leads and bulk actions"),
        (name = "files", description = "CSV upload and XLSX / CSV export"),
        (name = "health", description = "Liveness"),
        (name = "docs", description = "This documentation"),
        (name = "dashboard", description = "The web dashboard, served by the same binary"),
    )
)]
struct ApiDoc;

/// The document's info, tags, shared schemas and security schemes; routes add their paths.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The complete OpenAPI document, collected from every route of the router.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = crate::routes::documented().into_openapi();
    finish(&mut doc);
    doc
}

/// What the document says once for all routes, added after the routes' own annotations: the
/// errors common to each kind of route, and ids in paths starting at 1. The router serves the
/// document through this too, so what it serves is what [`openapi`] returns.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    add_common_errors(doc);
    ids_are_positive(doc);
    sent_fields_are_required(doc);
}

/// Fields of answers that are sent only in some answers and may be null when sent. Every
/// other nullable field of an answer is always sent (see [`sent_fields_are_required`]).
const SOMETIMES_SENT_NULLABLE: &[(&str, &str)] = &[("CampaignLiveCall", "leadId")];

/// In the schemas of answers, a nullable field is one the server always sends, null or not, so
/// it is required: a client may count on the key. (The generator leaves every `Option` out of
/// `required`, which suits request bodies, where they may be left out.) A field left out when
/// it has no value (`skip_serializing_if`) is marked `nullable = false` where it is declared,
/// and stays optional. Schemas that request bodies or parameters use are left as they are.
fn sent_fields_are_required(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::BTreeSet;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;

    let json = serde_json::to_value(&*doc).expect("the OpenAPI document serializes");
    // The component schemas `roots` name, and those they name in turn.
    let reachable = |roots: Vec<&serde_json::Value>| {
        fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(o) => {
                    if let Some(r) = o.get("$ref").and_then(|r| r.as_str())
                        && let Some(name) = r.strip_prefix("#/components/schemas/")
                    {
                        out.push(name.to_string());
                    }
                    o.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut seen = BTreeSet::new();
        let mut todo = Vec::new();
        roots.into_iter().for_each(|r| refs(r, &mut todo));
        while let Some(name) = todo.pop() {
            if seen.insert(name.clone()) {
                refs(&json["components"]["schemas"][&name], &mut todo);
            }
        }
        seen
    };
    let ops: Vec<&serde_json::Value> = json["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .flat_map(|item| item.as_object().into_iter().flat_map(|o| o.values()))
        .collect();
    let answers = reachable(ops.iter().map(|op| &op["responses"]).collect());
    let requests = reachable(
        ops.iter()
            .flat_map(|op| [&op["requestBody"], &op["parameters"]])
            .collect(),
    );
    let nullable = |p: &serde_json::Value| {
        let null = serde_json::Value::from("null");
        p["type"] == null
            || p["type"].as_array().is_some_and(|t| t.contains(&null))
            || p["oneOf"]
                .as_array()
                .is_some_and(|alts| alts.iter().any(|a| a["type"] == null))
    };
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for (name, schema) in components.schemas.iter_mut() {
        if !answers.contains(name) || requests.contains(name) {
            continue;
        }
        let RefOr::T(Schema::Object(o)) = schema else {
            continue;
        };
        for (field, p) in &o.properties {
            if o.required.contains(field)
                || SOMETIMES_SENT_NULLABLE.contains(&(name.as_str(), field.as_str()))
            {
                continue;
            }
            if serde_json::to_value(p).is_ok_and(|p| nullable(&p)) {
                o.required.push(field.clone());
            }
        }
    }
}

/// Every integer in a path is a record's id, and ids start at 1: the document says so once
/// here rather than in each route's annotation.
fn ids_are_positive(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    for (_, op) in operations(doc) {
        for p in op.parameters.iter_mut().flatten() {
            if p.parameter_in != ParameterIn::Path {
                continue;
            }
            if let Some(RefOr::T(Schema::Object(o))) = &mut p.schema
                && o.schema_type == SchemaType::Type(Type::Integer)
            {
                o.minimum = Some(1.into());
            }
        }
    }
}

/// Every operation of the document, with its path.
fn operations(
    doc: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&str, &mut utoipa::openapi::path::Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        .map(move |op| (path.as_str(), op))
    })
}

/// A success that carries only a message (a deletion, a revocation).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Done {
    /// Always true.
    pub success: bool,
    /// What was done, for people.
    pub message: String,
}

impl Done {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            success: true,
            message: message.into(),
        }
    }
}

/// Seed 003's error shape (routes under `/plivo` and `/health`).
#[derive(ToSchema)]
#[schema(example = json!({"success": false, "message": "campaignId is required", "error": "Bad Request", "code": "BAD_REQUEST", "timestamp": "2026-12-06T10:00:00.000Z"}))]
pub struct Seed003ErrorBody {
    /// Always false.
    pub success: bool,
    /// What went wrong, for people.
    pub message: String,
    /// The HTTP reason phrase.
    pub error: String,
    /// The reason phrase in capitals, `_` for spaces.
    pub code: String,
    /// When it happened.
    pub timestamp: String,
}

/// Seeds 000 and 004's error shape (routes under `/api/v1` and `/api/calls`).
#[derive(ToSchema)]
#[schema(example = json!({"success": false, "message": "callId is required", "error": "Bad Request"}))]
pub struct SuccessFalseErrorBody {
    /// Always false.
    pub success: bool,
    /// What went wrong, for people.
    pub message: String,
    /// The HTTP reason phrase.
    pub error: String,
}

/// Add to every operation the errors that any route of its kind answers and that its own
/// annotation may leave out, each in its surface's shape: 400 where it takes input (a body,
/// a query or path parameter), 404 where its path names a record, 401 and 429 where it needs
/// credentials (429 on the health checks too), 413 where it takes a body and 415 where that body is JSON. A response the
/// annotation documents is kept as it is.
fn add_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    for (path, op) in operations(doc) {
        let schema = match crate::routes::shape_of(path) {
            crate::routes::Shape::Native => "ErrorBody",
            crate::routes::Shape::Seed003 => "Seed003ErrorBody",
            crate::routes::Shape::SuccessFalse => "SuccessFalseErrorBody",
        };
        // Annotations name the native shape; a seed's surface answers in its own.
        if schema != "ErrorBody" {
            for r in op.responses.responses.values_mut() {
                let RefOr::T(r) = r else { continue };
                for c in r.content.values_mut() {
                    if let Some(RefOr::Ref(to)) = &mut c.schema
                        && to.ref_location == "#/components/schemas/ErrorBody"
                    {
                        *to = Ref::from_schema_name(schema);
                    }
                }
            }
        }
        let body = op.request_body.as_ref();
        let json_body = body.is_some_and(|b| b.content.contains_key("application/json"));
        let takes_input = body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
        // A requirement that names a scheme (`{}` alone makes credentials optional).
        let secured = op.security.as_ref().is_some_and(|reqs| {
            reqs.iter().any(|r| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_object().map(|o| !o.is_empty()))
                    .unwrap_or(false)
            })
        });
        let mut add = |code: &str, description: &str| {
            op.responses
                .responses
                .entry(code.to_string())
                .or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name(schema)))
                                    .build(),
                            )
                            .build(),
                    )
                });
        };
        if takes_input {
            add(
                "400",
                "Invalid input: a malformed or wrongly typed body, query or path value, or text holding the NUL character",
            );
        }
        if path.contains('{') {
            add("404", "No such record (or it belongs to another client)");
        }
        if secured {
            add("401", "Missing, invalid or expired credentials");
        }
        // The public health checks have a rate limit of their own.
        if secured || path == "/health" || path.starts_with("/health/") {
            add("429", "Rate limit exceeded; see the Retry-After header");
        }
        if body.is_some() {
            add("413", "The body is over the size limit");
        }
        if json_body {
            add(
                "415",
                "The body is not JSON (Content-Type: application/json)",
            );
        }
    }
}

/// The serialized document, handed to the docs routes as a request extension.
#[derive(Clone)]
pub struct Document(Arc<str>);

/// A layer that hands `doc` to the docs routes.
pub fn serve(doc: &utoipa::openapi::OpenApi) -> Extension<Document> {
    let json = doc
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    Extension(Document(json.into()))
}

/// The docs routes; public, and not rate limited.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(openapi_json))
        .routes(routes!(page))
        .routes(routes!(page_slash))
}

#[utoipa::path(
    get,
    path = "/api-docs/openapi.json",
    tag = "docs",
    summary = "This OpenAPI document",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub async fn openapi_json(Extension(doc): Extension<Document>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.to_string(),
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/api-docs",
    tag = "docs",
    summary = "The documentation page",
    responses((status = 200, description = "HTML page", content_type = "text/html", body = String))
)]
pub async fn page() -> Response {
    page_answer()
}

#[utoipa::path(
    get,
    path = "/api-docs/",
    tag = "docs",
    summary = "The documentation page",
    responses((status = 200, description = "HTML page", content_type = "text/html", body = String))
)]
pub async fn page_slash() -> Response {
    page_answer()
}

/// The page's policy: its one inline script and its one inline style are allowed by their
/// SHA-256 hashes (nothing else inline runs or applies), and it may fetch the document from
/// this server only.
static PAGE_CSP: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    let hash = |open: &str, close: &str| {
        let start = PAGE
            .find(open)
            .map(|i| i + open.len())
            .expect("an inline block");
        let end = start + PAGE[start..].find(close).expect("its end");
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&PAGE.as_bytes()[start..end]);
        format!(
            "'sha256-{}'",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest)
        )
    };
    HeaderValue::from_str(&format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        hash("<script>", "</script>"),
        hash("<style>", "</style>"),
    ))
    .expect("an ASCII policy")
});

fn page_answer() -> Response {
    let mut res = Html(PAGE).into_response();
    crate::dashboard::protect(res.headers_mut(), PAGE_CSP.clone());
    res
}

/// Schemas of request fields whose values are a closed set, built from the very lists the
/// handlers check against (the core's `ALL` arrays, each route's list of actions), so the
/// document and the validation cannot drift apart. Handlers are lenient where the seeds are
/// (case, aliases such as `agent` for `operator`); the document names the canonical values.
pub mod field {
    use switchboard_core::lead::DispositionInput;
    use switchboard_core::{CallStatus, Disposition, LeadStatus, Priority, Role};
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{
        Array, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
    };

    /// A string that is one of `values`.
    pub fn one_of<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.into_iter().map(str::to_string)))
            .description(Some(description))
            .build()
    }

    /// A string that is one of `values`, or `null`.
    pub fn one_of_or_null<'a>(
        values: impl IntoIterator<Item = &'a str>,
        description: &str,
    ) -> Object {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .enum_values(Some(
                values
                    .into_iter()
                    .map(serde_json::Value::from)
                    .chain([serde_json::Value::Null]),
            ))
            .description(Some(description))
            .build()
    }

    /// A comma-separated list of values from `values` (a filter that takes several).
    fn list_of<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Object {
        let values: Vec<&str> = values.into_iter().collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!(
                "{description} One or more of {}, separated by commas.",
                values.join(", ")
            )))
            .build()
    }

    pub fn role() -> Object {
        one_of(
            Role::ALL.map(Role::as_str),
            "The user's role (`agent` and `salesperson` are taken as `operator`).",
        )
    }

    pub fn priority() -> Object {
        one_of(Priority::ALL.map(Priority::as_str), "The lead's priority.")
    }

    pub fn priorities() -> Object {
        list_of(Priority::ALL.map(Priority::as_str), "Priorities.")
    }

    pub fn lead_status() -> Object {
        one_of(
            LeadStatus::ALL.map(LeadStatus::as_str),
            "Where the lead is in its life.",
        )
    }

    /// The dispositions people may set (seed 002): `IN_QUEUE` (none) and the mutable ones.
    pub fn disposition_input() -> Object {
        let settable = ["IN_QUEUE"].into_iter().chain(
            Disposition::ALL
                .into_iter()
                .filter(|d| DispositionInput::Set(*d).settable_by_people())
                .map(Disposition::as_str),
        );
        one_of_or_null(
            settable,
            "The outcome of the last attempt as people may set it; `IN_QUEUE` or null clears \
             it. The other dispositions are the dialer's (403).",
        )
    }

    /// A lead's disposition as the routes show it: `IN_QUEUE` when it has none.
    pub fn disposition_shown() -> Object {
        one_of(
            ["IN_QUEUE"]
                .into_iter()
                .chain(Disposition::ALL.map(Disposition::as_str)),
            "The outcome of the last attempt (seed 002's dispositions); `IN_QUEUE` when none.",
        )
    }

    pub fn disposition() -> Object {
        one_of(
            Disposition::ALL.map(Disposition::as_str),
            "The attempt's outcome (seed 002's dispositions).",
        )
    }

    pub fn call_status() -> Object {
        one_of(CallStatus::ALL.map(CallStatus::as_str), "A call status.")
    }

    /// What the call log of seed 004 filters on: a bot's word for a group of statuses, or one
    /// core status.
    pub fn bot_call_status() -> Object {
        let bot = CallStatus::ALL.map(switchboard_core::call::to_bot);
        let mut words: Vec<&str> = bot.to_vec();
        words.sort_unstable();
        words.dedup();
        let core = CallStatus::ALL
            .map(CallStatus::as_str)
            .into_iter()
            .filter(|s| !bot.contains(s));
        one_of(
            words.into_iter().chain(core),
            "A bot's word (`failed`, `in-progress`, `missed`, `success`: each a group of \
             statuses) or one call status.",
        )
    }

    /// The statuses people may give a call (all but `canceled`).
    pub fn call_status_settable() -> Object {
        one_of(
            CallStatus::ALL
                .into_iter()
                .filter(|s| *s != CallStatus::Canceled)
                .map(CallStatus::as_str),
            "The call's new status.",
        )
    }

    /// Lead filters that take statuses and dispositions alike.
    pub fn lead_statuses() -> Object {
        list_of(
            LeadStatus::ALL
                .map(LeadStatus::as_str)
                .into_iter()
                .chain(Disposition::ALL.map(Disposition::as_str))
                .chain(["IN_QUEUE"]),
            "Lead statuses or dispositions.",
        )
    }

    pub fn dispositions() -> Object {
        list_of(
            Disposition::ALL
                .map(Disposition::as_str)
                .into_iter()
                .chain(["IN_QUEUE"]),
            "Dispositions.",
        )
    }

    pub fn lead_sort() -> Object {
        one_of(
            switchboard_store::leads::SORTABLE,
            "The column to sort on (camelCase names such as `createdAt` are accepted too); \
             default `created_at`.",
        )
    }

    pub fn sort_order() -> Object {
        one_of(["asc", "desc"], "Sort direction; default `desc`.")
    }

    pub fn page() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u32::MAX))
            .default(Some(1.into()))
            .description(Some("Page number, from 1 (0 is taken as 1)."))
            .build()
    }

    pub fn limit() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u32::MAX))
            .default(Some(switchboard_core::PageRequest::DEFAULT_LIMIT.into()))
            .description(Some(format!(
                "Items per page; 0 is taken as 1 and anything above {0} as {0}.",
                switchboard_core::PageRequest::MAX_LIMIT
            )))
            .build()
    }

    /// The digits of an id sent as a string, as `extract::parse_id` takes them: spaces around,
    /// an optional `+`, and a value of at least 1.
    const ID_DIGITS: &str = "^\\s*\\+?0*[1-9][0-9]{0,18}\\s*$";

    fn id_alternatives(description: &str, or_blank: bool, or_null: bool) -> Schema {
        let digits = if or_blank {
            "^\\s*(\\+?0*[1-9][0-9]{0,18})?\\s*$"
        } else {
            ID_DIGITS
        };
        let mut b = OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(i64::MAX)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(digits)),
            );
        if or_null {
            b = b.item(ObjectBuilder::new().schema_type(Type::Null));
        }
        Schema::OneOf(b.description(Some(description)).build())
    }

    /// An id in a query string: its digits, or blank for none.
    pub fn id_query() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^\\s*(\\+?0*[1-9][0-9]{0,18})?\\s*$"))
            .description(Some("An id (its digits); blank for none."))
            .build()
    }

    /// An id in a body: a positive integer, or its digits as a string (the seeds' clients,
    /// written for MongoDB, send ids as strings).
    pub fn loose_id() -> Schema {
        id_alternatives(
            "An id: a positive integer, or its digits as a string.",
            false,
            false,
        )
    }

    /// [`loose_id`], or `null` for none.
    pub fn loose_id_or_null() -> Schema {
        id_alternatives(
            "An id: a positive integer, or its digits as a string; null for none.",
            false,
            true,
        )
    }

    /// The client a super admin acts for: [`loose_id`], or null or a blank string for their own.
    pub fn client_id() -> Schema {
        id_alternatives(
            "The client (super admins only): a positive integer, or its digits as a string; \
             null or blank for the caller's own.",
            true,
            true,
        )
    }

    fn loose_ids(max: Option<usize>, description: &str) -> Array {
        ArrayBuilder::new()
            .items(RefOr::T(loose_id()))
            .min_items(max.map(|_| 1))
            .max_items(max)
            .description(Some(description))
            .build()
    }

    /// `campaignIds` of the campaigns' bulk operations: 1 to 100 values, each answered on its
    /// own, so a value that is no id is refused in the answer, not by a 400.
    pub fn campaign_ids() -> Array {
        ArrayBuilder::new()
            .items(RefOr::T(Schema::Object(
                ObjectBuilder::new().schema_type(SchemaType::AnyValue).build(),
            )))
            .min_items(Some(1))
            .max_items(Some(100))
            .description(Some(
                "The campaigns, 1 to 100: ids as positive integers or their digits as strings. \
                 Each is answered on its own; a value that is no id is refused in `results.failed`.",
            ))
            .build()
    }

    /// `leadIds` of the leads' bulk action.
    pub fn lead_ids() -> Array {
        loose_ids(Some(10_000), "The leads, 1 to 10,000 ids.")
    }

    /// A list of ids with no bounds (an export's selection).
    pub fn ids() -> Array {
        loose_ids(None, "Ids: positive integers, or their digits as strings.")
    }

    pub fn key_kind() -> Object {
        one_of_or_null(
            switchboard_store::api_keys::KeyKind::ALL
                .map(switchboard_store::api_keys::KeyKind::as_str),
            "`api` (the default, also for null): the `x-api-key` of seed 003; `dialer`: a dialer \
             token (seed 002); `bot`: a bot key (seed 004).",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_page_allows_its_own_inline_code_only() {
        let res = page_answer();
        let h = res.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'sha256-"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        // The hash is the script's: a changed script would not run.
        let start = PAGE.find("<script>").unwrap() + "<script>".len();
        let end = start + PAGE[start..].find("</script>").unwrap();
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&PAGE.as_bytes()[start..end]);
        let want = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest);
        assert!(
            csp.contains(&format!("script-src 'sha256-{want}'")),
            "{csp}"
        );
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    }
}
