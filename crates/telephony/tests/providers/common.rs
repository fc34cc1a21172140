use switchboard_telephony::{Bridge, Dial};

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn dial() -> Dial {
    Dial {
        reference: "call-42".into(),
        to: "+14155550100".into(),
        from: "+14155550199".into(),
        answer_url: "https://sb.example.com/hooks/answer?ref=call-42".into(),
        status_url: "https://sb.example.com/hooks/status?ref=call-42".into(),
        ring_timeout_secs: 25,
        time_limit_secs: Some(600),
        bridge: Bridge::None,
        agent_id: None,
        machine_detection: false,
        voicemail: None,
        record: false,
    }
}

/// `Basic base64(user:pass)`.
pub fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// Matches a form-encoded body whose decoded pairs are exactly `expected`, in order (repeated
/// keys included), sent with the form content type.
pub struct FormIs(pub Vec<(String, String)>);

impl wiremock::Match for FormIs {
    fn matches(&self, req: &wiremock::Request) -> bool {
        let ct = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return false;
        }
        let got: Vec<(String, String)> = form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        got == self.0
    }
}

/// Matches a query string whose decoded pairs are exactly `expected`, in any order.
pub struct QueryIs(pub Vec<(String, String)>);

impl wiremock::Match for QueryIs {
    fn matches(&self, req: &wiremock::Request) -> bool {
        let mut got: Vec<(String, String)> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut want = self.0.clone();
        got.sort();
        want.sort();
        got == want
    }
}

/// Matches a JSON body equal to `expected`, sent as `application/json`.
pub struct JsonIs(pub serde_json::Value);

impl wiremock::Match for JsonIs {
    fn matches(&self, req: &wiremock::Request) -> bool {
        let ct = req
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ct.starts_with("application/json")
            && serde_json::from_slice::<serde_json::Value>(&req.body)
                .ok()
                .as_ref()
                == Some(&self.0)
    }
}
