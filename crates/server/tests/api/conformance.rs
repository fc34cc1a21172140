//! Every answer the API suite gets is held to the OpenAPI document: its status must be one the
//! operation documents, its media type one documented for that status, and a JSON body must
//! fit the schema documented for it. The suite's hundreds of requests on both databases are so
//! many checks that the document says what the server does.
//!
//! What the server takes is held to it too: when it answers a request with success, every
//! query parameter sent must be one the operation documents and fit its schema, the documented
//! required parameters must have been sent, and a JSON body must fit the documented request
//! schema. A request the document would refuse but the server takes means the document says
//! less than the server does (a name, a type or a limit it does not state).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::{HeaderMap, Method, StatusCode, header};
use serde_json::Value;

struct Operation {
    /// The path template's segments: `None` for a `{parameter}`.
    segments: Vec<Option<String>>,
    method: String,
    path: String,
    responses: Value,
    /// The documented parameters (`in`, `name`, `required`, `schema`).
    parameters: Vec<Value>,
    request_body: Option<Value>,
    /// The operation's summary and description.
    prose: String,
}

struct Spec {
    components: Value,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<(String, String, String), Arc<jsonschema::Validator>>>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let doc = serde_json::to_value(switchboard_server::docs::openapi()).expect("document");
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let Some(responses) = op.get("responses") else {
                    continue;
                };
                operations.push(Operation {
                    segments: path
                        .split('/')
                        .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
                        .collect(),
                    method: method.clone(),
                    path: path.clone(),
                    responses: responses.clone(),
                    parameters: op
                        .get("parameters")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    request_body: op.get("requestBody").cloned(),
                    prose: ["summary", "description"]
                        .iter()
                        .filter_map(|k| op.get(*k).and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("\n"),
                });
            }
        }
        Spec {
            components: doc["components"].clone(),
            operations,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

/// The operation documented for `method` on `path`: of the templates that match, the one with
/// the most literal segments (`/api/calls/active` before `/api/calls/{id}`).
fn operation(method: &Method, path: &str) -> Option<&'static Operation> {
    let method = method.as_str().to_ascii_lowercase();
    let parts: Vec<&str> = path.split('/').collect();
    spec()
        .operations
        .iter()
        .filter(|op| op.method == method && op.segments.len() == parts.len())
        .filter(|op| {
            op.segments.iter().zip(&parts).all(|(seg, part)| match seg {
                Some(lit) => lit == part,
                None => !part.is_empty(),
            })
        })
        .max_by_key(|op| op.segments.iter().filter(|s| s.is_some()).count())
}

fn validator(
    op: &Operation,
    status: &str,
    media: &str,
    schema: &Value,
) -> Arc<jsonschema::Validator> {
    let spec = spec();
    let key = (
        format!("{} {}", op.method, op.path),
        status.to_string(),
        media.to_string(),
    );
    if let Some(v) = spec.validators.lock().unwrap().get(&key) {
        return v.clone();
    }
    // The schema with the document's components beside it, so `#/components/…` resolves.
    let mut root = serde_json::json!({ "$schema": "https://json-schema.org/draft/2020-12/schema" });
    root["allOf"] = serde_json::json!([schema]);
    root["components"] = spec.components.clone();
    let v = Arc::new(
        jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| {
                panic!(
                    "{} {} {status}: the schema does not compile: {e}",
                    op.method, op.path
                )
            }),
    );
    spec.validators.lock().unwrap().insert(key, v.clone());
    v
}

/// Check one answer against the document (panics with what is wrong).
pub fn check(method: &Method, path: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) {
    if let Some(p) = problem(method, path, status, headers, body) {
        panic!("{p}");
    }
}

