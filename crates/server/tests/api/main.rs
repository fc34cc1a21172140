//! API tests: every test runs on SQLite and on PostgreSQL.

mod harness;

mod auth;
mod bot;
mod calls;
mod cli;
mod dialer;
mod files;
mod leads;
mod users;
