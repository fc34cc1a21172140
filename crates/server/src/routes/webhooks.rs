//! Provider webhooks. Twilio and Plivo requests must carry a valid signature over
//! `SWITCHBOARD_PUBLIC_URL` + path (+ query); Smartflo, which signs nothing, must carry the
//! shared secret in the URL (`?secret=`) or a header (`X-Webhook-Secret` or `X-API-Key`).
//! Anything else is a 403 and changes nothing.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use switchboard_core::CallStatus;
use switchboard_store::calls::{self, Applied, Call};
use switchboard_telephony::{Bridge, ProviderEvent, ProviderKind, plivo, smartflo, twilio};

use crate::auth::secrets_equal;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::telephony::{bridge_of, ingest};

fn form_params(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The URL the provider signed: our public base, the path and the query as requested.
fn signed_url(state: &AppState, uri: &axum::http::Uri) -> ApiResult<String> {
    let base = state.config.public_url.as_deref().ok_or_else(|| {
        ApiError::forbidden("webhooks need SWITCHBOARD_PUBLIC_URL to check signatures")
    })?;
    let path_q = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    Ok(format!("{base}{path_q}"))
}

fn query_value(uri: &axum::http::Uri, key: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn verify_twilio(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> ApiResult<()> {
    let token = state
        .config
        .telephony
        .twilio_auth_token
        .as_ref()
        .ok_or_else(|| ApiError::forbidden("Twilio is not configured"))?;
    let url = signed_url(state, uri)?;
    if twilio::verify_signature(
        &token.0,
        &url,
        params,
        header_str(headers, "x-twilio-signature"),
    ) {
        Ok(())
    } else {
        Err(ApiError::forbidden("invalid X-Twilio-Signature"))
    }
}

fn verify_plivo(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> ApiResult<()> {
    let token = state
        .config
        .telephony
        .plivo_auth_token
        .as_ref()
        .ok_or_else(|| ApiError::forbidden("Plivo is not configured"))?;
    let url = signed_url(state, uri)?;
    let nonce = header_str(headers, "x-plivo-signature-v3-nonce");
    if !nonce.is_empty()
        && plivo::verify_v3(
            &token.0,
            "POST",
            &url,
            params,
            nonce,
            header_str(headers, "x-plivo-signature-v3"),
        )
    {
        Ok(())
    } else {
        Err(ApiError::forbidden("invalid X-Plivo-Signature-V3"))
    }
}

/// Apply a verified event; `call` from our own URL names the call where the provider's id is
/// not known yet.
async fn apply(state: &AppState, ev: ProviderEvent, uri: &axum::http::Uri) -> ApiResult<Response> {
    Ok(receipt(apply_outcome(state, ev, uri).await?))
}

/// [`apply`], saying what it did (`APPLIED`, `DUPLICATE` or `UNKNOWN_CALL`).
async fn apply_outcome(
    state: &AppState,
    mut ev: ProviderEvent,
    uri: &axum::http::Uri,
) -> ApiResult<&'static str> {
    if let Some(c) = query_value(uri, "call") {
        ev.reference = Some(c);
    }
    Ok(match ingest(state, &ev).await? {
        Applied::Duplicate => DUPLICATE,
        Applied::UnknownCall => {
            tracing::warn!(provider = ev.provider.as_str(), call = %ev.provider_call_id, "webhook for a call we do not know");
            UNKNOWN_CALL
        }
        Applied::Updated { .. } => APPLIED,
    })
}

fn receipt(outcome: &'static str) -> Response {
    (
        StatusCode::OK,
        axum::Json(WebhookReceipt {
            received: true,
            outcome,
        }),
    )
        .into_response()
}

/// What a callback did: the call changed, it was seen before (nothing changed), or no call of
/// ours has its id.
const APPLIED: &str = "applied";
const DUPLICATE: &str = "duplicate";
const UNKNOWN_CALL: &str = "unknown call";

/// What a provider's callback did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookReceipt {
    /// Always true.
    pub received: bool,
    /// `applied` (the call changed), `duplicate` (seen before: nothing changed) or `unknown
    /// call` (no call of ours has this id; kept for nothing).
    #[schema(schema_with = webhook_outcome)]
    pub outcome: &'static str,
}

fn webhook_outcome() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        [APPLIED, DUPLICATE, UNKNOWN_CALL],
        "What the callback changed.",
    )
}

