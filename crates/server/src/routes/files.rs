//! CSV upload (seed 001) and XLSX / CSV export (seed 002).

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_store::import::{ImportOptions, RowError, import_csv};
use switchboard_store::leads::{self, ExportRow};
use switchboard_store::lists;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Multipart, Query, multipart_error, ts, ts_opt};
use crate::routes::export;
use crate::routes::leads::build_filter;
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/api/leads/upload-csv",
    tag = "files",
    summary = "Import leads from a CSV file",
    description = "Multipart upload; duplicates and bad rows are counted and reported, not fatal.",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body(content = crate::docs::UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "What was imported, and the rows refused", body = UploadAnswer),
        (status = 400, description = "No file, not CSV, or no such list", body = crate::docs::ErrorBody),
        (status = 409, description = "A `list` column names a list being deleted; nothing was imported", body = crate::docs::ErrorBody),
        (status = 413, description = "File too large", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn upload_csv(
    State(st): State<AppState>,
    p: Principal,
    Multipart(mut form): Multipart,
) -> ApiResult<Json<UploadAnswer>> {
    if !p.is_admin() {
        return Err(ApiError::forbidden("this needs an admin"));
    }
    let mut file: Option<std::fs::File> = None;
    let mut list_field: Option<String> = None;
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(&e))? {
        match field.name() {
            Some("csvFile") | Some("file") => {
                file = Some(spool(field, st.config.upload_limit_bytes).await?);
            }
            Some("listId") | Some("list_id") => {
                list_field = Some(field.text().await.map_err(|e| multipart_error(&e))?);
            }
            _ => {}
        }
    }
    let file = file
        .ok_or_else(|| ApiError::bad_request("no file: send it as the multipart field csvFile"))?;
    let mut opts = ImportOptions::new(p.client_id());
    if let Some(l) = list_field
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    {
        let id: i64 = l
            .parse()
            .map_err(|_| ApiError::bad_request("listId must be a list id"))?;
        lists::get(&st.db, p.client_id(), id)
            .await?
            .ok_or_else(|| ApiError::bad_request(format!("list {id} does not exist")))?;
        opts.list_id = Some(id);
    }
    let report = import_csv(&st.db, file, st.phones.clone(), opts, |_| {}).await?;
    Ok(Json(UploadAnswer {
        message: "CSV upload completed",
        summary: UploadSummary {
            total_processed: report.total_processed,
            success_count: report.success_count,
            duplicate_count: report.duplicate_count,
            error_count: report.error_count,
        },
        errors: report.errors,
    }))
}

/// An uploaded file, written to an unnamed temporary file as it comes (so an upload takes the
/// same memory whatever its size, up to `limit` bytes, past which it is a 413), read from its
/// start. The `listId` field may come after the file: the import starts once the form is read.
pub(crate) async fn spool(
    mut field: axum::extract::multipart::Field<'_>,
    limit: usize,
) -> ApiResult<std::fs::File> {
    use tokio::io::{AsyncSeekExt, AsyncWriteExt};
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "could not keep an upload in a temporary file");
        ApiError::internal()
    };
    let std_file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(io)?;
    // Pieces come a few KiB at a time; written a MiB at a time, each write is one trip to a
    // blocking thread.
    let mut f = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(std_file));
    let mut len = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        len += chunk.len();
        if len > limit {
            return Err(ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the file is over {limit} bytes ({} MB), the limit of uploads",
                    limit / (1024 * 1024)
                ),
            ));
        }
        f.write_all(&chunk).await.map_err(io)?;
    }
    f.flush().await.map_err(io)?;
    let mut f = f.into_inner();
    f.rewind().await.map_err(io)?;
    Ok(f.into_std().await)
}

/// Seed 001's upload answer, with the refused rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadAnswer {
    pub message: &'static str,
    pub summary: UploadSummary,
    /// The refused rows by line (the first 1,000; `summary.errorCount` counts all).
    pub errors: Vec<RowError>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadSummary {
    /// Data rows read.
    pub total_processed: u64,
    /// Leads created.
    pub success_count: u64,
    /// Rows whose phone was already a lead of the client (or earlier in the file).
    pub duplicate_count: u64,
    /// Rows refused (see `errors`).
    pub error_count: u64,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct ExportBody {
    #[serde(default)]
    #[schema(schema_with = crate::docs::field::ids)]
    ids: Option<Vec<Value>>,
    #[serde(default)]
    select_all: bool,
    #[schema(schema_with = crate::docs::field::lead_statuses)]
    status: Option<String>,
    search: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    #[schema(schema_with = crate::docs::field::loose_id_or_null)]
    agent_id: Option<Value>,
    #[serde(default)]
    #[schema(schema_with = crate::docs::field::ids)]
    excluded_ids: Vec<Value>,
    #[schema(schema_with = crate::docs::field::lead_sort)]
    sort_by: Option<String>,
    #[schema(schema_with = crate::docs::field::sort_order)]
    sort_order: Option<String>,
    #[schema(schema_with = crate::docs::field::loose_id_or_null)]
    list_id: Option<Value>,
    #[schema(schema_with = crate::docs::field::priorities)]
    priority: Option<String>,
    #[schema(schema_with = export_format_or_null)]
    format: Option<String>,
    /// `true`: only the leads a call back holds; `false`: only the others (as on `GET /api/leads`).
    callback: Option<bool>,
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    #[param(schema_with = export_format)]
    format: Option<String>,
}

/// `format`: what the export is written as.
fn export_format() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of(
        ["xlsx", "csv"],
        "The file's format (any letter case); default `xlsx`.",
    )
}

