//! The test app: a real router over a real database (a SQLite file, or a PostgreSQL schema of
//! its own), driven without a socket.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use switchboard_server::config::RateLimits;
use switchboard_server::{AppState, Config};
use switchboard_store::testing::{TestBackend, TestDb};
use tower::ServiceExt;

pub const ADMIN_PASSWORD: &str = "admin-password-1";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub state: AppState,
    router: axum::Router,
    /// The database, dropped with the app (`None` for another instance on the same one).
    _db: Option<TestDb>,
}

/// A fresh, migrated database of `backend` (`None` when that backend is not available).
pub async fn fresh_db(backend: Backend) -> Option<TestDb> {
    switchboard_store::testing::fresh_db(match backend {
        Backend::Sqlite => TestBackend::Sqlite,
        Backend::Postgres => TestBackend::Postgres,
    })
    .await
}

pub fn test_config() -> Config {
    Config {
        admin_password: Some(switchboard_server::config::Secret(ADMIN_PASSWORD.into())),
        admin_email: Some("admin@example.com".into()),
        rate_limits: RateLimits {
            enabled: false,
            ..RateLimits::default()
        },
        ..Config::default()
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> Option<Self> {
        Self::with_config(backend, test_config()).await
    }

    pub async fn with_config(backend: Backend, config: Config) -> Option<Self> {
        let keep = fresh_db(backend).await?;
        let state = switchboard_server::prepare_with_db(keep.db.clone(), config)
            .await
            .expect("prepare");
        let router = switchboard_server::routes::router(state.clone());
        Some(Self {
            state,
            router,
            _db: Some(keep),
        })
    }

    /// Another instance on this app's database, with its configuration (as several instances
    /// share a PostgreSQL database, or as this one restarted on its SQLite file); it must not
    /// outlive this app.
    pub async fn another_instance(&self) -> Self {
        let config = (*self.state.config).clone();
        let state = switchboard_server::prepare_with_db(self.state.db.clone(), config)
            .await
            .expect("another instance");
        let router = switchboard_server::routes::router(state.clone());
        Self {
            state,
            router,
            _db: None,
        }
    }

    /// Serve the app on a real socket: its address, the sender that stops it, and the
    /// server's task.
    pub async fn serve(
        &self,
    ) -> (
        std::net::SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(switchboard_server::serve(
            self.state.clone(),
            listener,
            async move {
                let _ = stopped.await;
            },
        ));
        (addr, stop, server)
    }

    /// The app's router, to serve on a real socket.
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Send `req` and check the answer, and a request answered with success, against the
    /// OpenAPI document (see `conformance`).
    pub async fn raw(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let (parts, body) = req.into_parts();
        let sent = body.collect().await.expect("request body").to_bytes();
        let (method, path) = (parts.method.clone(), parts.uri.path().to_string());
        let query = parts.uri.query().map(str::to_string);
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let req = Request::from_parts(parts, Body::from(sent.clone()));
        let (status, headers, body) = self.unchecked(req).await;
        crate::conformance::check(&method, &path, status, &headers, &body);
        crate::conformance::check_request(
            &method,
            &path,
            status,
            &crate::conformance::Sent {
                query: query.as_deref(),
                content_type: content_type.as_deref(),
                body: &sent,
            },
        );
        (status, headers, body)
    }

    /// Send `req` without holding the answer to the document: for requests the document cannot
    /// describe (a body cut short on purpose).
    pub async fn unchecked(
        &self,
        req: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        let (status, _, bytes) = self.raw(req).await;
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }
    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Send raw bytes with a content type (malformed bodies, multipart uploads).
    pub async fn send_bytes(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, content_type);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let (status, _, bytes) = self.raw(b.body(Body::from(body)).expect("request")).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn login(&self, login: &str, password: &str) -> String {
        let (s, v) = self
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(serde_json::json!({"email": login, "password": password})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "login {login}: {v}");
        v["token"].as_str().expect("token").to_string()
    }

    pub async fn admin(&self) -> String {
        self.login("admin@example.com", ADMIN_PASSWORD).await
    }

    /// Create a user through the API and sign in as them.
    pub async fn user(
        &self,
        by: &str,
        username: &str,
        role: &str,
        client_id: Option<i64>,
    ) -> (i64, String) {
        let mut body = serde_json::json!({"username": username, "email": format!("{username}@example.com"), "password": "password-123", "role": role});
        if let Some(c) = client_id {
            body["client_id"] = c.into();
        }
        let (s, v) = self.post("/api/users", by, body).await;
        assert_eq!(s, StatusCode::CREATED, "create user: {v}");
        (
            v["user"]["id"].as_i64().unwrap(),
            self.login(username, "password-123").await,
        )
    }

    /// A new client named `client`, made by the super admin `by`, and a user of it signed in:
    /// someone who must see none of the first client's rows.
    pub async fn in_another_client(
        &self,
        by: &str,
        client: &str,
        username: &str,
        role: &str,
    ) -> String {
        let (s, c) = self
            .post("/api/clients", by, serde_json::json!({"name": client}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "create client: {c}");
        self.user(by, username, role, c["client"]["id"].as_i64())
            .await
            .1
    }

    pub async fn lead(&self, token: &str, phone: &str) -> i64 {
        let (s, v) = self
            .post("/api/leads", token, serde_json::json!({"phone": phone}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "create lead: {v}");
        v["lead"]["id"].as_i64().unwrap()
    }
}

/// A multipart/form-data body with one file field and optional text fields.
pub fn multipart(
    file_field: &str,
    filename: &str,
    content: &[u8],
    fields: &[(&str, &str)],
) -> (String, Vec<u8>) {
    let boundary = "XswitchboardBoundaryX";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Run an async test body against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::harness::{Backend, TestApp};
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = TestApp::new(Backend::Sqlite).await { super::$name(app).await }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = TestApp::new(Backend::Postgres).await { super::$name(app).await }
            }
        }
    )*};
}

