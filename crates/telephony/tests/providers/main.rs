//! Provider clients against mock servers, webhook signatures against the SDKs' vectors, and
//! call-control XML. One test binary, so the dependencies link once.

mod common;
mod plivo;
mod smartflo;
mod twilio;

/// The TLS stack (rustls with ring) comes up for the real hosts.
#[test]
fn clients_build_for_https_hosts() {
    use switchboard_telephony::{
        PlivoClient, Provider, ProviderKind, SmartfloClient, TwilioClient,
    };
    let t = TwilioClient::new("AC1", "secret-token");
    assert_eq!(t.base_url, "https://api.twilio.com");
    assert_eq!(t.kind(), ProviderKind::Twilio);
    assert!(!format!("{t:?}").contains("secret-token"));
    let p = PlivoClient::new("MA1", "secret-token");
    assert_eq!(p.base_url, "https://api.plivo.com");
    assert!(!format!("{p:?}").contains("secret-token"));
    let s = SmartfloClient::new("secret-token");
    assert_eq!(s.base_url, "https://api-smartflo.tatateleservices.com");
    assert!(!format!("{s:?}").contains("secret-token"));
}
