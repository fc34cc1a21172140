use serde_json::json;
use switchboard_core::CallStatus;
use switchboard_telephony::plivo::{self, PlivoClient, parse_callback, verify_v3, xml_for};
use switchboard_telephony::{Bridge, Direction, Provider, ProviderError, RecordQuery};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{JsonIs, QueryIs, basic, dial, pairs};

const AUTH_ID: &str = "MAXXXXXXXXXXXXXXXXXX";
const TOKEN: &str = "plivo-secret";
const CALL: &str = "/v1/Account/MAXXXXXXXXXXXXXXXXXX/Call/";
const REQ_UUID: &str = "9834029e-58b6-11e1-b8b7-a5bd0e4e126f";

fn client(server: &MockServer) -> PlivoClient {
    PlivoClient::with_base_url(AUTH_ID, TOKEN, server.uri())
}

// ---- V3 signatures (plivo-go utils_test.go vectors) -----------------------------------------

const GO_TOKEN: &str = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4";
const GO_NONCE: &str = "31627761595286130198";
const GO_URL_Q: &str =
    "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml/?a=b&c=d";
const GO_URL: &str = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml";

fn go_params() -> Vec<(String, String)> {
    pairs(&[
        ("Direction", "outbound"),
        ("From", "19792014278"),
        ("ALegUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        ("CallStatus", "in-progress"),
        ("BillRate", "0.002"),
        ("ParentAuthID", "MANWVLYTK4ZWU1YTY4QA"),
        (
            "To",
            "sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com",
        ),
        ("ALegRequestUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        ("CallUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        ("RequestUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        (
            "SIP-H-To",
            "<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1",
        ),
        ("SessionStart", "2020-04-08 11:34:33.238707"),
        ("Event", "StartApp"),
    ])
}

#[test]
fn plivo_v3_go_sdk_vectors() {
    let p = go_params();
    let cases = [
        (
            GO_URL_Q,
            "POST",
            "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=",
        ),
        (
            GO_URL_Q,
            "GET",
            "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ=",
        ),
        (
            GO_URL,
            "POST",
            "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0=",
        ),
        (
            GO_URL,
            "GET",
            "i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc=",
        ),
    ];
    for (url, m, expected) in cases {
        assert_eq!(
            plivo::compute_v3(GO_TOKEN, m, url, &p, GO_NONCE),
            expected,
            "{m} {url}"
        );
        assert!(
            verify_v3(GO_TOKEN, m, url, &p, GO_NONCE, expected),
            "{m} {url}"
        );
    }
    // A comma-separated list (several active tokens): any entry matches.
    assert!(verify_v3(
        GO_TOKEN,
        "POST",
        GO_URL,
        &p,
        GO_NONCE,
        "bm90LXRoaXMtb25l,iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="
    ));
}

#[test]
fn plivo_v3_small_vectors() {
    let p = pairs(&[
        ("CallUUID", "abc-123"),
        ("CallStatus", "completed"),
        ("Duration", "42"),
    ]);
    assert!(verify_v3(
        "my_auth_token",
        "POST",
        "https://example.com/plivo/hangup",
        &p,
        "98765",
        "JrXlu+2NqWbLAwBGymduR8LNpoD+c/v8KDmaaRAR/zU="
    ));
    assert!(verify_v3(
        "my_auth_token",
        "POST",
        "https://example.com/plivo/hangup?x=1",
        &p,
        "98765",
        "fJKfoVx4dgfhZhgDtsy1OGqgqBPrgkJB90KhqpjT6lU="
    ));
}

#[test]
fn plivo_v3_negatives() {
    let mut p = go_params();
    let good = "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=";
    assert!(!verify_v3(
        "wrong-token",
        "POST",
        GO_URL_Q,
        &p,
        GO_NONCE,
        good
    ));
    assert!(!verify_v3(
        GO_TOKEN,
        "POST",
        GO_URL_Q,
        &p,
        "31627761595286130199",
        good
    ));
    assert!(!verify_v3(GO_TOKEN, "POST", GO_URL_Q, &p, GO_NONCE, ""));
    assert!(
        !verify_v3(GO_TOKEN, "GET", GO_URL_Q, &p, GO_NONCE, good),
        "method matters"
    );
    p[3].1 = "completed".into();
    assert!(!verify_v3(GO_TOKEN, "POST", GO_URL_Q, &p, GO_NONCE, good));
}

// ---- REST against a mock server -------------------------------------------------------------

/// The body every call is placed with (for `dial()`), and the fields of `extra`.
fn originate_body(extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({
        "from": "14155550199",
        "to": "14155550100",
        "answer_url": "https://sb.example.com/hooks/answer?ref=call-42",
        "answer_method": "POST",
        "hangup_url": "https://sb.example.com/hooks/status?ref=call-42",
        "hangup_method": "POST",
        "ring_url": "https://sb.example.com/hooks/status?ref=call-42",
        "ring_method": "POST",
        "ring_timeout": 25,
        "time_limit": 600,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn plivo_originate_sends_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CALL))
        .and(header("authorization", basic(AUTH_ID, TOKEN).as_str()))
        .and(JsonIs(originate_body(json!({}))))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "message": "call fired",
            "request_uuid": REQ_UUID,
            "api_id": "97ceeb52-58b6-11e1-86da-77300b68f8bb"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let placed = client(&server).originate(&dial()).await.unwrap();
    assert_eq!(placed.provider_call_id, REQ_UUID);
    assert_eq!(placed.status, CallStatus::Initiated);
}

/// Machine detection asked for: Plivo hangs up on machines itself and posts its verdict to the
/// status URL, which reads it as `answered_by`.
#[tokio::test]
async fn plivo_originate_asks_for_machine_detection() {
    let server = MockServer::start().await;
    let mut d = dial();
    d.machine_detection = true;
    Mock::given(method("POST"))
        .and(path(CALL))
        .and(JsonIs(originate_body(json!({
            "machine_detection": "hangup",
            "machine_detection_url": "https://sb.example.com/hooks/status?ref=call-42",
            "machine_detection_method": "POST",
        }))))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "message": "call fired", "request_uuid": REQ_UUID, "api_id": "x"
        })))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).originate(&d).await.unwrap();
    let ev = parse_callback(&pairs(&[
        ("RequestUUID", REQ_UUID),
        ("CallUUID", "c1"),
        ("CallStatus", "in-progress"),
        ("Event", "MachineDetection"),
        ("Machine", "true"),
    ]))
    .unwrap();
    assert_eq!(ev.answered_by.as_deref(), Some("machine"));
    assert_eq!(ev.event, "MachineDetection");
    assert_eq!(ev.status, CallStatus::Answered);
}

