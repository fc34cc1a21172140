//! `switchboard`: serve, migrate, import, user add, demo.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchboard_server::{Config, auth};
use switchboard_store::import::{ImportOptions, import_csv};
use switchboard_store::{Db, lists, users};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Self-hosted call-center platform for outbound lead calling"
)]
struct Cli {
    /// TOML configuration file (environment variables SWITCHBOARD_* override it).
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Import leads from a CSV file of any size.
    Import {
        file: PathBuf,
        /// Put the leads in this list (created when missing).
        #[arg(long)]
        list: Option<String>,
        /// Client id (default: the first client).
        #[arg(long)]
        client: Option<i64>,
        /// PostgreSQL: insert through this many database sessions at once (the file's order
        /// still decides duplicates and ids). More load on the database while it runs; SQLite
        /// ignores it (one writer).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
        jobs: u16,
    },
    /// Copy the SQLite database into a new file, consistent even while the server runs
    /// (SQLite's VACUUM INTO; PostgreSQL has pg_dump).
    Backup {
        /// The new file (it must not exist yet).
        file: PathBuf,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Run the server on a fresh demo database with sample users and leads.
    Demo {
        /// The demo database file (replaced on every start).
        #[arg(long, default_value = "switchboard-demo.db")]
        file: PathBuf,
        /// How many demo leads to generate.
        #[arg(long, default_value_t = 2000)]
        leads: u32,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password comes from SWITCHBOARD_NEW_USER_PASSWORD or is generated and printed.
    Add {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, default_value = "operator")]
        role: String,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
        #[arg(long)]
        client: Option<i64>,
    },
    /// Set a user's password (a lost one), ending every session of theirs; the password comes
    /// from SWITCHBOARD_NEW_USER_PASSWORD or is generated and printed.
    Password {
        /// The user's username or email.
        login: String,
    },
}

/// A new user's password, from SWITCHBOARD_NEW_USER_PASSWORD or generated (then `true`), and
/// its hash.
async fn new_password() -> anyhow::Result<(String, bool, String)> {
    let (password, generated) = match std::env::var("SWITCHBOARD_NEW_USER_PASSWORD") {
        Ok(p) => (p, false),
        Err(_) => (random_password(), true),
    };
    auth::validate_password(&password)
        .map_err(|e| anyhow::anyhow!("SWITCHBOARD_NEW_USER_PASSWORD: {}", e.message))?;
    let hash = auth::hash_password(password.clone())
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    Ok((password, generated, hash))
}

/// glibc gives every thread that allocates its own malloc arena; with the database's worker
/// threads and the runtime's, that doubled the server's resident memory under load (424 MiB
/// against 273 MiB with two arenas, in the dialer benchmark). Two arenas, unless the operator
/// set `MALLOC_ARENA_MAX` themselves. Called before any other thread exists (parsing the
/// command line starts none).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only adjusts the allocator's settings; called before any other thread.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

