//! Each client's calling schedule, stored as the document people edit, with a version that
//! increases on every change.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use switchboard_core::schedule::{ScheduleDoc, WindowDoc};

use crate::{AsExec, Result, now, sql};

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    timezone: String,
    windows: Json<Vec<WindowRow>>,
    holidays: Json<Vec<String>>,
    enabled: bool,
    number_zones: bool,
    version: i64,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct WindowRow {
    weekday: u8,
    start: String,
    end: String,
}

/// A stored schedule with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub doc: ScheduleDoc,
    pub version: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The client's schedule, or `None` when it never set one (callers use the default).
pub async fn get(ex: &mut impl AsExec, client_id: i64) -> Result<Option<Stored>> {
    let row: Option<Row> = sql("SELECT timezone, windows, holidays, enabled, number_zones, version, updated_at FROM schedules WHERE client_id = $1")
        .arg(client_id)
        .fetch_optional(ex)
        .await?;
    Ok(row.map(|r| Stored {
        doc: ScheduleDoc {
            timezone: r.timezone,
            windows: r
                .windows
                .0
                .into_iter()
                .map(|w| WindowDoc {
                    weekday: w.weekday,
                    start: w.start,
                    end: w.end,
                })
                .collect(),
            holidays: r.holidays.0,
            enabled: r.enabled,
            number_zones: r.number_zones,
        },
        version: r.version,
        updated_at: Some(r.updated_at),
    }))
}

/// Store `doc` (already checked) as the client's schedule; the version goes up by one from
/// `previous` (the version the default or stored schedule had).
pub async fn put(
    ex: &mut impl AsExec,
    client_id: i64,
    doc: &ScheduleDoc,
    previous: i64,
    user_id: Option<i64>,
) -> Result<i64> {
    let windows: Vec<WindowRow> = doc
        .windows
        .iter()
        .map(|w| WindowRow {
            weekday: w.weekday,
            start: w.start.clone(),
            end: w.end.clone(),
        })
        .collect();
    let version = previous + 1;
    sql("INSERT INTO schedules (client_id, timezone, windows, holidays, enabled, number_zones, version, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $9, $6, $7, $8) \
         ON CONFLICT (client_id) DO UPDATE SET timezone = $2, windows = $3, holidays = $4, enabled = $5, \
         number_zones = $9, version = schedules.version + 1, updated_by = $7, updated_at = $8")
    .arg(client_id)
    .arg(doc.timezone.as_str())
    .arg(serde_json::to_value(&windows).unwrap_or_default())
    .arg(serde_json::to_value(&doc.holidays).unwrap_or_default())
    .arg(doc.enabled)
    .arg(version)
    .arg(user_id)
    .arg(now())
    .arg(doc.number_zones)
    .execute(ex)
    .await?;
    Ok(sql("SELECT version FROM schedules WHERE client_id = $1")
        .arg(client_id)
        .fetch_one::<(i64,)>(ex)
        .await?
        .0)
}
