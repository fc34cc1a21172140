//! Every answer the API suite gets is held to the OpenAPI document: its status must be one the
//! operation documents, its media type one documented for that status, and a JSON body must
//! fit the schema documented for it. The suite's hundreds of requests on both databases are so
//! many checks that the document says what the server does.

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
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
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