/// The call a voice request is about: by our id in the URL, else by the provider's id.
async fn call_for(
    state: &AppState,
    uri: &axum::http::Uri,
    kind: ProviderKind,
    provider_id: Option<&str>,
) -> ApiResult<Option<Call>> {
    let mut conn = state.db.read().await?;
    if let Some(id) = query_value(uri, "call").and_then(|c| c.parse::<i64>().ok()) {
        let c: Option<Call> = switchboard_store::sql(&format!(
            "SELECT {} FROM calls WHERE calls.id = $1",
            calls::COLUMNS
        ))
        .arg(id)
        .fetch_optional(&mut conn)
        .await?;
        if let Some(c) = c.filter(|c| c.provider == kind.as_str()) {
            return Ok(Some(c));
        }
    }
    match provider_id {
        Some(p) => Ok(calls::find_by_provider_id(&mut conn, kind.as_str(), p).await?),
        None => Ok(None),
    }
}

/// TwiML as Twilio's SDKs write it: with the XML declaration.
fn twiml_doc(twiml: &str) -> Response {
    xml(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{twiml}"))
}

fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

fn caller_id(state: &AppState, call: &Call) -> String {
    call.from_number
        .clone()
        .or_else(|| state.config.telephony.caller_id.clone())
        .unwrap_or_default()
}

#[utoipa::path(
    post,
    path = "/webhooks/twilio/status",
    tag = "provider webhooks",
    summary = "Twilio status callback (signed with X-Twilio-Signature)",
    params(("call" = Option<i64>, Query, description = "Our call id, set in the URLs we give the provider")),
    request_body(content = String, description = "The provider's form (or JSON) body", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Taken; `outcome` says what it changed", body = WebhookReceipt), (status = 403, description = "Bad signature or secret", body = crate::docs::ErrorBody), (status = 400, description = "Not a callback", body = crate::docs::ErrorBody))
)]
pub async fn twilio_status(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = form_params(&body);
    verify_twilio(&st, &uri, &headers, &params)?;
    let ev = twilio::parse_status_callback(&params)
        .map_err(|e| ApiError::bad_request(format!("not a Twilio status callback: {e}")))?;
    apply(&st, ev, &uri).await
}

#[utoipa::path(
    post,
    path = "/webhooks/twilio/answer",
    tag = "provider webhooks",
    summary = "Twilio voice URL: answers TwiML that bridges the call (signed)",
    params(("call" = Option<i64>, Query, description = "Our call id, set in the URLs we give the provider")),
    request_body(content = String, description = "The provider's form (or JSON) body", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The provider's XML (TwiML or Plivo XML) that bridges the call; a call we do not know is hung up", content_type = "text/xml", body = String), (status = 403, description = "Bad signature or secret", body = crate::docs::ErrorBody), (status = 400, description = "Not a callback", body = crate::docs::ErrorBody))
)]
pub async fn twilio_answer(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = form_params(&body);
    verify_twilio(&st, &uri, &headers, &params)?;
    // With machine detection asked for, the voice URL is fetched once Twilio has its verdict:
    // kept with the call (an event of its own name, as the `in-progress` status callback may
    // come first), and a machine is hung up on rather than bridged.
    let answered_by = twilio::answered_by(&params);
    if let Some(by) = &answered_by
        && let Ok(mut ev) = twilio::parse_status_callback(&params)
    {
        ev.event = format!("answered-by:{by}");
        apply(&st, ev, &uri).await?;
    }
    let sid = params
        .iter()
        .find(|(k, _)| k == "CallSid")
        .map(|(_, v)| v.as_str());
    let Some(call) = call_for(&st, &uri, ProviderKind::Twilio, sid).await? else {
        return Ok(xml("<Response><Hangup/></Response>".into()));
    };
    if answered_by
        .as_deref()
        .is_some_and(switchboard_core::call::is_machine)
    {
        // After the greeting (Twilio waited for its end), the campaign's message, if any.
        let twiml = twilio::twiml_for_machine(call.metadata.0["voicemail"].as_str());
        return Ok(twiml_doc(&twiml));
    }
    let twiml = twilio::twiml_for(&bridge_of(&call), &caller_id(&st, &call)).unwrap_or_else(|e| {
        tracing::warn!(call = call.id, error = %e, "cannot bridge this call on Twilio");
        "<Response><Hangup/></Response>".into()
    });
    let twiml = if call.metadata.0["record"] == true {
        twilio::say_first(&twiml, st.config.telephony.recording_notice.as_deref())
    } else {
        twiml
    };
    Ok(twiml_doc(&twiml))
}