/// `format` in the body, which wins over the query's; null for the query's or the default.
fn export_format_or_null() -> utoipa::openapi::schema::Object {
    crate::docs::field::one_of_or_null(
        ["xlsx", "csv"],
        "The file's format (any letter case), over the query's; null or absent for the query's, \
         else `xlsx`.",
    )
}

/// Most ids one selection may name (`ids` or `excluded_ids`); as many as a bulk action takes.
const EXPORT_MAX_IDS: usize = 10_000;
const COLUMNS: [&str; 13] = [
    "id",
    "phone",
    "name",
    "email",
    "status",
    "lead_status",
    "priority",
    "attempts",
    "created_at",
    "updated_at",
    "last_attempt_at",
    "assigned_agent",
    "last_user_message",
];

fn row_cells(r: &ExportRow) -> [String; 13] {
    let l = &r.lead;
    let opt = |v: Value| v.as_str().unwrap_or("").to_string();
    [
        l.id.to_string(),
        l.phone.clone(),
        l.name.clone().unwrap_or_default(),
        l.email.clone().unwrap_or_default(),
        l.disposition.clone().unwrap_or_else(|| "IN_QUEUE".into()),
        l.status.clone(),
        l.priority.clone(),
        l.attempts.to_string(),
        ts(&l.created_at),
        ts(&l.updated_at),
        opt(ts_opt(&l.last_attempt_at)),
        r.agent_name.clone().unwrap_or_default(),
        l.notes.clone().unwrap_or_default(),
    ]
}

/// Seed 002: `ids`, or `select_all` with filters and `excluded_ids`; XLSX unless `format` is csv.
#[utoipa::path(
    post,
    path = "/api/numbers/export",
    tag = "files",
    summary = "Export leads as XLSX or CSV",
    params(ExportQuery),
    description = "`ids`, or `select_all` with filters and `excluded_ids`. XLSX unless `format` is `csv`.",
    security(("bearerAuth" = []), ("apiKey" = [])),
    request_body = ExportBody,
    responses(
        (status = 200, description = "The file, as an attachment", content(
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("text/csv"),
        )),
        (status = 400, description = "Invalid selection or format", body = crate::docs::ErrorBody),
        crate::docs::AdminErrors,
    )
)]
pub async fn export(
    State(st): State<AppState>,
    p: Principal,
    Query(q): Query<ExportQuery>,
    Json(b): Json<ExportBody>,
) -> ApiResult<Response> {
    if !p.is_admin() {
        return Err(ApiError::forbidden("this needs an admin"));
    }
    let format = b
        .format
        .clone()
        .or(q.format)
        .unwrap_or_else(|| "xlsx".into())
        .to_ascii_lowercase();
    if format != "xlsx" && format != "csv" {
        return Err(ApiError::bad_request("format must be xlsx or csv"));
    }
    let optional_id = |v: &Option<Value>, f: &str| match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => crate::extract::parse_id(v, f).map(Some),
    };
    let mut sel = build_filter(
        &st.phones,
        &b.status,
        &None,
        &b.priority,
        &None,
        &b.search,
        &b.start_date,
        &b.end_date,
        optional_id(&b.agent_id, "agent_id")?,
        optional_id(&b.list_id, "list_id")?,
        b.sort_by.as_deref(),
        b.sort_order.as_deref(),
    )?;
    let parse_ids = |v: &[Value], f: &str| {
        if v.len() > EXPORT_MAX_IDS {
            return Err(ApiError::bad_request(format!(
                "{f} names at most {EXPORT_MAX_IDS} ids; use select_all with filters for more"
            )));
        }
        v.iter()
            .map(|x| crate::extract::parse_id(x, &format!("{f}[]")))
            .collect::<Result<Vec<i64>, _>>()
    };
    match (&b.ids, b.select_all) {
        (Some(ids), false) if !ids.is_empty() => sel.filter.ids = Some(parse_ids(ids, "ids")?),
        (_, true) => {}
        _ => {
            return Err(ApiError::bad_request(
                "send ids, or select_all: true with filters",
            ));
        }
    }
    sel.filter.excluded_ids = parse_ids(&b.excluded_ids, "excluded_ids")?;
    sel.filter.callback = b.callback;

    let turn = export::turn(&st).await?;
    let mut conn = st.db.read().await?;
    let client = p.client_id();
    let (tx, rows) = export::rows();
    tokio::spawn(async move {
        let _query = turn.query;
        let found = leads::export(&mut conn, client, &sel.filter, &sel.sort);
        export::feed(found, row_cells, tx).await
    });
    export::table_file(&format, "numbers", &COLUMNS, rows, turn.download).await
}
