use serde_json::json;
use switchboard_core::CallStatus;
use switchboard_telephony::twilio::{
    self, TwilioClient, parse_status_callback, twiml_for, verify_json_signature, verify_signature,
};
use switchboard_telephony::{Bridge, Direction, Provider, ProviderError, RecordQuery};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{FormIs, QueryIs, basic, dial, pairs};

const SID: &str = "AC123";
const TOKEN: &str = "tok-secret";
const CALLS: &str = "/2010-04-01/Accounts/AC123/Calls.json";
const CALL_SID: &str = "CA0123456789abcdef0123456789abcdef";

fn client(server: &MockServer) -> TwilioClient {
    TwilioClient::with_base_url(SID, TOKEN, server.uri())
}

fn call_json(sid: &str, status: &str) -> serde_json::Value {
    json!({
        "sid": sid,
        "account_sid": SID,
        "status": status,
        "direction": "outbound-api",
        "from": "+14155550199",
        "to": "+14155550100",
        "start_time": "Tue, 31 Aug 2010 20:36:28 +0000",
        "duration": "42",
    })
}

// ---- signatures (twilio-python's test_request_validator.py vectors) -------------------------

const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

fn sdk_params() -> Vec<(String, String)> {
    pairs(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ])
}

#[test]
fn twilio_signature_main_vector() {
    assert_eq!(
        twilio::compute_signature("12345", URL, &sdk_params()),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    );
    assert!(verify_signature(
        "12345",
        URL,
        &sdk_params(),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    ));
}

#[test]
fn twilio_signature_port_quirk() {
    let p = sdk_params();
    // Signed with :443; accepted from the URL with or without it.
    let with_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    assert_eq!(
        twilio::compute_signature("12345", with_443, &p),
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    );
    assert!(verify_signature(
        "12345",
        with_443,
        &p,
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    ));
    assert!(verify_signature(
        "12345",
        URL,
        &p,
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    ));
    // Signed without a port; accepted when our URL has :443.
    assert!(verify_signature(
        "12345",
        with_443,
        &p,
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    ));

    // http and :80.
    let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
    let with_80 = "http://mycompany.com:80/myapp.php?foo=1&bar=2";
    assert_eq!(
        twilio::compute_signature("12345", with_80, &p),
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    );
    assert!(verify_signature(
        "12345",
        http,
        &p,
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    ));
    assert!(verify_signature(
        "12345",
        with_80,
        &p,
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    ));

    // A non-default port is signed as is.
    let with_1234 = "http://mycompany.com:1234/myapp.php?foo=1&bar=2";
    assert_eq!(
        twilio::compute_signature("12345", with_1234, &p),
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    );
    assert!(verify_signature(
        "12345",
        with_1234,
        &p,
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    ));
    assert!(!verify_signature(
        "12345",
        http,
        &p,
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
    ));
}