#[utoipa::path(
    post,
    path = "/webhooks/plivo/hangup",
    tag = "provider webhooks",
    summary = "Plivo ring and hang-up callbacks (signed with X-Plivo-Signature-V3)",
    params(("call" = Option<i64>, Query, description = "Our call id, set in the URLs we give the provider")),
    request_body(content = String, description = "The provider's form (or JSON) body", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Taken; `outcome` says what it changed", body = WebhookReceipt), (status = 403, description = "Bad signature or secret", body = crate::docs::ErrorBody), (status = 400, description = "Not a callback", body = crate::docs::ErrorBody))
)]
pub async fn plivo_hangup(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = form_params(&body);
    verify_plivo(&st, &uri, &headers, &params)?;
    let ev = plivo::parse_callback(&params)
        .map_err(|e| ApiError::bad_request(format!("not a Plivo callback: {e}")))?;
    let machine = ev
        .answered_by
        .as_deref()
        .is_some_and(switchboard_core::call::is_machine);
    let outcome = apply_outcome(&st, ev, &uri).await?;
    if machine && outcome == APPLIED {
        leave_voicemail_on_plivo(&st, &uri, &params).await?;
    }
    Ok(receipt(outcome))
}

/// A machine answered a Plivo call that has a message to leave (placed with
/// `machine_detection=true`, so Plivo did not hang up): the call is moved to
/// `/webhooks/plivo/voicemail`, which waits for the greeting's beep and speaks it. If Plivo
/// will not move it, it is hung up rather than left on its bridge with a machine. Once per
/// call: a repeated verdict is a duplicate and does not come here.
async fn leave_voicemail_on_plivo(
    st: &AppState,
    uri: &axum::http::Uri,
    params: &[(String, String)],
) -> ApiResult<()> {
    let request = switchboard_telephony::http::param(params, "RequestUUID");
    let Some(call) = call_for(st, uri, ProviderKind::Plivo, request).await? else {
        return Ok(());
    };
    let has_message = call.metadata.0["voicemail"]
        .as_str()
        .is_some_and(|m| !m.trim().is_empty());
    if !has_message || st.telephony.kind != ProviderKind::Plivo {
        return Ok(());
    }
    let Some(live) = switchboard_telephony::http::param(params, "CallUUID")
        .map(str::to_owned)
        .or_else(|| call.provider_call_id.clone())
    else {
        return Ok(());
    };
    let url = format!(
        "{}/webhooks/plivo/voicemail?call={}",
        crate::telephony::public_base(&st.config),
        call.id
    );
    let provider = &st.telephony.provider;
    match provider.redirect(&live, &url).await {
        Ok(()) => {}
        Err(switchboard_telephony::ProviderError::NotFound(_)) => {}
        Err(e) => {
            tracing::warn!(call = call.id, error = %e, "Plivo did not move the call to its message; hanging up");
            if let Err(e) = provider.hangup(&live).await {
                tracing::warn!(call = call.id, error = %e, "could not hang up on the machine");
            }
        }
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/webhooks/plivo/voicemail",
    tag = "provider webhooks",
    summary = "Plivo XML for a call a machine answered: wait for the beep, leave the campaign's message (signed)",
    params(("call" = i64, Query, description = "Our call id, set in the URL we moved the call to")),
    request_body(content = String, description = "The provider's form (or JSON) body", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Plivo XML: `<Wait beep>`, `<Speak>` the message, `<Hangup/>`; a hang-up for a call we do not know or one with no message", content_type = "text/xml", body = String), (status = 403, description = "Bad signature or secret", body = crate::docs::ErrorBody))
)]
pub async fn plivo_voicemail(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = form_params(&body);
    verify_plivo(&st, &uri, &headers, &params)?;
    let request = switchboard_telephony::http::param(&params, "RequestUUID");
    let call = call_for(&st, &uri, ProviderKind::Plivo, request).await?;
    let message = call
        .as_ref()
        .and_then(|c| c.metadata.0["voicemail"].as_str().map(str::to_owned));
    Ok(xml(plivo::xml_for_machine(message.as_deref())))
}

#[utoipa::path(
    post,
    path = "/webhooks/plivo/answer",
    tag = "provider webhooks",
    summary = "Plivo answer URL: answers Plivo XML that bridges the call (signed)",
    params(("call" = Option<i64>, Query, description = "Our call id, set in the URLs we give the provider")),
    request_body(content = String, description = "The provider's form (or JSON) body", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The provider's XML (TwiML or Plivo XML) that bridges the call; a call we do not know is hung up", content_type = "text/xml", body = String), (status = 403, description = "Bad signature or secret", body = crate::docs::ErrorBody), (status = 400, description = "Not a callback", body = crate::docs::ErrorBody))
)]
pub async fn plivo_answer(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = form_params(&body);
    verify_plivo(&st, &uri, &headers, &params)?;
    // The answer request is itself news: the callee picked up.
    if let Ok(ev) = plivo::parse_callback(&params) {
        apply(&st, ev, &uri).await?;
    }
    let id = params
        .iter()
        .find(|(k, _)| k == "RequestUUID" || k == "CallUUID")
        .map(|(_, v)| v.as_str());
    let Some(call) = call_for(&st, &uri, ProviderKind::Plivo, id).await? else {
        return Ok(xml("<Response><Hangup/></Response>".into()));
    };
    let bridge = bridge_of(&call);
    let body = if bridge == Bridge::None {
        "<Response><Hangup/></Response>".to_string()
    } else {
        // A recorded call's `<Record>` posts the recording to the call's status URL.
        let record = (call.metadata.0["record"] == true)
            .then(|| crate::telephony::webhook_urls(&st.config, ProviderKind::Plivo, call.id).1);
        let xml = plivo::xml_for_recorded(&bridge, &caller_id(&st, &call), record.as_deref());
        if record.is_some() {
            plivo::speak_first(&xml, st.config.telephony.recording_notice.as_deref())
        } else {
            xml
        }
    };
    Ok(xml(body))
}

