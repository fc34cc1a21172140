//! Real `switchboard serve` processes running one campaign: two instances on one PostgreSQL
//! (one killed with SIGKILL midway, the other takes over), and one SQLite instance killed and
//! restarted. Every lead is called exactly once and no cap is exceeded.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_store::Db;

use crate::harness::{Backend, fresh_db};

const PASSWORD: &str = "instances-password-1";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SWITCHBOARD_") {
            c.env_remove(k);
        }
    }
    c.env("SWITCHBOARD_ADMIN_PASSWORD", PASSWORD)
        .env(
            "SWITCHBOARD_JWT_SECRET",
            "instances-test-secret-0123456789abcdef",
        )
        .env("SWITCHBOARD_RATE_LIMITS", "off")
        .env("SWITCHBOARD_PROVIDER", "simulator");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request on a fresh connection; the status and the JSON body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap_or(0);
    let json = out
        .split("\r\n\r\n")
        .nth(1)
        .map(|b| {
            // Chunked or not: take the outermost JSON object.
            let start = b.find('{').unwrap_or(0);
            let end = b.rfind('}').map(|e| e + 1).unwrap_or(b.len());
            serde_json::from_str(&b[start..end]).unwrap_or(Value::Null)
        })
        .unwrap_or(Value::Null);
    (status, json)
}

struct Server {
    child: Child,
    port: u16,
    id: String,
}