#[test]
fn twilio_signature_repeated_keys() {
    let p = pairs(&[
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        ("Digits", "5678"),
        ("Digits", "1234"),
        ("Digits", "1234"),
    ]);
    assert_eq!(
        twilio::compute_signature("12345", URL, &p),
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    );
    assert!(verify_signature(
        "12345",
        URL,
        &p,
        "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    ));
}

#[test]
fn twilio_signature_json_body() {
    let body = br#"{"property": "value", "boolean": true}"#;
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    assert!(verify_json_signature(
        "12345",
        url,
        body,
        "a9nBmqA0ju/hNViExpshrM61xv4="
    ));
    // A different body no longer matches the hash in the URL.
    assert!(!verify_json_signature(
        "12345",
        url,
        br#"{"property": "other", "boolean": true}"#,
        "a9nBmqA0ju/hNViExpshrM61xv4="
    ));
    // No bodySHA256 in the URL.
    assert!(!verify_json_signature(
        "12345",
        URL,
        body,
        "a9nBmqA0ju/hNViExpshrM61xv4="
    ));
}

#[test]
fn twilio_signature_extra_vector_and_negatives() {
    let p = pairs(&[
        ("AccountSid", "AC123"),
        ("CallSid", "CA123"),
        ("CallStatus", "completed"),
    ]);
    let url = "https://example.com/twilio/status";
    assert!(verify_signature(
        "secret",
        url,
        &p,
        "aAO7tkYqFkShqdyxiEBqUr9eLtU="
    ));
    // One changed parameter.
    let changed = pairs(&[
        ("AccountSid", "AC123"),
        ("CallSid", "CA123"),
        ("CallStatus", "busy"),
    ]);
    assert!(!verify_signature(
        "secret",
        url,
        &changed,
        "aAO7tkYqFkShqdyxiEBqUr9eLtU="
    ));
    // Wrong token.
    assert!(!verify_signature(
        "secreT",
        url,
        &p,
        "aAO7tkYqFkShqdyxiEBqUr9eLtU="
    ));
    // Empty header.
    assert!(!verify_signature("secret", url, &p, ""));
    // Main vector with one changed param.
    let mut sdk = sdk_params();
    sdk[2].1 = "1235".into();
    assert!(!verify_signature(
        "12345",
        URL,
        &sdk,
        "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    ));
}

// ---- REST against a mock server -------------------------------------------------------------

/// `d` placed, with exactly the form `expected`.
async fn originates_with(d: &switchboard_telephony::Dial, expected: Vec<(String, String)>) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CALLS))
        .and(FormIs(expected))
        .respond_with(ResponseTemplate::new(201).set_body_json(call_json(CALL_SID, "queued")))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).originate(d).await.unwrap();
}

/// The form every call is placed with (for `dial()`), then `extra`.
fn originate_form(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form = pairs(&[
        ("To", "+14155550100"),
        ("From", "+14155550199"),
        ("Url", "https://sb.example.com/hooks/answer?ref=call-42"),
        ("Method", "POST"),
        (
            "StatusCallback",
            "https://sb.example.com/hooks/status?ref=call-42",
        ),
        ("StatusCallbackMethod", "POST"),
        ("StatusCallbackEvent", "initiated"),
        ("StatusCallbackEvent", "ringing"),
        ("StatusCallbackEvent", "answered"),
        ("StatusCallbackEvent", "completed"),
        ("Timeout", "25"),
    ]);
    form.extend(pairs(extra));
    form
}

#[tokio::test]
async fn twilio_originate_sends_the_form() {
    let server = MockServer::start().await;
    let expected = originate_form(&[("TimeLimit", "600")]);
    Mock::given(method("POST"))
        .and(path(CALLS))
        .and(header("authorization", basic(SID, TOKEN).as_str()))
        .and(header("accept", "application/json"))
        .and(FormIs(expected))
        .respond_with(ResponseTemplate::new(201).set_body_json(call_json(CALL_SID, "queued")))
        .expect(1)
        .mount(&server)
        .await;
    let placed = client(&server).originate(&dial()).await.unwrap();
    assert_eq!(placed.provider_call_id, CALL_SID);
    assert_eq!(placed.status, CallStatus::Initiated);
}

#[tokio::test]
async fn twilio_originate_without_time_limit_omits_it() {
    let mut d = dial();
    d.time_limit_secs = None;
    originates_with(&d, originate_form(&[])).await;
}

/// Machine detection asked for: `MachineDetection=Enable` (synchronous: the voice URL is
/// fetched with `AnsweredBy`).
#[tokio::test]
async fn twilio_originate_asks_for_machine_detection() {
    let mut d = dial();
    d.time_limit_secs = None;
    d.machine_detection = true;
    originates_with(&d, originate_form(&[("MachineDetection", "Enable")])).await;
    // The verdict, read from a callback.
    let ev = switchboard_telephony::twilio::parse_status_callback(&pairs(&[
        ("CallSid", CALL_SID),
        ("CallStatus", "in-progress"),
        ("AnsweredBy", "machine_end_beep"),
    ]))
    .unwrap();
    assert_eq!(ev.answered_by.as_deref(), Some("machine_end_beep"));
}