#[utoipa::path(
    post,
    path = "/api/v1/smartflo/webhook",
    tag = "provider webhooks",
    summary = "Smartflo call events (shared secret as ?secret= or X-Webhook-Secret)",
    params(
        ("call" = Option<i64>, Query, description = "Our call id, set in the URLs we give the provider"),
        ("secret" = Option<String>, Query, description = "The shared secret (`SWITCHBOARD_SMARTFLO_WEBHOOK_SECRET`); else the `X-Webhook-Secret` header, else `X-API-Key`"),
        ("X-Webhook-Secret" = Option<String>, Header, description = "The shared secret, when `?secret=` is not given"),
        ("X-API-Key" = Option<String>, Header, description = "The shared secret, when neither `?secret=` nor `X-Webhook-Secret` is given")
    ),
    request_body(
        description = "The provider's callback, as a form or as JSON (`call_id`, `call_status`, `duration`, …)",
        content(
            (String = "application/x-www-form-urlencoded"),
            (serde_json::Value = "application/json")
        )
    ),
    responses((status = 200, description = "Taken; `outcome` says what it changed", body = WebhookReceipt), (status = 403, description = "Bad signature or secret", body = crate::docs::ErrorBody), (status = 400, description = "Not a callback", body = crate::docs::ErrorBody))
)]
pub async fn smartflo_webhook(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let secret = st
        .config
        .telephony
        .smartflo_webhook_secret
        .as_ref()
        .ok_or_else(|| ApiError::forbidden("Smartflo webhooks are not configured"))?;
    let presented = query_value(&uri, "secret")
        .or_else(|| {
            headers
                .get("x-webhook-secret")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .or_else(|| {
            headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let digest = |s: &str| switchboard_store::api_keys::digest(s);
    if !secrets_equal(&digest(&presented), &digest(&secret.0)) {
        return Err(ApiError::forbidden("missing or wrong webhook secret"));
    }
    let value: Value = serde_json::from_slice(&body)
        .or_else(|_| {
            // Smartflo may be set up to send a form; read it as a flat object.
            let params = form_params(&body);
            if params.is_empty() {
                Err(())
            } else {
                Ok(Value::Object(
                    params
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                ))
            }
        })
        .map_err(|_| ApiError::bad_request("the webhook body is neither JSON nor a form"))?;
    let ev = smartflo::parse_webhook(&value)
        .map_err(|e| ApiError::bad_request(format!("not a Smartflo call event: {e}")))?;
    apply(&st, ev, &uri).await
}

#[utoipa::path(
    post,
    path = "/webhooks/twilio/inbound",
    tag = "provider webhooks",
    summary = "Twilio voice URL of our numbers: a caller is put through to their agent or a free one (signed)",
    request_body(content = String, description = "Twilio's form: `CallSid`, `From`, `To`, …", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "TwiML: `<Dial>` to the agent (its end reported to `/webhooks/twilio/dialed`), or a message and a hang-up when no agent is free", content_type = "text/xml", body = String), (status = 403, description = "Bad signature", body = crate::docs::ErrorBody), (status = 400, description = "Not a call", body = crate::docs::ErrorBody))
)]
pub async fn twilio_inbound(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = form_params(&body);
    verify_twilio(&st, &uri, &headers, &params)?;
    let p = |k: &str| switchboard_telephony::http::param(&params, k);
    let sid = p("CallSid").ok_or_else(|| ApiError::bad_request("not a Twilio call: no CallSid"))?;
    let taken =
        crate::telephony::take_inbound(&st, ProviderKind::Twilio, sid, p("From"), p("To")).await?;
    let twiml = match &taken.agent_phone {
        Some(agent) => {
            let action = format!(
                "{}/webhooks/twilio/dialed?call={}",
                crate::telephony::public_base(&st.config),
                taken.call.id
            );
            // The agent sees the caller's number.
            let shown = taken.call.from_number.as_deref().unwrap_or_default();
            format!(
                r#"<Response><Dial callerId="{}" timeout="{}" action="{}" method="POST"><Number>{}</Number></Dial></Response>"#,
                twilio::xml_escape(shown),
                twilio::AGENT_DIAL_TIMEOUT_SECS,
                twilio::xml_escape(&action),
                twilio::xml_escape(agent)
            )
        }
        None => format!(
            "<Response><Say>{}</Say><Hangup/></Response>",
            twilio::xml_escape(busy_message(&st))
        ),
    };
    Ok(twiml_doc(&twiml))
}

#[utoipa::path(
    post,
    path = "/webhooks/twilio/dialed",
    tag = "provider webhooks",
    summary = "Twilio's `<Dial action>` for a call put through to an agent: how it ended (signed)",
    params(("call" = i64, Query, description = "Our call id, set in the action URL")),
    request_body(content = String, description = "Twilio's form: `CallSid`, `DialCallStatus`, `DialCallDuration`, …", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "TwiML: a hang-up, after a message when the agent did not answer (the caller is then called back)", content_type = "text/xml", body = String), (status = 403, description = "Bad signature", body = crate::docs::ErrorBody), (status = 400, description = "Not a dial's end", body = crate::docs::ErrorBody))
)]
pub async fn twilio_dialed(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = form_params(&body);
    verify_twilio(&st, &uri, &headers, &params)?;
    let p = |k: &str| switchboard_telephony::http::param(&params, k);
    let sid = p("CallSid").ok_or_else(|| ApiError::bad_request("not a Twilio call: no CallSid"))?;
    let raw = p("DialCallStatus")
        .ok_or_else(|| ApiError::bad_request("not a dial's end: no DialCallStatus"))?;
    let status = switchboard_core::call::from_twilio_dial(raw)
        .ok_or_else(|| ApiError::bad_request(format!("unknown DialCallStatus {raw:?}")))?;
    let duration = p("DialCallDuration").and_then(switchboard_telephony::http::parse_seconds);
    if dial_ended(
        &st,
        &uri,
        ProviderKind::Twilio,
        sid,
        raw,
        status,
        duration,
        &params,
    )
    .await?
    {
        return Ok(xml("<Response><Hangup/></Response>".into()));
    }
    Ok(xml(format!(
        "<Response><Say>{}</Say><Hangup/></Response>",
        twilio::xml_escape(missed_message(&st))
    )))
}