fn main() {
    let cli = Cli::parse();
    // Not for `import`: its parser and inserter threads hand every row's strings from one to
    // the other, and when both draw on one of the two arenas they wait on its lock at nearly
    // every allocation. Which arena a thread gets depends on the order threads first allocate,
    // so one more thread anywhere in the process moved a 1,000,000-row SQLite import from
    // 5.9–6.1 s to 9.0–9.9 s; with glibc's default number of arenas it takes 6.2–6.6 s either
    // way, at the same peak memory (BENCHMARKS.md).
    if !matches!(cli.command, Command::Import { .. }) {
        limit_malloc_arenas();
    }
    // An import's bulk statements (20,000 rows each on PostgreSQL) take about a second by
    // design: sqlx's warning about each slow statement would bury the progress bar.
    let default_log = match cli.command {
        Command::Import { .. } => "info,sqlx=warn,sqlx::query=error,tower_http=warn",
        _ => "info,sqlx=warn,tower_http=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| default_log.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(cli.command, config)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = Db::connect(&config.database_url).await?;
            db.migrate().await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Import {
            file,
            list,
            client,
            jobs,
        } => import(one_shot(config), file, list, client, jobs).await,
        Command::Backup { file } => {
            let db = Db::connect_with(
                &config.database_url,
                switchboard_store::ConnectOptions {
                    must_exist: true,
                    max_connections: Some(1),
                    ..Default::default()
                },
            )
            .await?;
            let started = std::time::Instant::now();
            db.backup_into(&file).await?;
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "backed up into {} ({size} bytes) in {:.1} s",
                file.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    email,
                    role,
                    first_name,
                    last_name,
                    client,
                },
        } => {
            let state = switchboard_server::prepare(one_shot(config)).await?;
            let role = switchboard_core::Role::parse(&role)
                .context("role must be super_admin, admin or operator")?;
            let (password, generated, hash) = new_password().await?;
            let mut tx = state.db.begin().await?;
            let u = users::create(
                &mut tx,
                &users::NewUser {
                    client_id: client.unwrap_or(state.default_client_id),
                    username,
                    email,
                    password_hash: hash,
                    role: role.as_str().into(),
                    first_name: first_name.unwrap_or_default(),
                    last_name: last_name.unwrap_or_default(),
                    ..Default::default()
                },
            )
            .await?;
            tx.commit().await?;
            eprintln!("created user {} (id {}, {})", u.username, u.id, u.role);
            if generated {
                eprintln!("password: {password}");
            }
            Ok(())
        }
        Command::User {
            command: UserCommand::Password { login },
        } => {
            let state = switchboard_server::prepare(one_shot(config)).await?;
            let user = users::find_login(&state.db, &login)
                .await?
                .with_context(|| format!("no user '{login}'"))?;
            let (password, generated, hash) = new_password().await?;
            let patch = users::UserPatch {
                password_hash: Some(hash),
                ..Default::default()
            };
            let mut tx = state.db.begin().await?;
            users::update(&mut tx, user.id, &patch).await?;
            switchboard_store::audit::record(
                &mut tx,
                switchboard_store::audit::AuditEntry {
                    client_id: Some(user.client_id),
                    user_id: None,
                    action: "set_password",
                    entity: "user",
                    entity_id: Some(user.id),
                    detail: serde_json::json!({"by": "command line"}),
                },
            )
            .await?;
            tx.commit().await?;
            eprintln!(
                "new password set for {} (id {}); their sessions have ended",
                user.username, user.id
            );
            if generated {
                eprintln!("password: {password}");
            }
            Ok(())
        }
        Command::Demo { file, leads } => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            config.database_url = format!("sqlite://{}", file.display());
            // Simulated calls ten times faster than life, unless asked otherwise.
            if std::env::var_os("SWITCHBOARD_SIMULATOR_TIME_SCALE").is_none() {
                config.telephony.simulator.time_scale = 10.0;
            }
            let mut seeding = config.clone();
            seeding.dialer.engine = false;
            let state = switchboard_server::prepare(seeding).await?;
            seed_demo(&state, leads).await?;
            eprintln!(
                "  the dashboard: http://{}/ (sign in as admin, or as a demo user above)",
                config.listen
            );
            serve(config).await
        }
    }
}

/// The configuration of a command that does one thing and exits (`import`, `user add`): no
/// dialer engine. An engine would register this process as an instance, could take a campaign
/// over or claim queued leads, and would leave the calls it placed live when the command exits
/// (their slots held until the call timeout).
fn one_shot(mut config: Config) -> Config {
    config.dialer.engine = false;
    config
}

fn random_password() -> String {
    use rand::RngCore;
    let mut b = [0u8; 12];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = switchboard_server::prepare(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (SWITCHBOARD_LISTEN)"))?;
    tracing::info!("switchboard listening on http://{}", listener.local_addr()?);
    switchboard_server::serve(state, listener, switchboard_server::shutdown_signal()).await
}

async fn import(
    config: Config,
    file: PathBuf,
    list: Option<String>,
    client: Option<i64>,
    jobs: u16,
) -> anyhow::Result<()> {
    let state = switchboard_server::prepare(config).await?;
    let client_id = client.unwrap_or(state.default_client_id);
    let f =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let len = f.metadata()?.len();
    let mut opts = ImportOptions::new(client_id);
    opts.commit_every = Some(100_000);
    opts.max_reported_errors = 20;
    opts.jobs = usize::from(jobs);
    if let Some(name) = list {
        let mut tx = state.db.begin().await?;
        opts.list_id = Some(lists::ensure(&mut tx, client_id, &name).await?);
        tx.commit().await?;
    }
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = indicatif::ProgressBar::new(len);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let reader = bar.wrap_read(f);
    let started = std::time::Instant::now();
    let b2 = bar.clone();
    let report = import_csv(&state.db, reader, state.phones.clone(), opts, move |r| {
        b2.set_message(format!("{} imported", r.success_count));
    })
    .await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "processed {} rows in {:.1} s ({:.0} rows/s): {} imported, {} duplicates, {} errors",
        report.total_processed,
        secs,
        report.total_processed as f64 / secs.max(1e-9),
        report.success_count,
        report.duplicate_count,
        report.error_count
    );
    for e in &report.errors {
        eprintln!("  line {}: {}", e.line, e.reason);
    }
    Ok(())
}