/// A recorded call: `Record=true`, the recording's status posted to the status URL once
/// completed; that callback (no `CallStatus`) is a recording event, its URL kept only when the
/// recording completed.
#[tokio::test]
async fn twilio_records_calls_and_reads_their_recordings() {
    let mut d = dial();
    d.time_limit_secs = None;
    d.record = true;
    originates_with(
        &d,
        originate_form(&[
            ("Record", "true"),
            (
                "RecordingStatusCallback",
                "https://sb.example.com/hooks/status?ref=call-42",
            ),
            ("RecordingStatusCallbackMethod", "POST"),
            ("RecordingStatusCallbackEvent", "completed"),
        ]),
    )
    .await;
    let url = "https://api.twilio.com/2010-04-01/Accounts/AC123/Recordings/RE0123";
    let ev = switchboard_telephony::twilio::parse_status_callback(&pairs(&[
        ("AccountSid", SID),
        ("CallSid", CALL_SID),
        ("RecordingSid", "RE0123"),
        ("RecordingUrl", url),
        ("RecordingStatus", "completed"),
        ("RecordingDuration", "42"),
    ]))
    .unwrap();
    assert_eq!(
        (ev.event.as_str(), ev.status, ev.recording_url.as_deref()),
        ("recording:RE0123", CallStatus::Initiated, Some(url))
    );
    let failed = switchboard_telephony::twilio::parse_status_callback(&pairs(&[
        ("CallSid", CALL_SID),
        ("RecordingSid", "RE0124"),
        ("RecordingUrl", url),
        ("RecordingStatus", "failed"),
    ]))
    .unwrap();
    assert_eq!(failed.recording_url, None);
}

#[test]
fn twilio_says_the_recording_notice_first() {
    let dial =
        r#"<Response><Dial callerId="+1" timeout="30"><Number>+2</Number></Dial></Response>"#;
    assert_eq!(
        switchboard_telephony::twilio::say_first(dial, Some(" Calls are <recorded> ")),
        r#"<Response><Say>Calls are &lt;recorded&gt;</Say><Dial callerId="+1" timeout="30"><Number>+2</Number></Dial></Response>"#
    );
    for notice in [None, Some(""), Some("  ")] {
        assert_eq!(switchboard_telephony::twilio::say_first(dial, notice), dial);
    }
    let hangup = "<Response><Hangup/></Response>";
    assert_eq!(
        switchboard_telephony::twilio::say_first(hangup, Some("Recorded")),
        hangup
    );
}

/// With a message to leave, Twilio is asked to wait for the greeting's end; the TwiML then
/// says the message (escaped) and hangs up.
#[tokio::test]
async fn twilio_waits_for_the_greeting_to_leave_a_message() {
    let mut d = dial();
    d.time_limit_secs = None;
    d.machine_detection = true;
    d.voicemail = Some("Call us back".into());
    originates_with(
        &d,
        originate_form(&[("MachineDetection", "DetectMessageEnd")]),
    )
    .await;
    use switchboard_telephony::twilio::twiml_for_machine;
    assert_eq!(
        twiml_for_machine(Some("Tom & Jerry <3")),
        "<Response><Say>Tom &amp; Jerry &lt;3</Say><Hangup/></Response>"
    );
    assert_eq!(
        twiml_for_machine(Some("  ")),
        "<Response><Hangup/></Response>"
    );
    assert_eq!(twiml_for_machine(None), "<Response><Hangup/></Response>");
}

#[tokio::test]
async fn twilio_hangup_completes_then_cancels_a_ringing_call() {
    let server = MockServer::start().await;
    let call_path = format!("/2010-04-01/Accounts/AC123/Calls/{CALL_SID}.json");
    Mock::given(method("POST"))
        .and(path(call_path.as_str()))
        .and(header("authorization", basic(SID, TOKEN).as_str()))
        .and(FormIs(pairs(&[("Status", "completed")])))
        .respond_with(ResponseTemplate::new(200).set_body_json(call_json(CALL_SID, "ringing")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(call_path.as_str()))
        .and(FormIs(pairs(&[("Status", "canceled")])))
        .respond_with(ResponseTemplate::new(200).set_body_json(call_json(CALL_SID, "canceled")))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).hangup(CALL_SID).await.unwrap();
}

