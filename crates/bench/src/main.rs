//! `switchboard-bench`: seed data and drive HTTP load against a running `switchboard serve`,
//! printing throughput and latency percentiles. The shell scripts in `bench/` put it together.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchboard_store::{Db, sql};

mod dialer;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Insert CALLS calls (client 1) straight into the database.
    SeedCalls {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        calls: u64,
        /// `fresh`: all `initiated` Twilio calls (for the webhook benchmark);
        /// `history`: a month of finished and live calls with varied fields (for listings).
        #[arg(long, default_value = "fresh")]
        kind: String,
    },
    /// Send signed Twilio status callbacks: initiated, ringing, in-progress, completed per call.
    Webhooks {
        #[arg(long)]
        target: String,
        #[arg(long)]
        public_url: String,
        #[arg(long)]
        auth_token: String,
        #[arg(long)]
        calls: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Serve a hello-world axum route in this process and load it like the webhooks (baseline).
    Hello {
        #[arg(long)]
        requests: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// GET a list of paths (rotating) with a bearer token.
    Get {
        #[arg(long)]
        target: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        requests: u64,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Paths to rotate through.
        paths: Vec<String>,
    },
    /// Start a campaign over a list and watch it to the end (start rate, API latency, memory).
    Campaign {
        #[arg(long)]
        target: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        list_id: i64,
        #[arg(long, default_value_t = 2000)]
        cap: i64,
        #[arg(long)]
        server_pid: u32,
        #[arg(long, default_value_t = 4)]
        readers: usize,
    },
    /// Print the statement that writes a batch of external dialers' reports on PostgreSQL
    /// (replayed by bench/ceiling.sh).
    ReportStatement,
    /// Time the zone each of LEADS leads is called in, as the dialer reckons it for every
    /// contact it checks: from their numbers (no zone of their own), from a zone of their own
    /// (the one cost before numbers' zones), and with numbers' zones off.
    Zones {
        #[arg(long, default_value_t = 1_000_000)]
        leads: usize,
    },
    /// External dialers looping next-batch and report-result until the queue is empty.
    DialerLoop {
        #[arg(long)]
        target: String,
        #[arg(long)]
        token: String,
        #[arg(long, default_value_t = 8)]
        clients: usize,
        #[arg(long, default_value_t = 100)]
        size: usize,
    },
}

struct Report {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
}

impl Report {
    fn print(&mut self, label: &str) {
        self.latencies.sort();
        let n = self.latencies.len();
        let pct = |p: f64| -> f64 {
            if n == 0 {
                return 0.0;
            }
            let i = ((p / 100.0) * n as f64).ceil() as usize;
            self.latencies[i.clamp(1, n) - 1].as_secs_f64() * 1000.0
        };
        println!(
            "{label}: requests={n} errors={} seconds={:.3} rate={:.0}/s p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
            self.errors,
            self.elapsed.as_secs_f64(),
            n as f64 / self.elapsed.as_secs_f64(),
            pct(50.0),
            pct(90.0),
            pct(99.0),
            pct(100.0)
        );
    }
}

/// Run `jobs` over `concurrency` workers; each job returns its request latencies.
async fn drive<F, Fut>(concurrency: usize, jobs: u64, job: F) -> Report
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<(Duration, bool)>> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let (job, next) = (job.clone(), next.clone());
        handles.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= jobs {
                    break;
                }
                out.extend(job(i).await);
            }
            out
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for h in handles {
        for (d, ok) in h.await.expect("worker") {
            latencies.push(d);
            if !ok {
                errors += 1;
            }
        }
    }
    Report {
        latencies,
        errors,
        elapsed: started.elapsed(),
    }
}

fn call_sid(i: u64) -> String {
    format!("CA{i:032x}")
}