/// With a message to leave, Plivo is asked to detect without hanging up (`true`): the server
/// moves a machine's call to the message itself.
#[tokio::test]
async fn plivo_originate_with_a_message_lets_machines_go_on() {
    let server = MockServer::start().await;
    let mut d = dial();
    d.machine_detection = true;
    d.voicemail = Some("Please call Acme back".into());
    Mock::given(method("POST"))
        .and(path(CALL))
        .and(JsonIs(originate_body(json!({
            "machine_detection": "true",
            "machine_detection_url": "https://sb.example.com/hooks/status?ref=call-42",
            "machine_detection_method": "POST",
        }))))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "message": "call fired", "request_uuid": REQ_UUID, "api_id": "x"
        })))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).originate(&d).await.unwrap();
}

/// A live call moved to new XML: `POST /Call/{uuid}/` with the A leg's URL, as JSON, with
/// Basic auth. A call that ended meanwhile is `NotFound`.
#[tokio::test]
async fn plivo_redirect_transfers_the_callee_leg() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{CALL}c1/").as_str()))
        .and(header("authorization", basic(AUTH_ID, TOKEN).as_str()))
        .and(JsonIs(json!({
            "legs": "aleg",
            "aleg_url": "https://sb.example.com/webhooks/plivo/voicemail?call=42",
            "aleg_method": "POST",
        })))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"message": "call transferred", "api_id": "x"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{CALL}gone/").as_str()))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": "not found", "api_id": "x"})),
        )
        .mount(&server)
        .await;
    let c = client(&server);
    c.redirect(
        "c1",
        "https://sb.example.com/webhooks/plivo/voicemail?call=42",
    )
    .await
    .unwrap();
    assert!(matches!(
        c.redirect("gone", "https://sb.example.com/x").await,
        Err(ProviderError::NotFound(_))
    ));
}