#[tokio::test]
async fn twilio_hangup_of_an_in_progress_call_sends_completed_only() {
    let server = MockServer::start().await;
    let call_path = format!("/2010-04-01/Accounts/AC123/Calls/{CALL_SID}.json");
    Mock::given(method("POST"))
        .and(path(call_path.as_str()))
        .and(FormIs(pairs(&[("Status", "completed")])))
        .respond_with(ResponseTemplate::new(200).set_body_json(call_json(CALL_SID, "completed")))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).hangup(CALL_SID).await.unwrap();
}

#[tokio::test]
async fn twilio_hangup_of_an_ended_call_is_ok() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            format!("/2010-04-01/Accounts/AC123/Calls/{CALL_SID}.json").as_str(),
        ))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "code": 20404,
            "message": "The requested resource was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404",
            "status": 404
        })))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).hangup(CALL_SID).await.unwrap();
}

#[tokio::test]
async fn twilio_live_calls_follow_pages_over_three_statuses() {
    let server = MockServer::start().await;
    let auth = basic(SID, TOKEN);
    let page = |calls: Vec<serde_json::Value>, next: Option<&str>| json!({"calls": calls, "next_page_uri": next, "page": 0, "page_size": 50});
    Mock::given(method("GET"))
        .and(path(CALLS))
        .and(header("authorization", auth.as_str()))
        .and(query_param("Status", "in-progress"))
        .and(query_param_is_missing("Page"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            vec![call_json("CA1", "in-progress")],
            Some("/2010-04-01/Accounts/AC123/Calls.json?Status=in-progress&PageSize=50&Page=1&PageToken=PA1"),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CALLS))
        .and(header("authorization", auth.as_str()))
        .and(QueryIs(pairs(&[
            ("Status", "in-progress"),
            ("PageSize", "50"),
            ("Page", "1"),
            ("PageToken", "PA1"),
        ])))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page(vec![call_json("CA2", "in-progress")], None)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CALLS))
        .and(QueryIs(pairs(&[("Status", "ringing")])))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(page(vec![call_json("CA3", "ringing")], None)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CALLS))
        .and(QueryIs(pairs(&[("Status", "queued")])))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![], None)))
        .expect(1)
        .mount(&server)
        .await;
    let calls = client(&server).live_calls().await.unwrap();
    let ids: Vec<_> = calls.iter().map(|c| c.provider_call_id.as_str()).collect();
    assert_eq!(ids, ["CA1", "CA2", "CA3"]);
    assert_eq!(calls[0].status, CallStatus::Answered);
    assert_eq!(calls[2].status, CallStatus::Ringing);
    assert_eq!(calls[0].direction, Direction::Outbound);
    assert_eq!(calls[0].to.as_deref(), Some("+14155550100"));
    assert_eq!(calls[0].duration_secs, Some(42));
    assert_eq!(
        calls[0].started_at.unwrap().to_rfc3339(),
        "2010-08-31T20:36:28+00:00"
    );
    assert_eq!(calls[0].raw["sid"], "CA1");
}

