//! The `switchboard` binary itself: configuration errors, `import`, `user add`,
//! `user password`, `backup`, `serve`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::harness::{Backend, fresh_db};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SWITCHBOARD_") && k != "SWITCHBOARD_TEST_PG_URL" {
            c.env_remove(k);
        }
    }
    c.env("SWITCHBOARD_ADMIN_PASSWORD", "cli-password-1");
    c
}

#[test]
fn bad_configuration_names_the_variable() {
    let out = bin()
        .args(["migrate"])
        .env("SWITCHBOARD_LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SWITCHBOARD_LISTEN"), "{err}");
    let out = bin()
        .args(["migrate"])
        .env("SWITCHBOARD_DATABASE_URL", "mysql://x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SWITCHBOARD_DATABASE_URL"));
}

async fn import_into(backend: Backend) {
    let Some(t) = fresh_db(backend).await else {
        return;
    };
    let (db, url) = (&t.db, &t.url);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.csv");
    let mut f = std::fs::File::create(&file).unwrap();
    writeln!(f, "phone_number,name,priority").unwrap();
    for i in 0..25_000u32 {
        writeln!(
            f,
            "+1415{:07},Lead {i},{}",
            2_000_000 + i,
            ["high", "low"][i as usize % 2]
        )
        .unwrap();
    }
    writeln!(f, "garbage,Bad,high").unwrap();
    writeln!(f, "+14152000000,Duplicate,high").unwrap();
    drop(f);
    let out = bin()
        .args(["import", file.to_str().unwrap(), "--list", "Bulk"])
        .env("SWITCHBOARD_DATABASE_URL", url)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("25000 imported, 1 duplicates, 1 errors"),
        "{err}"
    );
    assert!(
        err.contains("line 25002"),
        "the bad row is reported by line: {err}"
    );
    let (n,): (i64,) = db.fetch_one(switchboard_store::sql("SELECT COUNT(*) FROM leads l JOIN lists ON lists.id = l.list_id WHERE lists.name = 'Bulk'")).await.unwrap();
    assert_eq!(n, 25_000);
    // Running it again imports nothing new.
    let out = bin()
        .args(["import", file.to_str().unwrap()])
        .env("SWITCHBOARD_DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 imported, 25001 duplicates"));
    // A one-shot command is no dialer instance: it registers none, so it can neither take a
    // campaign over nor place a call that would outlive it.
    let out = bin()
        .args(["user", "add", "cli-operator"])
        .env("SWITCHBOARD_DATABASE_URL", url)
        .env("SWITCHBOARD_NEW_USER_PASSWORD", "operator-password-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (instances,): (i64,) = db
        .fetch_one(switchboard_store::sql("SELECT COUNT(*) FROM instances"))
        .await
        .unwrap();
    assert_eq!(instances, 0, "the import or user add ran a dialer engine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_streams_a_file_sqlite() {
    import_into(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_streams_a_file_postgres() {
    import_into(Backend::Postgres).await
}

/// A lost password is set again from the command line: generated and printed, or given; the
/// user's sessions end; an unknown user is an error that changes nothing.
async fn password_reset_from_the_command_line(backend: Backend) {
    let Some(t) = fresh_db(backend).await else {
        return;
    };
    let (db, url) = (&t.db, &t.url);
    let run = |args: &[&str], password: Option<&str>| {
        let mut c = bin();
        c.args(args).env("SWITCHBOARD_DATABASE_URL", url);
        if let Some(p) = password {
            c.env("SWITCHBOARD_NEW_USER_PASSWORD", p);
        }
        let out = c.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, err) = run(
        &["user", "add", "agent9", "--email", "a9@example.com"],
        Some("first-password-1"),
    );
    assert!(ok, "{err}");
    let user = |login: &'static str| async move {
        switchboard_store::users::find_login(db, login)
            .await
            .unwrap()
            .unwrap()
    };
    let before = user("agent9").await;
    assert_eq!(before.token_generation, 0);

    let (ok, err) = run(&["user", "password", "A9@example.com"], None);
    assert!(ok, "{err}");
    assert!(err.contains("their sessions have ended"), "{err}");
    let printed = err
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("the generated password is printed");
    assert!(printed.len() >= 16, "{printed}");
    let after = user("agent9").await;
    assert_eq!(after.token_generation, 1, "the sessions ended");
    assert!(
        switchboard_server::auth::verify_password(
            printed.into(),
            Some(after.password_hash.clone())
        )
        .await
    );
    assert!(
        !switchboard_server::auth::verify_password(
            "first-password-1".into(),
            Some(after.password_hash.clone())
        )
        .await
    );

    let (ok, err) = run(&["user", "password", "agent9"], Some("chosen-password-2"));
    assert!(ok, "{err}");
    assert!(
        !err.contains("password: "),
        "a given password is not printed: {err}"
    );
    let chosen = user("agent9").await;
    assert!(
        switchboard_server::auth::verify_password(
            "chosen-password-2".into(),
            Some(chosen.password_hash.clone())
        )
        .await
    );

    let (ok, err) = run(&["user", "password", "agent9"], Some("short"));
    assert!(!ok);
    assert!(err.contains("SWITCHBOARD_NEW_USER_PASSWORD"), "{err}");
    let (ok, err) = run(&["user", "password", "nobody"], Some("chosen-password-3"));
    assert!(!ok);
    assert!(err.contains("no user 'nobody'"), "{err}");
    assert_eq!(
        user("agent9").await.password_hash,
        chosen.password_hash,
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_from_the_command_line_sqlite() {
    password_reset_from_the_command_line(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_from_the_command_line_postgres() {
    password_reset_from_the_command_line(Backend::Postgres).await
}

#[test]
fn first_start_without_a_password_prints_a_random_one_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("a.db").display());
    let out = bin()
        .env_remove("SWITCHBOARD_ADMIN_PASSWORD")
        .env("SWITCHBOARD_DATABASE_URL", &url)
        .args(["user", "add", "agent1", "--role", "operator"])
        .env("SWITCHBOARD_NEW_USER_PASSWORD", "agent-password-1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("Created user 'admin' with password:"))
        .expect("password printed");
    let password = line.rsplit(' ').next().unwrap();
    assert!(password.len() >= 16);
    assert!(err.contains("created user agent1"));
    // Second start: nothing printed.
    let out = bin()
        .env_remove("SWITCHBOARD_ADMIN_PASSWORD")
        .env("SWITCHBOARD_DATABASE_URL", &url)
        .args(["migrate"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("password"));
}

/// `serve` answers real HTTP on a socket and stops on SIGTERM.
#[test]
fn serve_answers_http_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = bin()
        .args(["serve"])
        .env(
            "SWITCHBOARD_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("s.db").display()),
        )
        .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut response = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let body = r#"{"username":"admin","password":"cli-password-1"}"#;
            write!(s, "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
            s.read_to_string(&mut response).unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"token\""));
    // Over a real socket from this machine, `/metrics` is served (no token configured) and has
    // counted the sign-in.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut metrics = String::new();
    s.read_to_string(&mut metrics).unwrap();
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains(
            "switchboard_http_requests_total{route=\"/api/auth/login\",method=\"POST\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    unsafe_kill_term(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful exit on SIGTERM: {status}");
}

fn unsafe_kill_term(pid: u32) {
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
}

/// `switchboard backup FILE` copies a SQLite database into a new file, consistent while
/// another connection writes; it refuses an existing file, a missing database and PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_sqlite_database() {
    use switchboard_store::{Db, sql};
    let Some(t) = fresh_db(Backend::Sqlite).await else {
        return;
    };
    let mut tx = t.db.begin().await.unwrap();
    let client = switchboard_store::clients::create(&mut tx, "Backed up", 10, None)
        .await
        .unwrap()
        .id;
    sql("CREATE TABLE IF NOT EXISTS backup_probe (n BIGINT NOT NULL)")
        .execute(&mut tx)
        .await
        .unwrap();
    for n in 0..1000i64 {
        sql("INSERT INTO backup_probe (n) VALUES ($1)")
            .arg(n)
            .execute(&mut tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    // A writer keeps going while the copy is made: the copy holds whole transactions only.
    let writer = {
        let db = t.db.clone();
        tokio::spawn(async move {
            for n in 1000..1400i64 {
                let mut tx = db.begin().await.unwrap();
                for k in 0..5 {
                    sql("INSERT INTO backup_probe (n) VALUES ($1)")
                        .arg(n * 10 + k)
                        .execute(&mut tx)
                        .await
                        .unwrap();
                }
                tx.commit().await.unwrap();
            }
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.db");
    let run = |url: &str, dest: &std::path::Path| {
        let out = bin()
            .args(["backup", dest.to_str().unwrap()])
            .env("SWITCHBOARD_DATABASE_URL", url)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, err) = tokio::task::spawn_blocking({
        let (url, dest) = (t.url.clone(), dest.clone());
        move || run(&url, &dest)
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(err.contains("backed up into"), "{err}");
    writer.await.unwrap();

    let copy = Db::connect(&format!("sqlite://{}", dest.display()))
        .await
        .unwrap();
    let (name,): (String,) = sql("SELECT name FROM clients WHERE id = $1")
        .arg(client)
        .fetch_one(&mut copy.read().await.unwrap())
        .await
        .unwrap();
    assert_eq!(name, "Backed up");
    let (rows,): (i64,) = sql("SELECT COUNT(*) FROM backup_probe")
        .fetch_one(&mut copy.read().await.unwrap())
        .await
        .unwrap();
    assert!(
        (1000..=3000).contains(&rows) && rows % 5 == 0,
        "whole transactions only: {rows}"
    );
    let (check,): (String,) = sql("PRAGMA integrity_check")
        .fetch_one(&mut copy.read().await.unwrap())
        .await
        .unwrap();
    assert_eq!(check, "ok");

    // Not over an existing file, not from a database that is not there, not PostgreSQL.
    let before = std::fs::metadata(&dest).unwrap().len();
    let (ok, err) = run(&t.url, &dest);
    assert!(!ok && err.contains("exists already"), "{err}");
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), before);
    let missing = dir.path().join("missing.db");
    let (ok, err) = run(
        &format!("sqlite://{}", missing.display()),
        &dir.path().join("other.db"),
    );
    assert!(!ok && err.contains("does not exist"), "{err}");
    assert!(!missing.exists(), "nothing created");
    if let Ok(pg) = std::env::var("SWITCHBOARD_TEST_PG_URL") {
        let (ok, err) = run(&pg, &dir.path().join("pg.db"));
        assert!(!ok && err.contains("pg_dump"), "{err}");
    }
}

/// `switchboard demo` starts a live dashboard on a fresh file: its people, its leads in two
/// lists, a simulator campaign dialing (hanging up on voicemails), and an operator's two call
/// backs due a few minutes on; a second start replaces the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_starts_a_live_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.db");
    for round in 0..2 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join(format!("demo-{round}.log"));
        let mut child = bin()
            .args(["demo", "--file", file.to_str().unwrap(), "--leads", "200"])
            .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{port}"))
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = switchboard_telephony::http::builder().build().unwrap();
        let mut token = None;
        for _ in 0..300 {
            let signed = http
                .post(format!("{base}/api/auth/login"))
                .header("content-type", "application/json")
                .body(r#"{"username":"admin","password":"cli-password-1"}"#)
                .send()
                .await;
            if let Ok(r) = signed {
                let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
                token = v["token"].as_str().map(str::to_owned);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let token = token.expect("the demo serves sign-ins");
        let get = |path: &str| {
            let (http, url, token) = (http.clone(), format!("{base}{path}"), token.clone());
            async move {
                let r = http.get(url).bearer_auth(token).send().await.unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                serde_json::from_str::<serde_json::Value>(&r.text().await.unwrap()).unwrap()
            }
        };
        let leads = get("/api/leads?limit=1").await;
        assert_eq!(leads["pagination"]["total"], 200, "{leads}");
        let backs = get("/api/leads?callback=true&sort_by=next_attempt_at&sort_order=asc").await;
        assert_eq!(backs["pagination"]["total"], 2, "{backs}");
        assert!(backs["leads"][0]["assigned_user_id"].is_i64(), "{backs}");
        assert_eq!(backs["leads"][0]["callback_for"], "agent", "{backs}");
        assert_eq!(backs["leads"][1]["callback_for"], "anyone", "{backs}");
        let campaigns = get("/plivo/dashboard/campaigns").await;
        let c = &campaigns["campaigns"][0];
        assert_eq!(c["status"], "running", "{campaigns}");
        assert_eq!(c["settings"]["machineDetection"], true, "{campaigns}");
        // The campaign dials.
        let mut dialed = serde_json::Value::Null;
        for _ in 0..100 {
            dialed = get("/api/calls?limit=1").await;
            if dialed["pagination"]["total"].as_i64() > Some(0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(dialed["pagination"]["total"].as_i64() > Some(0), "{dialed}");
        unsafe_kill_term(child.id());
        assert!(child.wait().unwrap().success());
        let said = std::fs::read_to_string(&log).unwrap();
        for line in [
            "demo user asha (admin) password: ",
            "demo user ben (operator) password: ",
            "demo leads: 200 imported",
            "demo call backs: two for ben",
        ] {
            assert!(said.contains(line), "{line:?} in {said}");
        }
    }
}