/// A dial to an agent ended (`raw` the provider's word, `status` the core's): the call ends so,
/// and when the agent did not take it the caller's lead is called back. Whether it was answered.
#[allow(clippy::too_many_arguments)]
async fn dial_ended(
    st: &AppState,
    uri: &axum::http::Uri,
    kind: ProviderKind,
    provider_call_id: &str,
    raw: &str,
    status: CallStatus,
    duration_secs: Option<i64>,
    params: &[(String, String)],
) -> ApiResult<bool> {
    let ev = ProviderEvent {
        provider: kind,
        provider_call_id: provider_call_id.to_owned(),
        event: format!("dial:{raw}"),
        status,
        at: chrono::Utc::now(),
        duration_secs,
        hangup_cause: (status != CallStatus::Completed).then(|| format!("agent {raw}")),
        recording_url: None,
        answered_by: None,
        from: None,
        to: None,
        reference: None,
        raw: switchboard_telephony::http::params_json(params),
    };
    apply_outcome(st, ev, uri).await?;
    if status == CallStatus::Completed {
        return Ok(true);
    }
    if let Some(call) = call_for(st, uri, kind, Some(provider_call_id)).await?
        && let Some(lead) = call.lead_id
    {
        switchboard_store::leads::call_back_now(
            &mut st.db.write().await?,
            lead,
            switchboard_store::now(),
        )
        .await?;
    }
    Ok(false)
}