#[tokio::test]
async fn twilio_call_records_filter_and_page() {
    use chrono::TimeZone;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CALLS))
        .and(header("authorization", basic(SID, TOKEN).as_str()))
        .and(QueryIs(pairs(&[
            ("StartTime>", "2026-05-01"),
            ("StartTime<", "2026-05-02"),
            ("To", "+14155550100"),
            ("From", "+14155550199"),
            ("PageSize", "2"),
        ])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "calls": [call_json("CA1", "completed"), call_json("CA2", "no-answer")],
            "next_page_uri": "/2010-04-01/Accounts/AC123/Calls.json?PageSize=2&Page=1&PageToken=PA1",
        })))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CALLS))
        .and(QueryIs(pairs(&[
            ("PageSize", "2"),
            ("Page", "1"),
            ("PageToken", "PA1"),
        ])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "calls": [call_json("CA3", "busy")],
            "next_page_uri": null,
        })))
        .expect(1)
        .mount(&server)
        .await;
    let mut q = RecordQuery {
        from: Some(chrono::Utc.with_ymd_and_hms(2026, 5, 1, 8, 0, 0).unwrap()),
        to: Some(chrono::Utc.with_ymd_and_hms(2026, 5, 2, 8, 0, 0).unwrap()),
        page: 1,
        limit: 2,
        destination: Some("+14155550100".into()),
        caller_id: Some("+14155550199".into()),
        ..Default::default()
    };
    let first = client(&server).call_records(&q).await.unwrap();
    assert_eq!(first.results.len(), 2);
    assert_eq!(first.results[0].status, CallStatus::Completed);
    assert_eq!(first.results[1].status, CallStatus::NoAnswer);
    assert_eq!(first.count, 3, "two seen plus one for the next page");
    q.page = 2;
    let second = client(&server).call_records(&q).await.unwrap();
    assert_eq!(second.results.len(), 1);
    assert_eq!(second.results[0].status, CallStatus::Busy);
    assert_eq!(second.count, 3);
}

// ---- errors and retries ---------------------------------------------------------------------

#[tokio::test]
async fn twilio_retries_a_429_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CALLS))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"code": 20429, "message": "Too Many Requests"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CALLS))
        .respond_with(ResponseTemplate::new(201).set_body_json(call_json(CALL_SID, "queued")))
        .expect(1)
        .mount(&server)
        .await;
    let placed = client(&server).originate(&dial()).await.unwrap();
    assert_eq!(placed.provider_call_id, CALL_SID);
}

#[tokio::test]
async fn twilio_gives_up_after_three_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CALLS))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"code": 20429, "message": "Too Many Requests"})),
        )
        .expect(4)
        .mount(&server)
        .await;
    let err = client(&server).originate(&dial()).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::RateLimited(ref m) if m.contains("Too Many Requests")),
        "{err:?}"
    );
}

#[tokio::test]
async fn twilio_error_statuses_map_to_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CALLS))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": 20003, "message": "Authenticate", "status": 401
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CALLS))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21211, "message": "Invalid 'To' Phone Number", "status": 400
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CALLS))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(CALLS))
        .respond_with(ResponseTemplate::new(201).set_body_string("not json"))
        .mount(&server)
        .await;
    let c = client(&server);
    let e = c.originate(&dial()).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Auth(ref m) if m.contains("Authenticate")),
        "{e:?}"
    );
    assert!(!e.to_string().contains(TOKEN), "no secret in errors");
    let e = c.originate(&dial()).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Rejected(ref m) if m.contains("Invalid 'To' Phone Number") && m.contains("21211")),
        "{e:?}"
    );
    let e = c.originate(&dial()).await.unwrap_err();
    assert!(matches!(e, ProviderError::Network(_)), "{e:?}");
    let e = c.originate(&dial()).await.unwrap_err();
    assert!(matches!(e, ProviderError::Protocol(_)), "{e:?}");
}

#[tokio::test]
async fn twilio_unreachable_host_is_a_network_error() {
    // A port nothing listens on: bind, note it, drop.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = TwilioClient::with_base_url(SID, TOKEN, format!("http://127.0.0.1:{port}"));
    let e = c.originate(&dial()).await.unwrap_err();
    assert!(matches!(e, ProviderError::Network(_)), "{e:?}");
}

// ---- callbacks ------------------------------------------------------------------------------