impl Server {
    fn start(url: &str, id: &str, extra: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut c = bin();
        c.args(["serve"])
            .env("SWITCHBOARD_DATABASE_URL", url)
            .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_INSTANCE_ID", id)
            .env("SWITCHBOARD_HEARTBEAT_SECONDS", "2")
            .env("SWITCHBOARD_DIALER_TICK_MS", "20")
            .env("SWITCHBOARD_CALLS_PER_SECOND", "2000")
            .env("SWITCHBOARD_MAX_CONCURRENT_CALLS", "100")
            .env("SWITCHBOARD_SIMULATOR_TIME_SCALE", "400")
            .env("SWITCHBOARD_SIMULATOR_ANSWER_RATE", "0.6")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in extra {
            c.env(k, v);
        }
        let child = c.spawn().expect("spawn switchboard serve");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            port,
            id: id.to_string(),
        }
    }

    fn login(&self) -> String {
        let (s, v) = http(
            self.port,
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"username": "admin", "password": PASSWORD})),
        );
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    fn kill9(&mut self) {
        Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn scalar(db: &Db, q: &str) -> i64 {
    let (n,): (i64,) = switchboard_store::sql(q)
        .fetch_one(&mut db.read().await.unwrap())
        .await
        .unwrap();
    n
}

fn import(url: &str, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.csv");
    let mut f = std::fs::File::create(&file).unwrap();
    writeln!(f, "phone,name,timezone").unwrap();
    for i in 0..n {
        writeln!(f, "+1212{:07},Lead {i},", 1_000_000 + i).unwrap();
    }
    drop(f);
    let out = bin()
        .args(["import", file.to_str().unwrap(), "--list", "Big"])
        .env("SWITCHBOARD_DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Open every hour of every day, and start a campaign over list "Big".
fn start_campaign(s: &Server, cap: i64) -> String {
    let token = s.login();
    let windows: Vec<Value> = (0..7)
        .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
        .collect();
    let (st, v) = http(
        s.port,
        "PUT",
        "/api/dialer/schedule",
        Some(&token),
        Some(json!({"timezone": "UTC", "windows": windows, "holidays": [], "enabled": true})),
    );
    assert_eq!(st, 200, "{v}");
    let (st, v) = http(s.port, "GET", "/api/lists", Some(&token), None);
    assert_eq!(st, 200, "{v}");
    let list = v["lists"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["name"] == "Big"))
        .map(|l| l["id"].clone())
        .unwrap_or_else(|| panic!("no list Big: {v}"));
    let (st, v) = http(
        s.port,
        "POST",
        "/plivo/create-campaign",
        Some(&token),
        Some(
            json!({"campaignName": "Big", "listId": list, "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/s", "maxConcurrentCalls": cap}),
        ),
    );
    assert_eq!(st, 200, "{v}");
    v["campaignId"].as_str().unwrap().to_string()
}

struct Peaks {
    campaign: i64,
    client: i64,
}

/// Sample live calls until `until` says stop; the peaks seen.
async fn watch(
    db: &Db,
    campaign: &str,
    limit: Duration,
    mut until: impl AsyncFnMut() -> bool,
) -> Peaks {
    let mut p = Peaks {
        campaign: 0,
        client: 0,
    };
    let start = Instant::now();
    loop {
        let c = scalar(db, &format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {campaign} AND status IN ('initiated', 'ringing', 'answered')")).await;
        let all = scalar(
            db,
            "SELECT COUNT(*) FROM calls WHERE status IN ('initiated', 'ringing', 'answered')",
        )
        .await;
        p.campaign = p.campaign.max(c);
        p.client = p.client.max(all);
        if until().await {
            return p;
        }
        if start.elapsed() >= limit {
            let row: (String, i64, Option<String>) = switchboard_store::sql(&format!(
                "SELECT status, current_index, owner_instance FROM campaigns WHERE id = {campaign}"
            ))
            .fetch_one(&mut db.read().await.unwrap())
            .await
            .unwrap();
            panic!("timed out after {limit:?}: campaign {row:?}, live {c}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn check_totals(db: &Db, campaign: &str, leads: i64) {
    let calls = scalar(
        db,
        &format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {campaign}"),
    )
    .await;
    let distinct = scalar(
        db,
        &format!("SELECT COUNT(DISTINCT lead_id) FROM calls WHERE campaign_id = {campaign}"),
    )
    .await;
    assert_eq!(
        (calls, distinct),
        (leads, leads),
        "every lead called exactly once"
    );
    let twice = scalar(
        db,
        "SELECT COUNT(*) FROM (SELECT lead_id FROM calls GROUP BY lead_id HAVING COUNT(*) > 1) t",
    )
    .await;
    assert_eq!(twice, 0, "a lead was dialed twice");
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM calls WHERE status IN ('initiated', 'ringing', 'answered')"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM calls WHERE slots > 0").await,
        0,
        "a slot leaked"
    );
    assert_eq!(
        scalar(
            db,
            "SELECT CAST(COALESCE(SUM(active), 0) AS BIGINT) FROM concurrency"
        )
        .await,
        0,
        "a slot counter leaked"
    );
    let unfinished = scalar(db, &format!("SELECT COUNT(*) FROM campaign_leads WHERE campaign_id = {campaign} AND state <> 'called'")).await;
    assert_eq!(unfinished, 0);
    let (status,): (String,) = switchboard_store::sql(&format!(
        "SELECT status FROM campaigns WHERE id = {campaign}"
    ))
    .fetch_one(&mut db.read().await.unwrap())
    .await
    .unwrap();
    assert_eq!(status, "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_a_campaign_and_survive_a_kill() {
    let Some(t) = fresh_db(Backend::Postgres).await else {
        return;
    };
    const LEADS: i64 = 10_000;
    import(&t.url, LEADS as usize);
    let mut a = Server::start(&t.url, "instance-a", &[]);
    let b = Server::start(&t.url, "instance-b", &[]);
    // The client's cap (60) and the campaign's (50) both hold across the two instances.
    switchboard_store::sql("UPDATE clients SET max_concurrent_calls = 60")
        .execute(&mut t.db.write().await.unwrap())
        .await
        .unwrap();
    let campaign = start_campaign(&a, 50);
    let db = t.db.clone();
    let q = format!("SELECT current_index FROM campaigns WHERE id = {campaign}");
    let before = watch(&db, &campaign, Duration::from_secs(240), async || {
        scalar(&db, &q).await >= LEADS * 2 / 5
    })
    .await;
    let owner_q = format!(
        "SELECT COUNT(*) FROM campaigns WHERE id = {campaign} AND owner_instance = 'instance-b'"
    );
    let owner_was_a = scalar(&db, &owner_q).await == 0;
    // Kill whichever owns it (A created it, so A unless it was taken over already).
    let killed_at = Instant::now();
    let survivor_id = if owner_was_a {
        a.kill9();
        b.id.clone()
    } else {
        panic!("instance-b owned the campaign before any kill");
    };
    let takeover = loop {
        if scalar(&db, &format!("SELECT COUNT(*) FROM campaigns WHERE id = {campaign} AND owner_instance = '{survivor_id}'")).await == 1 {
            break killed_at.elapsed();
        }
        assert!(killed_at.elapsed() < Duration::from_secs(20), "no takeover");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("takeover after {takeover:?} (heartbeat 2 s)");
    assert!(
        takeover <= Duration::from_millis(4_000),
        "takeover took {takeover:?}, more than two heartbeats"
    );
    let done_q =
        format!("SELECT COUNT(*) FROM campaigns WHERE id = {campaign} AND status = 'completed'");
    let after = watch(&db, &campaign, Duration::from_secs(300), async || {
        scalar(&db, &done_q).await == 1
    })
    .await;
    assert!(
        before.campaign.max(after.campaign) <= 50,
        "campaign cap exceeded: {} / {}",
        before.campaign,
        after.campaign
    );
    assert!(before.client.max(after.client) <= 60, "client cap exceeded");
    assert!(
        before.campaign >= 20,
        "calls did not run concurrently: {}",
        before.campaign
    );
    check_totals(&db, &campaign, LEADS).await;
    // Both instances placed calls; the calls live at the kill were reconciled, not redialed.
    let by_a = scalar(&db, &format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {campaign} AND instance_id = 'instance-a'")).await;
    let by_b = scalar(&db, &format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {campaign} AND instance_id = 'instance-b'")).await;
    assert!(
        by_a > 0 && by_b > 0 && by_a + by_b == LEADS,
        "{by_a} + {by_b}"
    );
    let lost = scalar(
        &db,
        "SELECT COUNT(*) FROM calls WHERE hangup_cause LIKE 'lost: instance instance-a%'",
    )
    .await;
    eprintln!("calls by a: {by_a}, by b: {by_b}, lost with a: {lost}");
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sqlite_instance_restarts_without_losing_or_redialing() {
    let Some(t) = fresh_db(Backend::Sqlite).await else {
        return;
    };
    const LEADS: i64 = 2_000;
    import(&t.url, LEADS as usize);
    // Longer calls, so some are live at the crash.
    let slow = [("SWITCHBOARD_SIMULATOR_TIME_SCALE", "150")];
    let mut a = Server::start(&t.url, "sqlite-a", &slow);
    let campaign = start_campaign(&a, 10);
    let db = t.db.clone();
    let q = format!("SELECT current_index FROM campaigns WHERE id = {campaign}");
    let before = watch(&db, &campaign, Duration::from_secs(240), async || {
        scalar(&db, &q).await >= LEADS / 4
    })
    .await;
    a.kill9();
    let live_at_crash = scalar(
        &db,
        "SELECT COUNT(*) FROM calls WHERE status IN ('initiated', 'ringing', 'answered')",
    )
    .await;
    let called_at_crash = scalar(
        &db,
        &format!("SELECT COUNT(*) FROM calls WHERE campaign_id = {campaign}"),
    )
    .await;
    assert!(live_at_crash > 0, "no call was live at the crash");
    let b = Server::start(&t.url, "sqlite-b", &slow);
    let done_q =
        format!("SELECT COUNT(*) FROM campaigns WHERE id = {campaign} AND status = 'completed'");
    let after = watch(&db, &campaign, Duration::from_secs(300), async || {
        scalar(&db, &done_q).await == 1
    })
    .await;
    assert!(
        before.campaign.max(after.campaign) <= 10,
        "campaign cap exceeded"
    );
    check_totals(&db, &campaign, LEADS).await;
    // The calls live at the crash were ended by rule (failed: lost with the instance).
    let lost = scalar(&db, "SELECT COUNT(*) FROM calls WHERE status = 'failed' AND hangup_cause LIKE 'lost: instance sqlite-a%'").await;
    assert_eq!(
        lost, live_at_crash,
        "each call live at the crash reconciled once"
    );
    let lost_leads_failed = scalar(&db, "SELECT COUNT(*) FROM leads WHERE disposition = 'FAILED' AND attempts = 1 AND id IN (SELECT lead_id FROM calls WHERE hangup_cause LIKE 'lost:%')").await;
    assert_eq!(lost_leads_failed, live_at_crash);
    let by_b = scalar(
        &db,
        &format!(
            "SELECT COUNT(*) FROM calls WHERE campaign_id = {campaign} AND instance_id = 'sqlite-b'"
        ),
    )
    .await;
    assert_eq!(
        by_b,
        LEADS - called_at_crash,
        "the restart dialed only what was left"
    );
    drop(b);
}