/// Like [`both!`], each test with a config of its own: `name => cfg` runs `name` on an app built
/// from `cfg()`.
#[macro_export]
macro_rules! both_configured {
    ($($name:ident => $cfg:ident),* $(,)?) => {$(
        mod $name {
            use $crate::harness::{Backend, TestApp};
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = TestApp::with_config(Backend::Sqlite, super::$cfg()).await {
                    super::$name(app).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = TestApp::with_config(Backend::Postgres, super::$cfg()).await {
                    super::$name(app).await
                }
            }
        }
    )*};
}

/// Chromium for the browser tests: `SWITCHBOARD_TEST_CHROMIUM` or `chromium` on the `PATH`.
/// Without it `test` prints `SKIPPED: …` and passes, unless `SWITCHBOARD_TEST_REQUIRE_BROWSER=1`
/// (CI), which makes it fail.
pub fn chromium(test: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("SWITCHBOARD_TEST_CHROMIUM")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|dir| dir.join("chromium"))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        if std::env::var("SWITCHBOARD_TEST_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!(
                "SWITCHBOARD_TEST_REQUIRE_BROWSER=1 but no Chromium: set SWITCHBOARD_TEST_CHROMIUM or install chromium"
            );
        }
        println!(
            "SKIPPED: {test} needs Chromium (SWITCHBOARD_TEST_CHROMIUM or chromium on the PATH)"
        );
    }
    found
}

/// The directory of the JavaScript the tests drive (`crates/server/tests/js`), when Node.js is
/// there and `package` is installed. Without them `test` prints `SKIPPED: …` and passes, unless
/// `SWITCHBOARD_TEST_REQUIRE_NODE=1` (CI), which makes it fail.
pub fn js_package(package: &str, test: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    let ready = dir.join("node_modules").join(package).is_dir()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if ready {
        return Some(dir);
    }
    if std::env::var("SWITCHBOARD_TEST_REQUIRE_NODE").as_deref() == Ok("1") {
        panic!(
            "SWITCHBOARD_TEST_REQUIRE_NODE=1 but no {package}: run `npm ci` in crates/server/tests/js"
        );
    }
    println!("SKIPPED: {test} needs Node.js and `npm ci` in crates/server/tests/js");
    None
}
