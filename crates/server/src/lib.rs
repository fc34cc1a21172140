//! Switchboard's server: the HTTP surfaces over one data model, and the start-up path.

pub mod auth;
pub mod config;
pub mod dashboard;
pub mod docs;
pub mod error;
pub mod events;
pub mod extract;
pub mod metrics;
pub mod outbound;
pub mod ratelimit;
pub mod realtime;
pub mod reports;
pub mod routes;
pub mod state;
pub mod telephony;

use anyhow::Context;
use rand::RngCore;
use switchboard_core::Role;
use switchboard_store::users::{self, NewUser};
use switchboard_store::{Db, clients, settings};
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// Open and migrate the database, make the first client and admin on an empty one, and build
/// the state the router runs on.
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    let db = Db::connect(&config.database_url).await.with_context(|| {
        format!(
            "cannot open the database (SWITCHBOARD_DATABASE_URL={})",
            redact_url(&config.database_url)
        )
    })?;
    db.migrate().await.context("database migration failed")?;
    prepare_with_db(db, config).await
}

pub async fn prepare_with_db(db: Db, config: Config) -> anyhow::Result<AppState> {
    let default_client_id = bootstrap(&db, &config).await?;
    let secret = match &config.jwt_secret {
        Some(s) => s.0.clone(),
        None => {
            // No secret configured: make one and keep it in the database, so sessions survive
            // restarts and every instance on the same database signs alike.
            let mut b = [0u8; 48];
            rand::rng().fill_bytes(&mut b);
            settings::get_or_insert(&db, "jwt_secret", &hex::encode(b)).await?
        }
    };
    let (telephony, events) = telephony::build(&config)?;
    let state = AppState::new(db, config, secret.as_bytes(), default_client_id, telephony)?;
    tokio::spawn(upkeep(state.db.clone(), state.login_throttle.window()));
    tokio::spawn(remind_callbacks(state.db.clone(), state.events.clone()));
    state.events.outbound().start(
        state.db.clone(),
        std::time::Duration::from_secs(state.config.webhook_retry_secs),
        state.config.webhook_allow_private,
    );
    ratelimit::spawn_upkeep(&state.limits);
    state
        .events
        .bridge(&state.db)
        .await
        .context("cannot listen for real-time events (PostgreSQL LISTEN)")?;
    tokio::spawn(telephony::ingest_loop(state.clone(), events));
    if state.config.dialer.engine {
        start_engine(&state);
    }
    Ok(state)
}

/// The database's minute chores: keep SQLite's planner statistics fresh as data grows (hourly,
/// as SQLite recommends) and follow those another process writes (an import); finish the
/// deletions of lists a stopped server or request left marked (at start, then every minute;
/// only those marked a minute ago or more, so as not to race a request still at work); forget
/// failed sign-ins that no longer count.
async fn upkeep(db: Db, sign_in_window: chrono::Duration) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    for minute in 0u64.. {
        every.tick().await;
        if minute > 0 {
            let done = if minute % 60 == 0 {
                db.optimize().await
            } else {
                db.follow_stats().await
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, "could not refresh planner statistics");
            }
        }
        let after = std::time::Duration::from_secs(if minute == 0 { 0 } else { 60 });
        match switchboard_store::lists::finish_deletions(&db, after).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(lists = n, "finished the deletion of lists"),
            Err(e) => tracing::warn!(error = %e, "could not finish deleting lists"),
        }
        let before = chrono::Utc::now() - sign_in_window;
        if let Err(e) = switchboard_store::sign_ins::forget_before(&db, before).await {
            tracing::warn!(error = %e, "could not forget old failed sign-ins");
        }
    }
}

/// Tell people of the call backs that come due (checked every few seconds; each is told once,
/// by whichever instance takes it first).
async fn remind_callbacks(db: Db, events: events::Events) {
    let mut every = tokio::time::interval(CALLBACK_CHECK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        loop {
            let due = switchboard_store::callbacks::take_due(&db, chrono::Utc::now(), 100).await;
            match due {
                Ok(taken) => {
                    for lead in &taken.leads {
                        events::callback_due(&events, lead);
                    }
                    ::metrics::counter!(crate::metrics::CALLBACKS_DUE)
                        .increment(taken.leads.len() as u64);
                    if taken.reminders < 100 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not take due call backs");
                    break;
                }
            }
        }
    }
}

