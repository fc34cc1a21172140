//! Connections over a real socket: clients that are slow to send, or idle, are let go after
//! `client_timeout_secs`; clients that keep sending are served.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_configured;
use crate::harness::{ADMIN_PASSWORD, TestApp, test_config};

both_configured!(slow_and_idle_clients_are_let_go => one_second);

fn one_second() -> switchboard_server::Config {
    switchboard_server::Config {
        client_timeout_secs: 1,
        ..test_config()
    }
}

/// Everything the server sends until it closes the connection, and when it closed it (`None`:
/// still open after 10 s).
async fn until_closed(c: &mut TcpStream, since: Instant) -> (String, Option<Duration>) {
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&got).into(), Some(since.elapsed()));
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), None),
        }
    }
}

async fn slow_and_idle_clients_are_let_go(app: TestApp) {
    let (addr, stop, server) = app.serve().await;

    // Part of a request's head, then nothing: closed, unanswered.
    let mut c = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (got, closed) = until_closed(&mut c, t).await;
    let closed = closed.expect("a half-sent head is let go");
    assert!(closed >= Duration::from_millis(900), "{closed:?}");
    assert!(!got.contains("200 OK"), "{got}");

    // A kept-alive connection: its request answered, then closed when no other comes.
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let t = Instant::now();
    let (got, closed) = until_closed(&mut c, t).await;
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
    assert!(got.contains("\"status\""), "{got}");
    let closed = closed.expect("an idle kept-alive connection is let go");
    assert!(closed >= Duration::from_millis(900), "{closed:?}");

    // A body that stops coming: a 400 in seed 001's shape, and the connection closed.
    let mut c = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    c.write_all(
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"email\": ",
    )
    .await
    .unwrap();
    let (got, closed) = until_closed(&mut c, t).await;
    assert!(got.starts_with("HTTP/1.1 400"), "{got}");
    assert!(
        got.contains("\"error\"") && got.contains("\"message\""),
        "{got}"
    );
    let closed = closed.expect("a stalled body's connection is let go");
    assert!(closed >= Duration::from_millis(900), "{closed:?}");

    // An upload that stops coming: a 400 too (axum calls an unreadable multipart body a 500),
    // and nothing imported.
    let admin = app.admin().await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    c.write_all(
        format!(
            "POST /api/leads/upload-csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
             Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 1000\r\n\r\n\
             --XX\r\nContent-Disposition: form-data; name=\"csvFile\"; filename=\"a.csv\"\r\n\r\n\
             phone\n+14155550100\n+1415"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (got, closed) = until_closed(&mut c, t).await;
    assert!(got.starts_with("HTTP/1.1 400"), "{got}");
    assert!(got.contains("stopped before its end"), "{got}");
    assert!(closed.is_some(), "a stalled upload's connection is let go");
    let (_, v) = app.get("/api/leads", &admin).await;
    assert_eq!(v["pagination"]["total"], 0, "nothing imported: {v}");

    // A body that keeps coming, more slowly in all than the timeout: served.
    let body = format!(r#"{{"email": "admin@example.com", "password": "{ADMIN_PASSWORD}"}}"#);
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(
        format!(
            "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let t = Instant::now();
    for piece in body.as_bytes().chunks(body.len() / 4 + 1) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.write_all(piece).await.unwrap();
    }
    let (got, _) = until_closed(&mut c, t).await;
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "slower than the timeout in all"
    );
    assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
    assert!(got.contains("\"token\""), "{got}");

    // Stopping: the server ends, an open connection with it.
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    c.read_exact(&mut buf).await.unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
}
