//! API tests: every test runs on SQLite and on PostgreSQL.

mod conformance;
mod harness;

mod audit;
mod auth;
mod batches;
mod bot;
mod calls;
mod campaigns;
mod cli;
mod connections;
mod dashboard;
mod dialer;
mod docs_page;
mod documented;
mod files;
mod history;
mod instances;
mod leads;
mod metrics;
mod monitoring;
mod nul;
mod outbound;
mod panels;
mod queue;
mod realtime;
mod reports;
mod sweep;
mod users;