/// What is wrong with one answer, held to the document. Paths the document does not describe
/// (the fallback's 404 for a path no route serves) and 405s (a method no route serves) are not
/// checked.
pub fn problem(
    method: &Method,
    path: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<String> {
    if status == StatusCode::METHOD_NOT_ALLOWED {
        return None;
    }
    let op = operation(method, path)?;
    let code = status.as_u16().to_string();
    let what = format!("{method} {path} answered {code}");
    let Some(response) = op
        .responses
        .get(&code)
        .or_else(|| op.responses.get("default"))
    else {
        return Some(format!(
            "{what}, which `{} {}` does not document (it documents {:?}); body: {}",
            op.method,
            op.path,
            op.responses
                .as_object()
                .map(|r| r.keys().collect::<Vec<_>>()),
            String::from_utf8_lossy(body)
        ));
    };
    // No body documented: nothing more to hold it to.
    let content = response.get("content").and_then(Value::as_object)?;
    let media = media_type(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    if body.is_empty() && media.is_empty() {
        return Some(format!(
            "{what} with no body; the document gives it one ({:?})",
            content.keys().collect::<Vec<_>>()
        ));
    }
    let Some(documented) = content.get(&media) else {
        return Some(format!(
            "{what} as `{media}`; the document says {:?}",
            content.keys().collect::<Vec<_>>()
        ));
    };
    if media != "application/json" {
        return None;
    }
    let schema = documented.get("schema")?;
    let instance: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(format!("{what} with a body that is not JSON ({e})")),
    };
    let v = validator(op, &code, &media, schema);
    let errors: Vec<String> = v
        .iter_errors(&instance)
        .map(|e| format!("  at `{}`: {e}", e.instance_path()))
        .collect();
    (!errors.is_empty()).then(|| {
        format!(
            "{what} with a body the document's schema refuses:\n{}\nbody: {}",
            errors.join("\n"),
            serde_json::to_string_pretty(&instance).unwrap_or_default()
        )
    })
}

/// What the API suite sent with one request.
pub struct Sent<'a> {
    pub query: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

/// Check one request the server answered with success against the document (panics with what
/// is wrong). Requests answered otherwise are not checked: the server may refuse more than the
/// document can say (a phone that is no phone number).
pub fn check_request(method: &Method, path: &str, status: StatusCode, sent: &Sent<'_>) {
    if let Some(p) = request_problem(method, path, status, sent) {
        panic!("{p}");
    }
}

/// A query value as the schema's type reads it: `7` as a number where the schema takes
/// integers, `true` as a boolean; as the string it is otherwise (which the check then refuses).
fn typed(raw: &str, schema: &Value) -> Value {
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"integer") || types.contains(&"number") {
        if let Ok(i) = raw.parse::<i64>() {
            return Value::from(i);
        }
        if types.contains(&"number")
            && let Ok(f) = raw.parse::<f64>()
        {
            return Value::from(f);
        }
    }
    if types.contains(&"boolean") && (raw == "true" || raw == "false") {
        return Value::Bool(raw == "true");
    }
    Value::String(raw.to_string())
}

/// What the schema refuses in a request. A closed set's value written in another letter case or
/// with spaces around it is not refused: the handlers take it, and the document names the
/// canonical values and says so (docs/compat.md).
fn schema_errors(op: &Operation, key: &str, schema: &Value, instance: &Value) -> Vec<String> {
    validator(op, key, "", schema)
        .iter_errors(instance)
        .filter(|e| {
            let jsonschema::error::ValidationErrorKind::Enum { options } = e.kind() else {
                return true;
            };
            let Some(sent) = e.instance().as_str() else {
                return true;
            };
            !options.as_array().is_some_and(|o| {
                o.iter()
                    .filter_map(Value::as_str)
                    .any(|v| v.eq_ignore_ascii_case(sent.trim()))
            })
        })
        .map(|e| format!("  at `{}`: {e}", e.instance_path()))
        .collect()
}