/// How often call backs coming due are looked for.
const CALLBACK_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Start this instance's dialer engine (campaigns, the call queue, leases, reconciliation).
pub fn start_engine(state: &AppState) {
    let d = &state.config.dialer;
    let cfg = switchboard_dialer::EngineConfig {
        instance_id: state.instance_id.to_string(),
        hostname: std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()),
        tick: std::time::Duration::from_millis(d.tick_ms),
        heartbeat: std::time::Duration::from_secs(d.heartbeat_secs),
        global_max: d.max_concurrent_calls,
        calls_per_second: d.calls_per_second,
        call_timeout: std::time::Duration::from_secs(d.call_timeout_secs),
        default_tz: state.config.timezone.parse().unwrap_or(chrono_tz::UTC),
        round_max: 500,
        machine_detection: d.machine_detection,
        record_calls: state.config.telephony.record_calls,
    };
    let engine = switchboard_dialer::Engine::new(
        state.db.clone(),
        cfg,
        std::sync::Arc::new(telephony::EngineOriginator(state.clone())),
    );
    let _ = state.engine.set(engine.spawn());
}

/// First start: the default client and user `admin` (super admin). Returns the default client.
async fn bootstrap(db: &Db, config: &Config) -> anyhow::Result<i64> {
    let mut tx = db.begin().await?;
    // Another instance may be starting on the same empty database: one setup at a time, and
    // everything read inside the lock.
    settings::lock_first_start(&mut tx).await?;
    let client_id = match clients::first_id(&mut tx).await? {
        Some(id) => id,
        None => {
            clients::create(&mut tx, "Default", 10, Some(&config.timezone))
                .await?
                .id
        }
    };
    if users::count(&mut tx).await? == 0 {
        let (password, generated) = match &config.admin_password {
            Some(p) => (p.0.clone(), false),
            None => {
                let mut b = [0u8; 12];
                rand::rng().fill_bytes(&mut b);
                (hex::encode(b), true)
            }
        };
        let hash = auth::hash_password(password.clone())
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        users::create(
            &mut tx,
            &NewUser {
                client_id,
                username: "admin".into(),
                email: config.admin_email.clone(),
                password_hash: hash,
                role: Role::SuperAdmin.as_str().into(),
                first_name: "Admin".into(),
                ..Default::default()
            },
        )
        .await?;
        if generated {
            // Printed once, to the console only: it is never logged or stored in plain text.
            eprintln!(
                "\n  Created user 'admin' with password: {password}\n  (set SWITCHBOARD_ADMIN_PASSWORD to choose it; change it after signing in)\n"
            );
        }
    }
    tx.commit().await?;
    Ok(client_id)
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// Serve on `listener` until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    let app = routes::router(state.clone()).layer(tower_http::trace::TraceLayer::new_for_http());
    // What axum::serve does, with a timer (axum sets none): a client that takes longer than
    // this to send a request's head, or a kept-alive connection with no new request for as
    // long, is closed, so slow or idle clients cannot hold connections (and file descriptors)
    // open for good.
    let head_timeout = std::time::Duration::from_secs(state.config.client_timeout_secs);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    // Graceful shutdown (hyper-util's helper takes no connection that may be upgraded): each
    // connection's task holds a sender; at the stop each finishes its request in flight and
    // closes, and the last one to go closes the channel.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let (open, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            got = listener.accept() => match got {
                Ok(got) => got,
                Err(e) => {
                    // Out of file descriptors and the like: wait for some to be freed.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = io.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
            app.clone().oneshot(req)
        });
        // Upgrades: Socket.io's WebSocket transport (an upgraded connection leaves hyper;
        // Socket.io closes its connections at the stop, see `events::Events::close`).
        let conn = http
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let (open, mut stopping) = (open.clone(), stopping.clone());
        tokio::spawn(async move {
            let _open = open;
            let mut conn = std::pin::pin!(conn);
            let stop = async {
                let _ = stopping.wait_for(|s| *s).await;
            };
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                _ = stop => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // Event streams and sockets never end by themselves: end them, so the connections close.
    state.events.close();
    let _ = stop.send(true);
    drop(open);
    let _ = all_closed.recv().await;
    if let Some(e) = state.engine.get() {
        e.stop();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    state.db.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