#[test]
fn twilio_status_callback_parses() {
    let p = pairs(&[
        ("AccountSid", "AC123"),
        ("CallSid", CALL_SID),
        ("CallStatus", "completed"),
        ("CallDuration", "37"),
        ("Timestamp", "Tue, 31 Aug 2010 20:36:28 +0000"),
        ("SequenceNumber", "3"),
        ("SipResponseCode", "200"),
        ("RecordingUrl", "https://api.twilio.com/rec/RE1"),
        ("AnsweredBy", "human"),
        ("From", "+14155550199"),
        ("To", "+14155550100"),
        ("CallbackSource", "call-progress-events"),
    ]);
    let e = parse_status_callback(&p).unwrap();
    assert_eq!(e.provider_call_id, CALL_SID);
    assert_eq!(e.event, "completed");
    assert_eq!(e.status, CallStatus::Completed);
    assert_eq!(e.at.to_rfc3339(), "2010-08-31T20:36:28+00:00");
    assert_eq!(e.duration_secs, Some(37));
    assert_eq!(e.hangup_cause.as_deref(), Some("SIP 200"));
    assert_eq!(
        e.recording_url.as_deref(),
        Some("https://api.twilio.com/rec/RE1")
    );
    assert_eq!(e.answered_by.as_deref(), Some("human"));
    assert_eq!(e.from.as_deref(), Some("+14155550199"));
    assert_eq!(e.to.as_deref(), Some("+14155550100"));
    assert_eq!(e.reference, None);
    assert_eq!(e.raw["SequenceNumber"], "3");
    assert_eq!(e.raw["CallSid"], CALL_SID);

    let failed = parse_status_callback(&pairs(&[
        ("CallSid", CALL_SID),
        ("CallStatus", "failed"),
        ("ErrorCode", "13224"),
    ]))
    .unwrap();
    assert_eq!(failed.status, CallStatus::Failed);
    assert_eq!(failed.hangup_cause.as_deref(), Some("error 13224"));

    let ringing =
        parse_status_callback(&pairs(&[("CallSid", CALL_SID), ("CallStatus", "ringing")])).unwrap();
    assert_eq!(ringing.status, CallStatus::Ringing);
    assert_eq!(ringing.event, "ringing");
    let answered = parse_status_callback(&pairs(&[
        ("CallSid", CALL_SID),
        ("CallStatus", "in-progress"),
    ]))
    .unwrap();
    assert_eq!(answered.status, CallStatus::Answered);

    assert!(parse_status_callback(&pairs(&[("CallStatus", "ringing")])).is_err());
    assert!(parse_status_callback(&pairs(&[("CallSid", CALL_SID)])).is_err());
    assert!(
        parse_status_callback(&pairs(&[("CallSid", CALL_SID), ("CallStatus", "bogus")])).is_err()
    );
}

// ---- TwiML ----------------------------------------------------------------------------------

#[test]
fn twiml_for_agent_bot_and_none() {
    assert_eq!(
        twiml_for(
            &Bridge::Agent {
                number: "+14155550123".into()
            },
            "+14155550199"
        )
        .unwrap(),
        r#"<Response><Dial callerId="+14155550199" timeout="30"><Number>+14155550123</Number></Dial></Response>"#
    );
    assert_eq!(
        twiml_for(
            &Bridge::Bot {
                wss_url: "wss://bot.example.com/ws?a=1&b=2".into(),
                parameters: vec![
                    ("campaignId".into(), "7".into()),
                    ("note".into(), r#"Tom & "Jerry" <x> 'y'"#.into()),
                ],
            },
            "+14155550199"
        )
        .unwrap(),
        r#"<Response><Connect><Stream url="wss://bot.example.com/ws?a=1&amp;b=2"><Parameter name="campaignId" value="7"/><Parameter name="note" value="Tom &amp; &quot;Jerry&quot; &lt;x&gt; &apos;y&apos;"/></Stream></Connect></Response>"#
    );
    assert_eq!(
        twiml_for(&Bridge::None, "+1").unwrap(),
        "<Response><Hangup/></Response>"
    );
    assert_eq!(
        twiml_for(
            &Bridge::Agent {
                number: "<1&2>".into()
            },
            "\"x\""
        )
        .unwrap(),
        r#"<Response><Dial callerId="&quot;x&quot;" timeout="30"><Number>&lt;1&amp;2&gt;</Number></Dial></Response>"#
    );
}

#[test]
fn twiml_rejects_insecure_websockets() {
    let err = twiml_for(
        &Bridge::Bot {
            wss_url: "ws://bot.example.com/ws".into(),
            parameters: vec![],
        },
        "+1",
    )
    .unwrap_err();
    assert!(err.contains("wss://"), "{err}");
}