#[test]
fn plivo_xml_for_machine_waits_for_the_beep() {
    assert_eq!(
        plivo::xml_for_machine(Some("  Call <Acme> back ")),
        r#"<Response><Wait length="30" beep="true"/><Speak>Call &lt;Acme&gt; back</Speak><Hangup/></Response>"#
    );
    for none in [None, Some(""), Some("   ")] {
        assert_eq!(
            plivo::xml_for_machine(none),
            "<Response><Hangup/></Response>"
        );
    }
}

#[tokio::test]
async fn plivo_originate_accepts_200_queued() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CALL))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "message": "call queued", "request_uuid": REQ_UUID, "api_id": "x"
        })))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client(&server)
            .originate(&dial())
            .await
            .unwrap()
            .provider_call_id,
        REQ_UUID
    );
}

#[tokio::test]
async fn plivo_hangup_deletes_the_call() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{CALL}{REQ_UUID}/").as_str()))
        .and(header("authorization", basic(AUTH_ID, TOKEN).as_str()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).hangup(REQ_UUID).await.unwrap();
}

#[tokio::test]
async fn plivo_hangup_cancels_a_ringing_request() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{CALL}{REQ_UUID}/").as_str()))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"api_id": "a", "error": "not found"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(
            format!("/v1/Account/{AUTH_ID}/Request/{REQ_UUID}/").as_str(),
        ))
        .and(header("authorization", basic(AUTH_ID, TOKEN).as_str()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).hangup(REQ_UUID).await.unwrap();
}

#[tokio::test]
async fn plivo_hangup_finds_the_call_uuid_of_a_request() {
    let server = MockServer::start().await;
    let not_found = || ResponseTemplate::new(404).set_body_json(json!({"error": "not found"}));
    Mock::given(method("DELETE"))
        .and(path(format!("{CALL}{REQ_UUID}/").as_str()))
        .respond_with(not_found())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(
            format!("/v1/Account/{AUTH_ID}/Request/{REQ_UUID}/").as_str(),
        ))
        .respond_with(not_found())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CALL))
        .and(QueryIs(pairs(&[("status", "live")])))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"api_id": "a", "calls": ["cu-1"]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{CALL}cu-1/").as_str()))
        .and(query_param("status", "live"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "call_uuid": "cu-1", "request_uuid": REQ_UUID, "call_status": "in-progress"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{CALL}cu-1/").as_str()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).hangup(REQ_UUID).await.unwrap();
}

#[tokio::test]
async fn plivo_hangup_of_an_ended_call_is_ok() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "not found"})))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CALL))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"api_id": "a", "calls": []})))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).hangup(REQ_UUID).await.unwrap();
}

