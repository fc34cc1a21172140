//! Provider clients against mock servers, webhook signatures against the SDKs' vectors, and
//! call-control XML. One test binary, so the dependencies link once.

mod common;
mod plivo;
mod smartflo;
mod twilio;