/// What is wrong with one request the server took, held to the document.
pub fn request_problem(
    method: &Method,
    path: &str,
    status: StatusCode,
    sent: &Sent<'_>,
) -> Option<String> {
    if !status.is_success() {
        return None;
    }
    let op = operation(method, path)?;
    let what = format!(
        "{method} {path}{} was answered {status}",
        sent.query.map(|q| format!("?{q}")).unwrap_or_default()
    );
    let mut problems = Vec::new();
    let documented = |place: &str, name: &str| {
        op.parameters.iter().find(|p| {
            p.get("in").and_then(Value::as_str) == Some(place)
                && p.get("name").and_then(Value::as_str) == Some(name)
        })
    };

    // Path parameters: each `{name}` segment fits its schema.
    let template: Vec<&str> = op.path.split('/').collect();
    for (seg, part) in template.iter().zip(path.split('/')) {
        let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        match documented("path", name).and_then(|p| p.get("schema")) {
            None => problems.push(format!("  path parameter `{name}` is not documented")),
            Some(schema) => {
                for e in schema_errors(op, &format!("path:{name}"), schema, &typed(part, schema)) {
                    problems.push(format!("  path parameter `{name}` = `{part}`:{e}"));
                }
            }
        }
    }

    // Query parameters: each sent one is documented and fits; the required ones were sent.
    let pairs: Vec<(String, String)> = sent
        .query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    for (name, value) in &pairs {
        // A camelCase spelling of a documented snake_case name, where the operation says
        // camelCase aliases are taken.
        let snake = camel_to_snake(name);
        let alias = (snake != *name && op.prose.contains("camelCase"))
            .then(|| documented("query", &snake))
            .flatten();
        match documented("query", name).or(alias) {
            None => problems.push(format!(
                "  query parameter `{name}` was taken but is not documented"
            )),
            Some(p) => {
                if let Some(schema) = p.get("schema") {
                    for e in
                        schema_errors(op, &format!("query:{name}"), schema, &typed(value, schema))
                    {
                        problems.push(format!("  query parameter `{name}` = `{value}`:{e}"));
                    }
                }
            }
        }
    }
    for p in &op.parameters {
        let (Some("query"), Some(true), Some(name)) = (
            p.get("in").and_then(Value::as_str),
            p.get("required").and_then(Value::as_bool),
            p.get("name").and_then(Value::as_str),
        ) else {
            continue;
        };
        if !pairs.iter().any(|(n, _)| n == name) {
            problems.push(format!(
                "  query parameter `{name}` is documented as required but was not sent"
            ));
        }
    }

    // The body.
    let media = media_type(sent.content_type);
    match &op.request_body {
        None => {
            let empty = sent.body.is_empty()
                || serde_json::from_slice::<Value>(sent.body)
                    .is_ok_and(|v| v.is_null() || v.as_object().is_some_and(|o| o.is_empty()));
            if !empty {
                problems.push(
                    "  a body was sent and taken, but the document gives the operation none".into(),
                );
            }
        }
        Some(rb) => {
            let required = rb.get("required").and_then(Value::as_bool) == Some(true);
            if sent.body.is_empty() {
                if required {
                    problems.push("  the document requires a body, but none was sent".into());
                }
            } else if let Some(content) = rb.get("content").and_then(Value::as_object) {
                match content.get(&media) {
                    None => problems.push(format!(
                        "  the body was sent as `{media}`; the document takes {:?}",
                        content.keys().collect::<Vec<_>>()
                    )),
                    Some(d) if media == "application/json" => {
                        if let (Some(schema), Ok(instance)) =
                            (d.get("schema"), serde_json::from_slice::<Value>(sent.body))
                        {
                            problems.extend(schema_errors(op, "request", schema, &instance));
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }
    (!problems.is_empty()).then(|| {
        format!(
            "{what}, but the document would refuse the request:\n{}\nbody sent: {}",
            problems.join("\n"),
            String::from_utf8_lossy(sent.body)
        )
    })
}

fn camel_to_snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A `Content-Type`'s media type, without its parameters, in lower case ("" for none).
fn media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}