#[tokio::test]
async fn plivo_live_calls_list_then_details() {
    let server = MockServer::start().await;
    let auth = basic(AUTH_ID, TOKEN);
    Mock::given(method("GET"))
        .and(path(CALL))
        .and(header("authorization", auth.as_str()))
        .and(QueryIs(pairs(&[("status", "live")])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "api_id": "a", "calls": ["cu-1", "cu-gone"]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{CALL}cu-1/").as_str()))
        .and(header("authorization", auth.as_str()))
        .and(QueryIs(pairs(&[("status", "live")])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "api_id": "b",
            "call_status": "in-progress",
            "call_uuid": "cu-1",
            "caller_name": "+14155550199",
            "direction": "outbound",
            "from": "14155550199",
            "request_uuid": REQ_UUID,
            "session_start": "2017-05-22 13:17:49.050872",
            "to": "14155550100"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{CALL}cu-gone/").as_str()))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "call not found"})))
        .expect(1)
        .mount(&server)
        .await;
    let calls = client(&server).live_calls().await.unwrap();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c.provider_call_id, REQ_UUID);
    assert_eq!(c.raw["call_uuid"], "cu-1");
    assert_eq!(c.status, CallStatus::Answered);
    assert_eq!(c.direction, Direction::Outbound);
    assert_eq!(c.from.as_deref(), Some("14155550199"));
    assert_eq!(
        c.started_at.unwrap().to_rfc3339(),
        "2017-05-22T13:17:49.050872+00:00"
    );
    assert!(c.duration_secs.unwrap() > 0);
}

#[tokio::test]
async fn plivo_call_records_filters_and_total() {
    use chrono::TimeZone;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CALL))
        .and(header("authorization", basic(AUTH_ID, TOKEN).as_str()))
        .and(QueryIs(pairs(&[
            ("end_time__gte", "2026-05-01 00:00:00"),
            ("end_time__lte", "2026-05-01 23:59:59"),
            ("to_number", "14155550100"),
            ("from_number", "14155550199"),
            ("call_direction", "outbound"),
            ("limit", "20"),
            ("offset", "20"),
        ])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "api_id": "a",
            "meta": {"limit": 20, "next": null, "offset": 20, "previous": null, "total_count": 23},
            "objects": [
                {
                    "answer_time": "2015-07-26 15:45:02+05:30",
                    "bill_duration": 924,
                    "call_direction": "outbound",
                    "call_duration": 924,
                    "call_uuid": "cu-a",
                    "end_time": "2015-07-26 16:00:13+05:30",
                    "from_number": "14155550199",
                    "initiation_time": "2015-07-26 15:44:49+05:30",
                    "to_number": "14155550100",
                    "hangup_cause_name": "Normal Hangup",
                    "hangup_cause_code": 4000
                },
                {
                    "answer_time": null,
                    "bill_duration": 0,
                    "call_direction": "outbound",
                    "call_duration": 0,
                    "call_uuid": "cu-b",
                    "initiation_time": "2015-07-26 15:44:49+05:30",
                    "hangup_cause_name": "Canceled",
                    "hangup_cause_code": 1000
                },
                {
                    "answer_time": null,
                    "bill_duration": 0,
                    "call_direction": "inbound",
                    "call_uuid": "cu-c",
                    "hangup_cause_name": "Busy Line",
                    "hangup_cause_code": 3000
                }
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let q = RecordQuery {
        from: Some(chrono::Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap()),
        to: Some(
            chrono::Utc
                .with_ymd_and_hms(2026, 5, 1, 23, 59, 59)
                .unwrap(),
        ),
        page: 2,
        limit: 50,
        destination: Some("+14155550100".into()),
        caller_id: Some("+14155550199".into()),
        direction: Some(Direction::Outbound),
        agent_number: None,
    };
    let page = client(&server).call_records(&q).await.unwrap();
    assert_eq!(page.count, 23);
    assert_eq!(page.results.len(), 3);
    let a = &page.results[0];
    assert_eq!(a.provider_call_id, "cu-a");
    assert_eq!(a.status, CallStatus::Completed);
    assert_eq!(a.duration_secs, Some(924));
    assert_eq!(
        a.started_at.unwrap().to_rfc3339(),
        "2015-07-26T10:14:49+00:00"
    );
    assert_eq!(page.results[1].status, CallStatus::Canceled);
    assert_eq!(page.results[2].status, CallStatus::Busy);
    assert_eq!(page.results[2].direction, Direction::Inbound);
}

#[tokio::test]
async fn plivo_errors_map() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CALL))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "api_id": "a", "error": "invalid to number"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CALL))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": "authentication failed"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CALL))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CALL))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CALL))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"message": "call fired"})))
        .mount(&server)
        .await;
    let c = client(&server);
    let e = c.originate(&dial()).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected(ref m) if m.contains("invalid to number")),
        "{e:?}"
    );
    let e = c.originate(&dial()).await.unwrap_err();
    assert!(matches!(e, ProviderError::Auth(_)), "{e:?}");
    let e = c.originate(&dial()).await.unwrap_err();
    assert!(matches!(e, ProviderError::Network(_)), "{e:?}");
    // 429 is retried; the retry's answer lacks request_uuid.
    let e = c.originate(&dial()).await.unwrap_err();
    assert!(matches!(e, ProviderError::Protocol(_)), "{e:?}");
}

