//! The HTTP surfaces, one module per resource.

pub mod audit;
pub mod auth;
pub mod batches;
pub mod bot;
pub mod campaign_settings;
pub mod campaigns;
pub mod dialer;
pub mod dnc_file;
pub mod export;
pub mod files;
pub mod health;
pub mod history;
pub mod keys;
pub mod leads;
pub mod monitoring;
pub mod operator;
pub mod outbound_webhooks;
pub mod panels;
pub mod queue;
pub mod smartflo;
pub mod stream;
pub mod users;
pub mod views;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::ratelimit;
use crate::state::AppState;

/// JSON bodies larger than this are refused with 413.
const JSON_LIMIT: usize = 1024 * 1024;

/// The route groups, each registered from the handlers' `#[utoipa::path]` annotations so the
/// OpenAPI document is collected from the very routes served. Each group gets its own layers.
struct Groups {
    login: OpenApiRouter<AppState>,
    upload: OpenApiRouter<AppState>,
    api: OpenApiRouter<AppState>,
    public: OpenApiRouter<AppState>,
    /// Seed 003's health checks: public, their own generous rate limit, its error shape.
    health: OpenApiRouter<AppState>,
    /// Seed 000 (click-to-call) and seed 004 (bot log): `{"success": false, …}` errors.
    success_shaped: OpenApiRouter<AppState>,
    /// Seed 003 (campaigns, `/plivo/*`): `{"success": false, …, "code", "timestamp"}` errors.
    seed003: OpenApiRouter<AppState>,
    /// Seed 000's 2-second polling.
    poll: OpenApiRouter<AppState>,
    /// Provider webhooks: authenticated by signature or secret, not rate limited per address.
    webhooks: OpenApiRouter<AppState>,
}