fn busy_message(st: &AppState) -> &str {
    st.config
        .telephony
        .inbound_busy_message
        .as_deref()
        .unwrap_or(crate::telephony::INBOUND_BUSY)
}

fn missed_message(st: &AppState) -> &str {
    st.config
        .telephony
        .inbound_missed_message
        .as_deref()
        .unwrap_or(crate::telephony::INBOUND_MISSED)
}

#[utoipa::path(
    post,
    path = "/webhooks/plivo/inbound",
    tag = "provider webhooks",
    summary = "Plivo answer URL of our numbers: a caller is put through to their agent or a free one (signed)",
    request_body(content = String, description = "Plivo's form: `CallUUID`, `From`, `To`, …", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Plivo XML: `<Dial>` to the agent (its end reported to `/webhooks/plivo/dialed`), or a message and a hang-up when no agent is free", content_type = "text/xml", body = String), (status = 403, description = "Bad signature", body = crate::docs::ErrorBody), (status = 400, description = "Not a call", body = crate::docs::ErrorBody))
)]
pub async fn plivo_inbound(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = form_params(&body);
    verify_plivo(&st, &uri, &headers, &params)?;
    let p = |k: &str| switchboard_telephony::http::param(&params, k);
    let uuid =
        p("CallUUID").ok_or_else(|| ApiError::bad_request("not a Plivo call: no CallUUID"))?;
    // Plivo writes numbers as digits.
    let plus = |n: Option<&str>| n.map(|n| format!("+{}", n.trim().trim_start_matches('+')));
    let (from, to) = (plus(p("From")), plus(p("To")));
    let taken = crate::telephony::take_inbound(
        &st,
        ProviderKind::Plivo,
        uuid,
        from.as_deref(),
        to.as_deref(),
    )
    .await?;
    let body = match &taken.agent_phone {
        Some(agent) => {
            let action = format!(
                "{}/webhooks/plivo/dialed?call={}",
                crate::telephony::public_base(&st.config),
                taken.call.id
            );
            let digits = |n: &str| n.trim().trim_start_matches('+').to_owned();
            format!(
                r#"<Response><Dial callerId="{}" timeout="{}" action="{}" method="POST"><Number>{}</Number></Dial></Response>"#,
                twilio::xml_escape(&digits(
                    taken.call.from_number.as_deref().unwrap_or_default()
                )),
                twilio::AGENT_DIAL_TIMEOUT_SECS,
                twilio::xml_escape(&action),
                twilio::xml_escape(&digits(agent))
            )
        }
        None => format!(
            "<Response><Speak>{}</Speak><Hangup/></Response>",
            twilio::xml_escape(busy_message(&st))
        ),
    };
    Ok(xml(body))
}