// ---- callbacks ------------------------------------------------------------------------------

#[test]
fn plivo_callbacks_parse() {
    let hangup = parse_callback(&pairs(&[
        ("CallUUID", "cu-1"),
        ("RequestUUID", REQ_UUID),
        ("CallStatus", "completed"),
        ("Event", "Hangup"),
        ("Duration", "42"),
        ("BillDuration", "60"),
        ("HangupCauseName", "Normal Hangup"),
        ("HangupCauseCode", "4000"),
        ("From", "14155550199"),
        ("To", "14155550100"),
        ("EndTime", "2026-05-01 10:00:42"),
    ]))
    .unwrap();
    assert_eq!(hangup.provider_call_id, REQ_UUID);
    assert_eq!(hangup.raw["CallUUID"], "cu-1");
    assert_eq!(hangup.status, CallStatus::Completed);
    assert_eq!(hangup.event, "Hangup");
    assert_eq!(hangup.duration_secs, Some(42));
    assert_eq!(hangup.hangup_cause.as_deref(), Some("Normal Hangup"));
    assert_eq!(hangup.at.to_rfc3339(), "2026-05-01T10:00:42+00:00");
    assert_eq!(hangup.to.as_deref(), Some("14155550100"));

    let timeout = parse_callback(&pairs(&[
        ("CallUUID", "cu-2"),
        ("CallStatus", "timeout"),
        ("HangupCauseName", "No Answer"),
    ]))
    .unwrap();
    assert_eq!(
        timeout.provider_call_id, "cu-2",
        "CallUUID when there is no RequestUUID"
    );
    assert_eq!(timeout.status, CallStatus::NoAnswer);
    assert_eq!(timeout.event, "timeout");

    let canceled = parse_callback(&pairs(&[
        ("CallUUID", "cu-3"),
        ("RequestUUID", "rq-3"),
        ("CallStatus", "completed"),
        ("HangupCauseCode", "1000"),
        ("HangupCauseName", "Canceled"),
    ]))
    .unwrap();
    assert_eq!(canceled.status, CallStatus::Canceled);

    let ringing = parse_callback(&pairs(&[
        ("CallUUID", "cu-4"),
        ("RequestUUID", "rq-4"),
        ("CallStatus", "ringing"),
        ("Event", "Ring"),
    ]))
    .unwrap();
    assert_eq!(ringing.status, CallStatus::Ringing);
    assert_eq!(ringing.event, "Ring");

    let answer = parse_callback(&go_params()).unwrap();
    assert_eq!(answer.status, CallStatus::Answered);
    assert_eq!(answer.event, "StartApp");

    assert!(parse_callback(&pairs(&[("CallStatus", "completed")])).is_err());
    assert!(parse_callback(&pairs(&[("CallUUID", "x")])).is_err());
}

// ---- XML ------------------------------------------------------------------------------------

