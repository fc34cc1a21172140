use chrono::FixedOffset;
use serde_json::json;
use switchboard_core::CallStatus;
use switchboard_telephony::smartflo::{SmartfloClient, parse_webhook, parse_webhook_at};
use switchboard_telephony::{Direction, Provider, ProviderError, RecordQuery};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{JsonIs, QueryIs, dial, pairs};

const TOKEN: &str = "eyJ.smartflo.token";
const BEARER: &str = "Bearer eyJ.smartflo.token";

fn client(server: &MockServer) -> SmartfloClient {
    SmartfloClient::with_base_url(TOKEN, server.uri())
}

fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).unwrap()
}

// ---- REST against a mock server -------------------------------------------------------------

#[tokio::test]
async fn smartflo_click_to_call_sends_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/click_to_call"))
        .and(header("authorization", BEARER))
        .and(header("accept", "application/json"))
        .and(JsonIs(json!({
            "agent_number": "0506123456",
            "destination_number": "14155550100",
            "caller_id": "14155550199",
            "async": 1,
            "custom_identifier": "call-42",
            "call_timeout": 600,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "message": "Originate successfully queued",
            "data": {"ref_id": "ref-777"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let mut d = dial();
    d.agent_id = Some("0506123456".into());
    let placed = client(&server).originate(&d).await.unwrap();
    assert_eq!(placed.provider_call_id, "ref-777");
    assert_eq!(placed.status, CallStatus::Initiated);
}

#[tokio::test]
async fn smartflo_click_to_call_ids_and_refusals() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/click_to_call"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "message": "ok", "ref_id": "ref-top"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/click_to_call"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"success": true, "message": "ok"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/click_to_call"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": false, "message": "Provide a valid caller_id"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let mut d = dial();
    d.agent_id = Some("agent-1".into());
    assert_eq!(c.originate(&d).await.unwrap().provider_call_id, "ref-top");
    assert_eq!(
        c.originate(&d).await.unwrap().provider_call_id,
        "call-42",
        "our reference when Smartflo sends no ref_id"
    );
    let e = c.originate(&d).await.unwrap_err();
    assert_eq!(
        e,
        ProviderError::Rejected("Provide a valid caller_id".into())
    );
    d.agent_id = None;
    let e = c.originate(&d).await.unwrap_err();
    assert_eq!(
        e,
        ProviderError::Rejected("Smartflo needs an agent for click-to-call".into())
    );
}

#[tokio::test]
async fn smartflo_hangup_posts_the_call_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/call/hangup"))
        .and(header("authorization", BEARER))
        .and(JsonIs(json!({"call_id": "1715252026.405915"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "message": "Call hangup successfully"
        })))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).hangup("1715252026.405915").await.unwrap();
}

#[tokio::test]
async fn smartflo_hangup_of_an_ended_call_is_ok() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/call/hangup"))
        .and(JsonIs(json!({"call_id": "gone-404"})))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "success": false, "message": "Call not found"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/call/hangup"))
        .and(JsonIs(json!({"call_id": "gone-200"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": false, "message": "No active call found"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/call/hangup"))
        .and(JsonIs(json!({"call_id": "other"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": false, "message": "Permission denied"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    c.hangup("gone-404").await.unwrap();
    c.hangup("gone-200").await.unwrap();
    assert_eq!(
        c.hangup("other").await.unwrap_err(),
        ProviderError::Rejected("Permission denied".into())
    );
}

#[tokio::test]
async fn smartflo_live_calls_parse() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/live_calls"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {
                "id": 1, "user_id": 2, "client_id": 3,
                "call_id": "1715252026.405915",
                "direction": 2,
                "source": "0506123456",
                "type": "click-to-call",
                "did": "918069400000",
                "multiple_destination_type": "c2c",
                "destination": "9876543210",
                "state": "Answered",
                "created_at": "2024-05-09 16:23:46",
                "call_time": "00:00:33",
                "agent_name": "Asha",
                "customer_number": "9876543210"
            },
            {
                "call_id": "1715252099.1",
                "direction": 1,
                "did": "918069400000",
                "state": "Ringing",
                "created_at": "2024-05-09 16:25:00",
                "call_time": "00:00:00",
                "customer_number": "9123456789"
            }
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let calls = client(&server)
        .with_utc_offset(ist())
        .live_calls()
        .await
        .unwrap();
    assert_eq!(calls.len(), 2);
    let a = &calls[0];
    assert_eq!(a.provider_call_id, "1715252026.405915");
    assert_eq!(a.direction, Direction::Outbound);
    assert_eq!(a.status, CallStatus::Answered);
    assert_eq!(a.duration_secs, Some(33));
    assert_eq!(a.from.as_deref(), Some("918069400000"));
    assert_eq!(a.to.as_deref(), Some("9876543210"));
    assert_eq!(a.agent_name.as_deref(), Some("Asha"));
    assert_eq!(
        a.started_at.unwrap().to_rfc3339(),
        "2024-05-09T10:53:46+00:00"
    );
    assert_eq!(a.raw["type"], "click-to-call");
    let b = &calls[1];
    assert_eq!(b.direction, Direction::Inbound);
    assert_eq!(b.status, CallStatus::Ringing);
    assert_eq!(b.from.as_deref(), Some("9123456789"));
}

#[tokio::test]
async fn smartflo_call_records_query_and_page() {
    use chrono::TimeZone;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/call/records"))
        .and(header("authorization", BEARER))
        .and(QueryIs(pairs(&[
            ("from_date", "2026-05-01 00:00:00"),
            ("to_date", "2026-05-02 00:00:00"),
            ("page", "2"),
            ("limit", "20"),
            ("destination", "919876543210"),
            ("callerid", "918069400000"),
            ("direction", "outbound"),
            ("agent_number", "0506123456"),
        ])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 406, "limit": 20, "size": 2, "page": 2,
            "results": [
                {
                    "id": "66a1f", "call_id": "1715252026.405915", "uuid": "u-1",
                    "direction": "outbound", "status": "answered",
                    "description": "Call answered by customer",
                    "date": "2026-05-01", "time": "10:30:00",
                    "call_duration": 95, "agent_name": "Asha",
                    "did_number": "918069400000", "client_number": "919876543210",
                    "recording_url": "https://cloudphone.tatateleservices.com/file/recording?callId=1&type=rec&token=x",
                    "hangup_cause": "NORMAL_CLEARING"
                },
                {
                    "id": "66a20", "call_id": "1715252099.1",
                    "direction": "inbound", "status": "missed",
                    "date": "2026-05-01", "time": "11:00:00",
                    "call_duration": "0", "client_number": "919123456789",
                    "did_number": "918069400000"
                }
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let q = RecordQuery {
        from: Some(
            chrono::Utc
                .with_ymd_and_hms(2026, 4, 30, 18, 30, 0)
                .unwrap(),
        ),
        to: Some(chrono::Utc.with_ymd_and_hms(2026, 5, 1, 18, 30, 0).unwrap()),
        page: 2,
        limit: 20,
        destination: Some("+919876543210".into()),
        caller_id: Some("+918069400000".into()),
        direction: Some(Direction::Outbound),
        agent_number: Some("0506123456".into()),
    };
    let page = client(&server)
        .with_utc_offset(ist())
        .call_records(&q)
        .await
        .unwrap();
    assert_eq!(page.count, 406);
    assert_eq!(page.results.len(), 2);
    let a = &page.results[0];
    assert_eq!(a.provider_call_id, "1715252026.405915");
    assert_eq!(a.status, CallStatus::Completed);
    assert_eq!(a.duration_secs, Some(95));
    assert_eq!(a.from.as_deref(), Some("918069400000"));
    assert_eq!(a.to.as_deref(), Some("919876543210"));
    assert_eq!(
        a.started_at.unwrap().to_rfc3339(),
        "2026-05-01T05:00:00+00:00"
    );
    assert!(a.recording_url.as_deref().unwrap().contains("callId=1"));
    assert_eq!(a.raw["description"], "Call answered by customer");
    let b = &page.results[1];
    assert_eq!(b.status, CallStatus::NoAnswer);
    assert_eq!(b.direction, Direction::Inbound);
    assert_eq!(b.from.as_deref(), Some("919123456789"));
}

#[tokio::test]
async fn smartflo_errors_map() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/live_calls"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "success": false, "message": "Deleted or blacklisted token provided"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/live_calls"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/live_calls"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/live_calls"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>bad gateway</html>"))
        .mount(&server)
        .await;
    let c = client(&server);
    let e = c.live_calls().await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Auth(ref m) if m.contains("blacklisted")),
        "{e:?}"
    );
    assert!(c.live_calls().await.unwrap().is_empty(), "429 retried");
    let e = c.live_calls().await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Network(ref m) if m.contains("500")),
        "{e:?}"
    );
}

// ---- webhooks -------------------------------------------------------------------------------

#[test]
fn smartflo_webhook_plain_hangup() {
    let body = json!({
        "uuid": "u-1",
        "call_id": "1715252026.405915",
        "call_status": "answered",
        "end_stamp": "2026-05-01 10:31:35",
        "answer_stamp": "2026-05-01 10:30:00",
        "hangup_cause": "NORMAL_CLEARING",
        "duration": "101",
        "billsec": "95",
        "recording_url": "https://rec/1",
        "customer_number": "9876543210",
        "caller_id_number": "918069400000",
        "direction": "outbound",
        "custom_identifier": "call-42"
    });
    let e = parse_webhook(&body).unwrap();
    assert_eq!(e.provider_call_id, "1715252026.405915");
    assert_eq!(e.status, CallStatus::Completed);
    assert_eq!(e.event, "answered:ended");
    assert_eq!(e.duration_secs, Some(101));
    assert_eq!(e.hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
    assert_eq!(e.recording_url.as_deref(), Some("https://rec/1"));
    assert_eq!(e.to.as_deref(), Some("9876543210"));
    assert_eq!(e.from.as_deref(), Some("918069400000"));
    assert_eq!(e.reference.as_deref(), Some("call-42"));
    assert_eq!(e.at.to_rfc3339(), "2026-05-01T10:31:35+00:00");
    assert_eq!(e.raw, body);

    let e = parse_webhook_at(&body, ist()).unwrap();
    assert_eq!(e.at.to_rfc3339(), "2026-05-01T05:01:35+00:00");
}

#[test]
fn smartflo_webhook_dollar_keys() {
    let body = json!({
        "$call_id": "1715.2",
        "$call_status": "missed",
        "$end_stamp": "2026-05-01 10:31:35",
        "$customer_number": "9876543210",
        "$ref_id": "call-43",
        "$billsec": 0
    });
    let e = parse_webhook(&body).unwrap();
    assert_eq!(e.provider_call_id, "1715.2");
    assert_eq!(e.status, CallStatus::NoAnswer);
    assert_eq!(e.event, "missed:ended");
    assert_eq!(e.reference.as_deref(), Some("call-43"));
    assert_eq!(e.duration_secs, Some(0));
}

#[test]
fn smartflo_webhook_data_wrapped() {
    let body = json!({
        "event": "Call answered by Agent",
        "data": {
            "call_id": "1715.3",
            "status": "Answered",
            "customer_number": "9876543210",
            "custom_identifier": {"ref_id": "call-44"}
        }
    });
    let e = parse_webhook(&body).unwrap();
    assert_eq!(e.provider_call_id, "1715.3");
    assert_eq!(
        e.status,
        CallStatus::Answered,
        "not ended: answered means live"
    );
    assert_eq!(e.event, "answered");
    assert_eq!(e.reference.as_deref(), Some("call-44"));

    // data-wrapped with `$` keys and a hang-up trigger but no end_stamp.
    let body = json!({
        "trigger": "Call hangup (Missed or Answered)",
        "data": {"$uuid": "u-9", "$call_status": "answered", "$billsec": "12"}
    });
    let e = parse_webhook(&body).unwrap();
    assert_eq!(e.provider_call_id, "u-9");
    assert_eq!(e.status, CallStatus::Completed);
    assert_eq!(e.event, "answered:ended");
    assert_eq!(e.duration_secs, Some(12));
}

#[test]
fn smartflo_webhook_without_status_or_id() {
    // Ended without a status: answered if there is an answer stamp, else missed.
    let e = parse_webhook(&json!({"call_id": "1", "end_stamp": "2026-05-01 10:00:00"})).unwrap();
    assert_eq!(e.status, CallStatus::NoAnswer);
    let e = parse_webhook(&json!({
        "call_id": "1", "end_stamp": "2026-05-01 10:00:00", "answer_stamp": "2026-05-01 09:59:00"
    }))
    .unwrap();
    assert_eq!(e.status, CallStatus::Completed);
    // Unfilled template variables are ignored.
    assert!(parse_webhook(&json!({"call_id": "$call_id", "call_status": "answered"})).is_err());
    assert!(parse_webhook(&json!({"call_id": "1"})).is_err());
    assert!(parse_webhook(&json!({"call_status": "answered"})).is_err());
    assert!(parse_webhook(&json!([1, 2])).is_err());
}
