//! Dialer benchmarks: a simulator campaign watched end to end, and external dialers looping
//! `next-batch` / `report-result`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Report;

async fn get_json(
    c: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<(Duration, Value)> {
    let t = Instant::now();
    let r = c.get(url).bearer_auth(token).send().await?;
    let ok = r.status().is_success();
    let v: Value = r.json().await?;
    anyhow::ensure!(ok, "GET {url}: {v}");
    Ok((t.elapsed(), v))
}

fn rss_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// What the readers poll while a campaign runs, in turn.
const READ_PATHS: [&str; 4] = [
    "/plivo/campaign-progress/{id}",
    "/api/calls?page=1&limit=20",
    "/plivo/get-active-channels",
    "/api/leads?page=1&limit=20&status=pending",
];

/// Start a campaign over `list_id` and watch it to the end: start rate, live calls, API
/// latency (a reader polling three routes while it runs) and the server's memory.
pub async fn campaign(
    target: String,
    token: String,
    list_id: i64,
    cap: i64,
    server_pid: u32,
    readers: usize,
) -> anyhow::Result<()> {
    let c = crate::client(readers + 2);
    let r = c
        .post(format!("{target}/plivo/create-campaign"))
        .bearer_auth(&token)
        .json(&json!({"campaignName": "bench", "listId": list_id.to_string(), "fromNumber": "+14155550100", "wssUrl": "wss://bot.example.com/stream", "maxConcurrentCalls": cap}))
        .send()
        .await?;
    let v: Value = r.json().await?;
    let id = v["campaignId"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("create-campaign: {v}"))?
        .to_string();
    let total = v["data"]["totalContacts"].as_i64().unwrap_or(0);
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for r in 0..readers {
        let (c, target, token, id, done, latencies) = (
            c.clone(),
            target.clone(),
            token.clone(),
            id.clone(),
            done.clone(),
            latencies.clone(),
        );
        handles.push(tokio::spawn(async move {
            let paths = READ_PATHS.map(|p| p.replace("{id}", &id));
            let mut i = r;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let url = format!("{target}{}", paths[i % paths.len()]);
                if let Ok((d, _)) = get_json(&c, &url, &token).await {
                    latencies.lock().unwrap().push((i % paths.len(), d));
                }
                i += 1;
                // A dashboard polling about four times a second.
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }));
    }
    // Samples: (seconds, processed, live calls).
    let mut samples: Vec<(f64, i64, i64)> = Vec::new();
    let mut peak_live = 0;
    let mut peak_rss = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, p) = get_json(
            &c,
            &format!("{target}/plivo/campaign-progress/{id}"),
            &token,
        )
        .await?;
        let processed = p["progress"]["processedContacts"].as_i64().unwrap_or(0);
        let live = p["statistics"]["activeCalls"].as_i64().unwrap_or(0);
        peak_live = peak_live.max(live);
        peak_rss = peak_rss.max(rss_kb(server_pid, "VmRSS:"));
        samples.push((started.elapsed().as_secs_f64(), processed, live));
        if p["progress"]["status"] != "running" {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(3600),
            "campaign too slow"
        );
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in handles {
        let _ = h.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Sustained: from 10% to 90% of the contacts.
    let at = |frac: f64| {
        samples
            .iter()
            .find(|s| s.1 as f64 >= frac * total as f64)
            .map(|s| (s.0, s.1))
    };
    let sustained = match (at(0.1), at(0.9)) {
        (Some(a), Some(b)) if b.0 > a.0 => (b.1 - a.1) as f64 / (b.0 - a.0),
        _ => 0.0,
    };
    let peak_hwm = rss_kb(server_pid, "VmHWM:");
    println!(
        "campaign: contacts={total} seconds={elapsed:.1} overall={:.0}/s sustained(10-90%)={sustained:.0}/s peak_live={peak_live} cap={cap} peak_rss={}MiB hwm={}MiB",
        total as f64 / elapsed,
        peak_rss / 1024,
        peak_hwm / 1024
    );
    let all: Vec<(usize, Duration)> = std::mem::take(&mut *latencies.lock().unwrap());
    let mut rep = Report {
        latencies: all.iter().map(|(_, d)| *d).collect(),
        errors: 0,
        elapsed: Duration::from_secs_f64(elapsed),
    };
    rep.print("api-during-campaign");
    for (k, name) in READ_PATHS.iter().enumerate() {
        let mut one = Report {
            latencies: all
                .iter()
                .filter(|(p, _)| *p == k)
                .map(|(_, d)| *d)
                .collect(),
            errors: 0,
            elapsed: Duration::from_secs_f64(elapsed),
        };
        one.print(&format!("  {name}"));
    }
    Ok(())
}

/// `clients` external dialers, each looping `next-batch?size=N` and one `report-result` per
/// number, until the queue is empty. Counts numbers handed out twice.
pub async fn dialer_loop(
    target: String,
    token: String,
    clients: usize,
    size: usize,
) -> anyhow::Result<()> {
    let c = crate::client(clients * 2);
    let seen: Arc<Mutex<HashSet<i64>>> = Arc::new(Mutex::new(HashSet::new()));
    let dupes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for w in 0..clients {
        let (c, target, token, seen, dupes) = (
            c.clone(),
            target.clone(),
            token.clone(),
            seen.clone(),
            dupes.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut batch_lat = Vec::new();
            let mut report_lat = Vec::new();
            let mut errors = 0u64;
            let statuses = ["CONNECTED", "NOT_INTERESTED", "FAILED", "HANGUP"];
            let mut k = w;
            loop {
                let Ok((d, v)) = get_json(&c, &format!("{target}/api/dialer/next-batch?size={size}"), &token).await else {
                    errors += 1;
                    continue;
                };
                batch_lat.push(d);
                let numbers = v["batch"]["numbers"].as_array().cloned().unwrap_or_default();
                if numbers.is_empty() {
                    break;
                }
                for n in numbers {
                    let id = n["id"].as_i64().unwrap_or(0);
                    if !seen.lock().unwrap().insert(id) {
                        dupes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    k += 1;
                    let t = Instant::now();
                    let r = c
                        .post(format!("{target}/api/dialer/report-result"))
                        .bearer_auth(&token)
                        .json(&json!({"number_id": id, "phone_number": n["phone_number"], "status": statuses[k % statuses.len()], "user_message": "bench"}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            report_lat.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
            }
            (batch_lat, report_lat, errors)
        }));
    }
    let mut batch = Vec::new();
    let mut report = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (b, r, e) = h.await?;
        batch.extend(b);
        report.extend(r);
        errors += e;
    }
    let elapsed = started.elapsed();
    let handed = seen.lock().unwrap().len();
    println!(
        "dialer-loop: clients={clients} size={size} numbers={handed} seconds={:.2} rate={:.0} numbers/s handed_out_twice={}",
        elapsed.as_secs_f64(),
        report.len() as f64 / elapsed.as_secs_f64(),
        dupes.load(std::sync::atomic::Ordering::Relaxed)
    );
    Report {
        latencies: batch,
        errors: 0,
        elapsed,
    }
    .print("next-batch");
    Report {
        latencies: report,
        errors,
        elapsed,
    }
    .print("report-result");
    Ok(())
}