#[test]
fn plivo_xml_for_agent_bot_and_none() {
    assert_eq!(
        xml_for(
            &Bridge::Agent {
                number: "+919876543210".into()
            },
            "+918069400000"
        ),
        r#"<Response><Dial callerId="918069400000"><Number>919876543210</Number></Dial></Response>"#
    );
    assert_eq!(
        xml_for(
            &Bridge::Bot {
                wss_url: "ws://bot.example.com/ws?x=1&y=2".into(),
                parameters: vec![
                    ("campaignId".into(), "123".into()),
                    ("clientId".into(), "9".into())
                ],
            },
            "+918069400000"
        ),
        r#"<Response><Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000" extraHeaders="campaignId=123,clientId=9">ws://bot.example.com/ws?x=1&amp;y=2</Stream></Response>"#
    );
    assert_eq!(
        xml_for(
            &Bridge::Bot {
                wss_url: "wss://bot.example.com/ws".into(),
                parameters: vec![],
            },
            "1"
        ),
        r#"<Response><Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000">wss://bot.example.com/ws</Stream></Response>"#
    );
    assert_eq!(
        xml_for(
            &Bridge::Bot {
                wss_url: "wss://b/ws".into(),
                parameters: vec![("a".into(), "<\"&\">".into())],
            },
            "1"
        ),
        r#"<Response><Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000" extraHeaders="a=&lt;&quot;&amp;&quot;&gt;">wss://b/ws</Stream></Response>"#
    );
    assert_eq!(
        xml_for(&Bridge::None, "1"),
        "<Response><Hangup/></Response>"
    );
}

#[test]
fn plivo_speaks_the_recording_notice_first() {
    let xml =
        r#"<Response><Record action="u"/><Dial callerId="1"><Number>2</Number></Dial></Response>"#;
    assert_eq!(
        plivo::speak_first(xml, Some("Calls are recorded & kept")),
        r#"<Response><Speak>Calls are recorded &amp; kept</Speak><Record action="u"/><Dial callerId="1"><Number>2</Number></Dial></Response>"#
    );
    assert_eq!(plivo::speak_first(xml, None), xml);
    assert_eq!(
        plivo::speak_first("<Response><Hangup/></Response>", Some("x")),
        "<Response><Hangup/></Response>"
    );
}

/// A recorded call's XML: a `<Record>` that posts to our URL and does not redirect, started
/// when the agent answers, or with the bot's stream. Its callback (`RecordUrl`, perhaps no
/// `CallStatus`) is a recording event.
#[test]
fn plivo_records_calls_and_reads_their_recordings() {
    let url = "https://sb.example.com/webhooks/plivo/hangup?call=7&x=1";
    let record = |start: &str| {
        format!(
            r#"<Record action="https://sb.example.com/webhooks/plivo/hangup?call=7&amp;x=1" method="POST" callbackUrl="https://sb.example.com/webhooks/plivo/hangup?call=7&amp;x=1" callbackMethod="POST" redirect="false" fileFormat="mp3" maxLength="14400" {start}="true"/>"#
        )
    };
    assert_eq!(
        plivo::xml_for_recorded(
            &Bridge::Agent {
                number: "+919876543210".into()
            },
            "+918069400000",
            Some(url)
        ),
        format!(
            r#"<Response>{}<Dial callerId="918069400000"><Number>919876543210</Number></Dial></Response>"#,
            record("startOnDialAnswer")
        )
    );
    assert_eq!(
        plivo::xml_for_recorded(
            &Bridge::Bot {
                wss_url: "wss://b/ws".into(),
                parameters: vec![],
            },
            "1",
            Some(url)
        ),
        format!(
            r#"<Response>{}<Stream bidirectional="true" keepCallAlive="true" contentType="audio/x-mulaw;rate=8000">wss://b/ws</Stream></Response>"#,
            record("recordSession")
        )
    );
    let rec = "https://media.plivo.com/v1/Account/MA/Recording/abc.mp3";
    let ev = parse_callback(&pairs(&[
        ("CallUUID", "c1"),
        ("RecordUrl", rec),
        ("RecordingID", "abc"),
        ("RecordingDuration", "42"),
    ]))
    .unwrap();
    assert_eq!(
        (ev.event.as_str(), ev.status, ev.recording_url.as_deref()),
        ("recording:abc", CallStatus::Initiated, Some(rec))
    );
}