async fn seed_calls(url: &str, n: u64, kind: &str) -> anyhow::Result<()> {
    let db = Db::connect(url).await?;
    db.migrate().await?;
    if switchboard_store::clients::count(&db).await? == 0 {
        let mut tx = db.begin().await?;
        switchboard_store::clients::create(&mut tx, "Default", 10_000, None).await?;
        tx.commit().await?;
    }
    let now = chrono::Utc::now();
    let started = Instant::now();
    let chunk = 500u64;
    let mut i = 0;
    while i < n {
        let mut q = sql(
            "INSERT INTO calls (client_id, provider, provider_call_id, direction, from_number, to_number, status, surface_status, started_at, answered_at, ended_at, duration_secs, language, created_at, updated_at) VALUES ",
        );
        let end = (i + chunk).min(n);
        for k in i..end {
            if k > i {
                q.push(", ");
            }
            let (status, direction, start, answered, ended, duration, language) = if kind == "fresh"
            {
                ("initiated", "outbound", now, None, None, None, None)
            } else {
                // A month of history: mostly finished, a few live; varied direction and language.
                let start = now - chrono::Duration::seconds((k * 2_592_000 / n.max(1)) as i64);
                let status = [
                    "completed",
                    "completed",
                    "no-answer",
                    "busy",
                    "failed",
                    "completed",
                    "canceled",
                    "answered",
                ][(k % 8) as usize];
                let d = if status == "completed" {
                    Some((k % 300) as i64 + 5)
                } else {
                    None
                };
                let answered = d.map(|_| start + chrono::Duration::seconds(5));
                let ended = if status == "answered" {
                    None
                } else {
                    Some(start + chrono::Duration::seconds(d.unwrap_or(20) + 5))
                };
                (
                    status,
                    if k % 3 == 0 { "inbound" } else { "outbound" },
                    start,
                    answered,
                    ended,
                    d,
                    Some(["en", "fa", "hi", "mixed"][(k % 4) as usize]),
                )
            };
            q.push("(1, 'twilio', ")
                .push_arg(call_sid(k))
                .push(", ")
                .push_arg(direction)
                .push(", '+14150000000', ");
            q.push_arg(format!("+1415{:07}", 2_000_000 + (k % 7_000_000)))
                .push(", ")
                .push_arg(status)
                .push(", NULL, ");
            q.push_arg(start)
                .push(", ")
                .push_arg(answered)
                .push(", ")
                .push_arg(ended)
                .push(", ")
                .push_arg(duration)
                .push(", ");
            q.push_arg(language)
                .push(", ")
                .push_arg(now)
                .push(", ")
                .push_arg(now)
                .push(")");
        }
        let mut tx = db.begin().await?;
        q.execute(&mut tx).await?;
        tx.commit().await?;
        i = end;
    }
    println!(
        "seeded {n} {kind} calls in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(())
}

fn client(concurrency: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn webhooks(
    target: String,
    public_url: String,
    token: String,
    calls: u64,
    concurrency: usize,
) -> Report {
    let http = client(concurrency);
    drive(concurrency, calls, move |i| {
        let (http, target, public_url, token) = (
            http.clone(),
            target.clone(),
            public_url.clone(),
            token.clone(),
        );
        async move {
            let sid = call_sid(i);
            let mut out = Vec::with_capacity(4);
            for (n, status) in ["initiated", "ringing", "in-progress", "completed"]
                .iter()
                .enumerate()
            {
                let mut params = vec![
                    (
                        "AccountSid".to_string(),
                        "AC00000000000000000000000000000000".to_string(),
                    ),
                    ("CallSid".to_string(), sid.clone()),
                    ("CallStatus".to_string(), status.to_string()),
                    ("From".to_string(), "+14150000000".to_string()),
                    ("To".to_string(), "+14155550100".to_string()),
                    ("SequenceNumber".to_string(), n.to_string()),
                ];
                if *status == "completed" {
                    params.push(("CallDuration".to_string(), "42".to_string()));
                }
                let path = "/webhooks/twilio/status";
                let sig = switchboard_telephony::twilio::compute_signature(
                    &token,
                    &format!("{public_url}{path}"),
                    &params,
                );
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params.iter())
                    .finish();
                let t = Instant::now();
                let ok = http
                    .post(format!("{target}{path}"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                out.push((t.elapsed(), ok));
            }
            out
        }
    })
    .await
}

async fn hello(requests: u64, concurrency: usize) -> anyhow::Result<Report> {
    let app = axum::Router::new().route("/", axum::routing::post(|| async { "Hello, world!" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = client(concurrency);
    let target = format!("http://{addr}/");
    // The same shape of load as the webhooks: four requests per job.
    Ok(drive(concurrency, requests / 4, move |_| {
        let (http, target) = (http.clone(), target.clone());
        async move {
            let mut out = Vec::with_capacity(4);
            for _ in 0..4 {
                let t = Instant::now();
                let ok = http
                    .post(&target)
                    .body("x=1")
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                out.push((t.elapsed(), ok));
            }
            out
        }
    })
    .await)
}

async fn get(
    target: String,
    token: String,
    requests: u64,
    concurrency: usize,
    paths: Vec<String>,
) -> Report {
    let http = client(concurrency);
    let paths = Arc::new(paths);
    drive(concurrency, requests, move |i| {
        let (http, target, token, paths) =
            (http.clone(), target.clone(), token.clone(), paths.clone());
        async move {
            let path = &paths[(i as usize) % paths.len()];
            let t = Instant::now();
            let ok = http
                .get(format!("{target}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            vec![(t.elapsed(), ok)]
        }
    })
    .await
}

/// `zones`: nanoseconds per lead for each way its zone is found.
fn zones(leads: usize) {
    use rand::Rng;
    use switchboard_core::zones::lead_zone;
    let mut rng = rand::rng();
    // North American numbers over many area codes, and some of other countries.
    let phones: Vec<String> = (0..leads)
        .map(|i| match i % 10 {
            0 => format!("+4420{:08}", rng.random_range(0..100_000_000u32)),
            1 => format!("+3491{:07}", rng.random_range(0..10_000_000u32)),
            2 => format!("+9198{:08}", rng.random_range(0..100_000_000u32)),
            _ => format!(
                "+1{}{:07}",
                rng.random_range(201..990u32),
                rng.random_range(0..10_000_000u32)
            ),
        })
        .collect();
    let at = chrono::Utc::now();
    let time = |name: &str, f: &dyn Fn(&str) -> bool| {
        let t = Instant::now();
        let found = phones.iter().filter(|p| f(p)).count();
        let ns = t.elapsed().as_nanos() as f64 / leads as f64;
        println!("zones {name}: {ns:.0} ns per lead ({found} of {leads} placed)");
    };
    time("from numbers", &|p| {
        lead_zone(None, p, true, at).0.is_some()
    });
    time("own zone", &|p| {
        lead_zone(Some("America/New_York"), p, true, at).0.is_some()
    });
    time("numbers' zones off", &|p| {
        lead_zone(None, p, false, at).0.is_some()
    });
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The workspace's one TLS stack (rustls with ring); plain HTTP here, but the client wants it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::SeedCalls {
            database_url,
            calls,
            kind,
        } => seed_calls(&database_url, calls, &kind)
            .await
            .context("seeding calls")?,
        Command::Webhooks {
            target,
            public_url,
            auth_token,
            calls,
            concurrency,
        } => webhooks(target, public_url, auth_token, calls, concurrency)
            .await
            .print("webhooks"),
        Command::Hello {
            requests,
            concurrency,
        } => hello(requests, concurrency).await?.print("hello"),
        Command::Campaign {
            target,
            token,
            list_id,
            cap,
            server_pid,
            readers,
        } => dialer::campaign(target, token, list_id, cap, server_pid, readers).await?,
        Command::DialerLoop {
            target,
            token,
            clients,
            size,
        } => dialer::dialer_loop(target, token, clients, size).await?,
        Command::ReportStatement => println!("{}", switchboard_store::reports::statement()),
        Command::Zones { leads } => zones(leads),
        Command::Get {
            target,
            token,
            requests,
            concurrency,
            paths,
        } => {
            anyhow::ensure!(!paths.is_empty(), "give at least one path");
            get(target, token, requests, concurrency, paths)
                .await
                .print("get")
        }
    }
    Ok(())
}