impl Groups {
    fn new() -> Self {
        let login = OpenApiRouter::default()
            .routes(routes!(auth::login))
            .routes(routes!(auth::change_password));

        let upload = OpenApiRouter::default()
            .routes(routes!(files::upload_csv))
            .routes(routes!(dialer::upload_dnc));

        let api = OpenApiRouter::default()
            .routes(routes!(auth::me))
            .routes(routes!(auth::logout))
            .routes(routes!(stream::events))
            .routes(routes!(stream::presence))
            .routes(routes!(users::list, users::create))
            .routes(routes!(users::get, users::update, users::delete))
            .routes(routes!(users::roster))
            .routes(routes!(audit::list))
            .routes(routes!(users::list_clients, users::create_client))
            .routes(routes!(keys::list, keys::create))
            .routes(routes!(keys::revoke))
            .routes(routes!(outbound_webhooks::list, outbound_webhooks::create))
            .routes(routes!(
                outbound_webhooks::update,
                outbound_webhooks::delete
            ))
            .routes(routes!(outbound_webhooks::rotate_secret))
            .routes(routes!(outbound_webhooks::retry_delivery))
            .routes(routes!(outbound_webhooks::deliveries))
            .routes(routes!(outbound_webhooks::ping))
            .routes(routes!(leads::list_lists, leads::create_list))
            .routes(routes!(
                leads::get_list,
                leads::update_list,
                leads::delete_list
            ))
            .routes(routes!(leads::list_leads, leads::create_lead))
            .routes(routes!(
                leads::get_lead,
                leads::update_lead,
                leads::delete_lead
            ))
            .routes(routes!(history::lead_calls))
            .routes(routes!(leads::bulk_action))
            .routes(routes!(files::export))
            .routes(routes!(operator::available))
            .routes(routes!(operator::claim))
            .routes(routes!(operator::start_call))
            .routes(routes!(operator::update_call))
            .routes(routes!(operator::history))
            .routes(routes!(operator::availability))
            .routes(routes!(dialer::get_schedule, dialer::put_schedule))
            .routes(routes!(dialer::list_dnc, dialer::add_dnc))
            .routes(routes!(dialer::remove_dnc))
            .routes(routes!(batches::next_batch))
            .routes(routes!(batches::report_result))
            .routes(routes!(batches::get_rules, batches::put_rules))
            .routes(routes!(batches::explain))
            .routes(routes!(queue::control))
            .routes(routes!(queue::system_status))
            .routes(routes!(panels::admin_dashboard))
            .routes(routes!(panels::admin_performance))
            .routes(routes!(panels::operator_dashboard))
            .routes(routes!(panels::operator_performance));

        let success_shaped = OpenApiRouter::default()
            .routes(routes!(smartflo::call_lead))
            .routes(routes!(smartflo::hangup))
            .routes(routes!(smartflo::live_calls))
            .routes(routes!(smartflo::call_records))
            .routes(routes!(bot::list, bot::create))
            .routes(routes!(bot::stats))
            .routes(routes!(bot::active))
            .routes(routes!(bot::analytics))
            .routes(routes!(bot::export))
            .routes(routes!(bot::get, bot::update, bot::delete))
            .routes(routes!(bot::transcript))
            .routes(routes!(bot::terminate));

        let seed003 = OpenApiRouter::default()
            .routes(routes!(campaigns::create))
            .routes(routes!(campaigns::pause))
            .routes(routes!(campaigns::resume))
            .routes(routes!(campaign_settings::update))
            .routes(routes!(campaigns::progress))
            .routes(routes!(campaigns::dashboard))
            .routes(routes!(campaigns::bulk))
            .routes(routes!(campaigns::single_call))
            .routes(routes!(campaigns::active_channels))
            .routes(routes!(campaigns::active_calls))
            .routes(routes!(monitoring::stats))
            .routes(routes!(monitoring::failed_calls))
            .routes(routes!(monitoring::utilization))
            .routes(routes!(monitoring::analytics));

        let poll = OpenApiRouter::default().routes(routes!(smartflo::active_call));

        let webhooks = OpenApiRouter::default()
            .routes(routes!(webhooks::twilio_status))
            .routes(routes!(webhooks::twilio_answer))
            .routes(routes!(webhooks::twilio_inbound))
            .routes(routes!(webhooks::twilio_dialed))
            .routes(routes!(webhooks::plivo_hangup))
            .routes(routes!(webhooks::plivo_answer))
            .routes(routes!(webhooks::plivo_voicemail))
            .routes(routes!(webhooks::plivo_inbound))
            .routes(routes!(webhooks::plivo_dialed))
            .routes(routes!(webhooks::smartflo_webhook));

        let public = OpenApiRouter::default().routes(routes!(crate::metrics::metrics));

        let health = OpenApiRouter::default()
            .routes(routes!(health::health))
            .routes(routes!(monitoring::cloud_run))
            .routes(routes!(monitoring::database))
            .routes(routes!(monitoring::comprehensive))
            .routes(routes!(monitoring::integration_test));

        Self {
            login,
            upload,
            api,
            public,
            health,
            success_shaped,
            seed003,
            poll,
            webhooks,
        }
    }

    /// Each group's body limit and rate limit.
    fn layered(self, state: &AppState) -> Self {
        Self {
            login: self
                .login
                .layer(from_fn_with_state(state.clone(), ratelimit::login)),
            upload: self
                .upload
                .layer(DefaultBodyLimit::max(
                    state.config.upload_limit_bytes + 64 * 1024,
                ))
                .layer(from_fn_with_state(state.clone(), ratelimit::upload)),
            api: self
                .api
                .layer(DefaultBodyLimit::max(JSON_LIMIT))
                .layer(from_fn_with_state(state.clone(), ratelimit::api)),
            public: self.public,
            health: self
                .health
                .layer(from_fn_with_state(state.clone(), ratelimit::health))
                .layer(axum::middleware::from_fn(campaigns::seed003_shape)),
            // The shape is the outermost layer, so that the rate limit's 429 has it too.
            success_shaped: self
                .success_shaped
                .layer(DefaultBodyLimit::max(JSON_LIMIT))
                .layer(from_fn_with_state(state.clone(), ratelimit::api))
                .layer(axum::middleware::from_fn(crate::error::success_false_shape)),
            seed003: self
                .seed003
                .layer(DefaultBodyLimit::max(JSON_LIMIT))
                .layer(from_fn_with_state(state.clone(), ratelimit::api))
                .layer(axum::middleware::from_fn(campaigns::seed003_shape)),
            poll: self
                .poll
                .layer(from_fn_with_state(state.clone(), ratelimit::poll))
                .layer(axum::middleware::from_fn(crate::error::success_false_shape)),
            webhooks: self
                .webhooks
                .layer(DefaultBodyLimit::max(JSON_LIMIT))
                .layer(axum::middleware::from_fn(shape_by_path)),
        }
    }