async fn seed_demo(state: &switchboard_server::AppState, leads: u32) -> anyhow::Result<()> {
    let client_id = state.default_client_id;
    let names = [
        ("Asha", "Rao"),
        ("Ben", "Okafor"),
        ("Carla", "Mendes"),
        ("Dmitri", "Volkov"),
    ];
    let mut tx = state.db.begin().await?;
    let mut operators = Vec::new();
    for (i, (first, last)) in names.iter().enumerate() {
        let password = random_password();
        let hash = auth::hash_password(password.clone())
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        let username = first.to_lowercase();
        let user = users::create(
            &mut tx,
            &users::NewUser {
                client_id,
                username: username.clone(),
                email: Some(format!("{username}@demo.switchboard.local")),
                password_hash: hash,
                role: if i == 0 {
                    "admin".into()
                } else {
                    "operator".into()
                },
                first_name: first.to_string(),
                last_name: last.to_string(),
                phone_number: Some(format!("+1415555{:04}", 100 + i)),
                ..Default::default()
            },
        )
        .await?;
        if i > 0 {
            operators.push((user.id, username.clone()));
        }
        eprintln!(
            "  demo user {username} ({}) password: {password}",
            if i == 0 { "admin" } else { "operator" }
        );
    }
    tx.commit().await?;
    let mut csv = String::from("phone,name,email,priority,tags,list\n");
    let priorities = ["urgent", "high", "medium", "medium", "low"];
    for i in 0..leads {
        csv.push_str(&format!(
            "+1415{:07},Demo Lead {i},lead{i}@example.com,{},demo,{}\n",
            2_000_000 + i,
            priorities[i as usize % priorities.len()],
            if i % 2 == 0 {
                "Spring campaign"
            } else {
                "Follow-ups"
            }
        ));
    }
    let r = import_csv(
        &state.db,
        std::io::Cursor::new(csv.into_bytes()),
        state.phones.clone(),
        ImportOptions::new(client_id),
        |_| {},
    )
    .await?;
    eprintln!("  demo leads: {} imported", r.success_count);

    // Dial around the clock in the demo, and run a simulator campaign over the first list.
    let tz: chrono_tz::Tz = state.config.timezone.parse().unwrap_or(chrono_tz::UTC);
    let mut doc = switchboard_core::schedule::Schedule::default_in(tz).to_doc();
    for w in &mut doc.windows {
        w.start = "00:00".into();
        w.end = "24:00".into();
    }
    let mut tx = state.db.begin().await?;
    switchboard_store::schedules::put(&mut tx, client_id, &doc, 1, None).await?;
    let lists = switchboard_store::lists::list(&state.db, client_id).await?;
    if let Some(list) = lists.iter().find(|l| l.name == "Spring campaign") {
        let c = switchboard_store::campaigns::create(
            &mut tx,
            &switchboard_store::campaigns::NewCampaign {
                client_id,
                name: "Spring campaign (demo)",
                list_id: list.id,
                from_number: "+14155550100",
                wss_url: Some("wss://bot.example.com/stream"),
                max_concurrent: 5,
                created_by: None,
                owner_instance: None,
                // The simulator's voicemails are hung up on, as a team would have it.
                machine_detection: Some(true),
                voicemail_message: None,
                record_calls: None,
            },
        )
        .await?;
        eprintln!(
            "  demo campaign {} running over {} leads (5 calls at a time)",
            c.id, c.total_contacts
        );
    }
    // The first operator's call backs: two follow-ups, due a few minutes after the start (the
    // operator's screen lists them and tells when each comes due); the first is theirs alone,
    // the second anyone's.
    if let (Some((op, name)), Some(list)) = (
        operators.first(),
        lists.iter().find(|l| l.name == "Follow-ups"),
    ) {
        let ids: Vec<(i64,)> = switchboard_store::sql(
            "SELECT id FROM leads WHERE client_id = $1 AND list_id = $2 ORDER BY id LIMIT 2",
        )
        .arg(client_id)
        .arg(list.id)
        .fetch_all(&mut tx)
        .await?;
        for (k, (id,)) in ids.into_iter().enumerate() {
            let at = chrono::Utc::now() + chrono::Duration::minutes(2 + 3 * k as i64);
            let patch = switchboard_store::leads::LeadPatch {
                assigned_user_id: Some(Some(*op)),
                callback_at: Some(Some(at)),
                callback_for: Some(if k == 0 {
                    switchboard_core::lead::CallbackFor::Agent
                } else {
                    switchboard_core::lead::CallbackFor::Anyone
                }),
                ..Default::default()
            };
            switchboard_store::leads::update(&mut tx, client_id, id, &patch).await?;
        }
        eprintln!(
            "  demo call backs: two for {name}, due in 2 (theirs alone) and 5 minutes (anyone's)"
        );
    }
    tx.commit().await?;
    Ok(())
}