#[utoipa::path(
    post,
    path = "/webhooks/plivo/dialed",
    tag = "provider webhooks",
    summary = "Plivo's `<Dial action>` for a call put through to an agent: how it ended (signed)",
    params(("call" = i64, Query, description = "Our call id, set in the action URL")),
    request_body(content = String, description = "Plivo's form: `CallUUID`, `DialStatus`, `DialBLegDuration`, …", content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Plivo XML: a hang-up, after a message when the agent did not answer (the caller is then called back)", content_type = "text/xml", body = String), (status = 403, description = "Bad signature", body = crate::docs::ErrorBody), (status = 400, description = "Not a dial's end", body = crate::docs::ErrorBody))
)]
pub async fn plivo_dialed(
    State(st): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let params = form_params(&body);
    verify_plivo(&st, &uri, &headers, &params)?;
    let p = |k: &str| switchboard_telephony::http::param(&params, k);
    let uuid =
        p("CallUUID").ok_or_else(|| ApiError::bad_request("not a Plivo call: no CallUUID"))?;
    let raw =
        p("DialStatus").ok_or_else(|| ApiError::bad_request("not a dial's end: no DialStatus"))?;
    let status = switchboard_core::call::from_plivo_dial(raw)
        .ok_or_else(|| ApiError::bad_request(format!("unknown DialStatus {raw:?}")))?;
    let duration = p("DialBLegDuration").and_then(switchboard_telephony::http::parse_seconds);
    if dial_ended(
        &st,
        &uri,
        ProviderKind::Plivo,
        uuid,
        raw,
        status,
        duration,
        &params,
    )
    .await?
    {
        return Ok(xml("<Response><Hangup/></Response>".into()));
    }
    Ok(xml(format!(
        "<Response><Speak>{}</Speak><Hangup/></Response>",
        twilio::xml_escape(missed_message(&st))
    )))
}