    /// All groups and the docs routes, with the document's shared parts.
    fn merged(self) -> OpenApiRouter<AppState> {
        OpenApiRouter::with_openapi(crate::docs::base())
            .merge(self.login)
            .merge(self.upload)
            .merge(self.api)
            .merge(self.public)
            .merge(self.health)
            .merge(self.success_shaped)
            .merge(self.seed003)
            .merge(self.poll)
            .merge(self.webhooks)
            .merge(crate::docs::routes())
            .merge(crate::dashboard::routes())
    }
}

/// Every route with its OpenAPI description, without the layers (which need the state).
pub fn documented() -> OpenApiRouter<AppState> {
    Groups::new().merged()
}

/// Which error shape the routes under a path answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"error", "message"}`: native routes and seed 001/002.
    Native,
    /// Seed 003's `{"success": false, "message", "error", "code", "timestamp"}` (`/plivo`, `/health`).
    Seed003,
    /// Seeds 000 and 004's `{"success": false, "message", "error"}` (`/api/v1`, `/api/calls`).
    SuccessFalse,
}

/// The error shape of the seed whose paths `path` is under.
pub fn shape_of(path: &str) -> Shape {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/plivo") || under("/health") {
        Shape::Seed003
    } else if under("/api/v1") || under("/api/calls") {
        Shape::SuccessFalse
    } else {
        Shape::Native
    }
}

/// Errors of a group whose routes belong to several surfaces (the webhooks: `/webhooks/…` and
/// seed 000's `/api/v1/smartflo/webhook`), each in the shape of the surface its path is under.
async fn shape_by_path(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let shape = shape_of(req.uri().path());
    let res = next.run(req).await;
    match (shape, res.extensions().get::<ApiError>().cloned()) {
        (Shape::Native, _) | (_, None) => res,
        (Shape::Seed003, Some(e)) => campaigns::seed003_render(&e),
        (Shape::SuccessFalse, Some(e)) => crate::error::success_false_render(&e),
    }
}

/// An error for a path no route answers, in the shape of the seed whose paths it is under.
fn in_shape_of(uri: &axum::http::Uri, e: ApiError) -> axum::response::Response {
    match shape_of(uri.path()) {
        Shape::Seed003 => campaigns::seed003_render(&e),
        Shape::SuccessFalse => crate::error::success_false_render(&e),
        Shape::Native => axum::response::IntoResponse::into_response(e),
    }
}

pub fn router(state: AppState) -> Router {
    let (app, mut doc) = Groups::new().layered(&state).merged().split_for_parts();
    crate::docs::finish(&mut doc);
    let body_idle = std::time::Duration::from_secs(state.config.client_timeout_secs);

    app.route_layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(crate::docs::serve(&doc))
        .fallback(|uri: axum::http::Uri| async move {
            in_shape_of(&uri, ApiError::new(StatusCode::NOT_FOUND, "no such route"))
        })
        .method_not_allowed_fallback(|uri: axum::http::Uri| async move {
            in_shape_of(
                &uri,
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed on this route",
                ),
            )
        })
        // Socket.io (handshakes, long-polling, WebSocket upgrades); its requests count in the
        // polling rate group.
        .route_service(
            crate::realtime::PATH,
            tower::Layer::layer(
                &axum::middleware::from_fn_with_state(
                    (state.limits.clone(), state.config.trust_proxy),
                    crate::ratelimit::socketio,
                ),
                crate::realtime::service(&state),
            ),
        )
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
        // A body that stops coming (a client that sends part of it and waits) fails its read
        // after `client_timeout_secs`: the request gets its 400, and its connection closes.
        .layer(axum::middleware::map_request(
            move |req: axum::extract::Request| async move {
                req.map(|b| {
                    axum::body::Body::new(tower_http::timeout::TimeoutBody::new(body_idle, b))
                })
            },
        ))
        .with_state(state)
}
