//! The web dashboard: a page and its scripts and styles, compiled into the binary and served
//! by it (nothing fetched from elsewhere, no build step). The page talks to the same API as any
//! other client: it signs in at `/api/auth/login`, keeps the token, and hears events at
//! `/api/events`.
//!
//! Every answer carries a Content-Security-Policy that lets the page load and call nothing but
//! this server, and run no inline script: text from the database is only ever set as text.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// One file of the dashboard.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const PAGE: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_str!("dashboard/index.html"),
};

/// A script of the dashboard (an ES module).
const fn script(name: &'static str, body: &'static str) -> Asset {
    Asset {
        name,
        content_type: "text/javascript; charset=utf-8",
        body,
    }
}

/// The files under `/assets/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("dashboard/app.css"),
    },
    script("app.js", include_str!("dashboard/app.js")),
    script("api.js", include_str!("dashboard/api.js")),
    script("ui.js", include_str!("dashboard/ui.js")),
    script("admin.js", include_str!("dashboard/admin.js")),
    script("leads.js", include_str!("dashboard/leads.js")),
    script("settings.js", include_str!("dashboard/settings.js")),
    script("dialing.js", include_str!("dashboard/dialing.js")),
    script("lists.js", include_str!("dashboard/lists.js")),
    script("history.js", include_str!("dashboard/history.js")),
    script("capacity.js", include_str!("dashboard/capacity.js")),
    script("team.js", include_str!("dashboard/team.js")),
    script("webhooks.js", include_str!("dashboard/webhooks.js")),
    script("agent.js", include_str!("dashboard/agent.js")),
];

/// Only this server: its scripts, styles and API; no inline script, no frames, no plugins.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn every_file() -> impl Iterator<Item = &'static Asset> {
    std::iter::once(&PAGE).chain(ASSETS)
}

/// Each file's entity tag, from its content: a browser asks again at every load (the files
/// change with the binary) and gets a 304 while its copy is current. The gzipped copy is
/// another representation, with a tag of its own.
static TAGS: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    every_file()
        .map(|a| {
            let tag = hex::encode(&Sha256::digest(a.body.as_bytes())[..12]);
            (format!("\"{tag}\""), format!("\"{tag}-gz\""))
        })
        .collect()
});

/// Each file gzipped once, when first asked for.
static GZIPPED: LazyLock<Vec<bytes::Bytes>> = LazyLock::new(|| {
    every_file()
        .map(|a| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::Write::write_all(&mut e, a.body.as_bytes()).expect("in memory");
            e.finish().expect("in memory").into()
        })
        .collect()
});

/// Whether the browser takes gzip (`Accept-Encoding`; a weight of 0 refuses it).
fn takes_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let mut parts = t.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn answer(index: usize, asset: &Asset, headers: &HeaderMap) -> Response {
    let gzip = takes_gzip(headers);
    let (plain_tag, gzip_tag) = &TAGS[index];
    let tag = if gzip { gzip_tag } else { plain_tag };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            GZIPPED[index].clone(),
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(tag).expect("a hex tag"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    protect(h, HeaderValue::from_static(CSP));
    res
}

/// The headers every page of ours carries: its content security policy `csp`, no sniffing of
/// types, no framing, no referrer sent on.
pub fn protect(h: &mut HeaderMap, csp: HeaderValue) {
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The dashboard's routes; public (the page signs in through the API), not rate limited.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(page))
        .routes(routes!(asset))
}

#[utoipa::path(
    get,
    path = "/",
    tag = "dashboard",
    summary = "The web dashboard",
    description = "The dashboard's page. It signs in through `/api/auth/login` and hears live \
                   events through `/api/events`; admins see live calls, leads, campaigns, call \
                   history and the team, operators their leads, their call and their history.",
    responses((status = 200, description = "HTML page", content_type = "text/html", body = String),
              (status = 304, description = "The copy the browser holds is current"))
)]
pub async fn page(headers: HeaderMap) -> Response {
    answer(0, &PAGE, &headers)
}

#[utoipa::path(
    get,
    path = "/assets/{file}",
    tag = "dashboard",
    summary = "A script or style sheet of the dashboard",
    params(("file" = String, Path, description = "The file's name, such as `app.js`")),
    responses((status = 200, description = "The file", content_type = "text/plain", body = String),
              (status = 304, description = "The copy the browser holds is current"),
              (status = 404, description = "No such file", body = crate::docs::ErrorBody))
)]
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|a| a.name == file) {
        Some(i) => answer(i + 1, &ASSETS[i], &headers),
        None => ApiError::new(StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every script the page names is served, and every module a script imports.
    #[test]
    fn every_file_the_dashboard_names_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        let mut named = Vec::new();
        for body in std::iter::once(PAGE.body).chain(ASSETS.iter().map(|a| a.body)) {
            for (i, _) in body.match_indices("/assets/") {
                let rest = &body[i + "/assets/".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                    .unwrap_or(rest.len());
                named.push(&rest[..end]);
            }
            for (i, _) in body.match_indices("from \"./") {
                let rest = &body[i + "from \"./".len()..];
                named.push(&rest[..rest.find('"').unwrap()]);
            }
        }
        assert!(named.len() >= ASSETS.len(), "{named:?}");
        for name in named {
            assert!(served.contains(&name), "{name} is named but not served");
        }
    }

    /// The value lists the scripts offer are the core's: a value added to the core shows in
    /// the dashboard's menus, or this fails.
    #[test]
    fn the_scripts_offer_the_cores_values() {
        use switchboard_core::lead::{Disposition, DispositionInput};
        use switchboard_core::{LeadStatus, Priority};
        let leads = ASSETS.iter().find(|a| a.name == "leads.js").unwrap().body;
        let list = |name: &str| -> Vec<String> {
            let start = leads.find(&format!("const {name} = [")).expect(name) + name.len() + 10;
            let end = start + leads[start..].find(']').unwrap();
            leads[start..end]
                .split(',')
                .map(|v| v.trim().trim_matches('"').to_string())
                .filter(|v| !v.is_empty())
                .collect()
        };
        let names = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            list("LEAD_STATUSES"),
            names(LeadStatus::ALL.iter().map(|s| s.as_str()).collect())
        );
        assert_eq!(
            list("PRIORITIES"),
            names(Priority::ALL.iter().map(|p| p.as_str()).collect())
        );
        // IN_QUEUE (no disposition) is what `DispositionInput` parses besides the core's values.
        assert_eq!(
            DispositionInput::parse("IN_QUEUE"),
            Some(DispositionInput::InQueue)
        );
        let mut settable = vec!["IN_QUEUE"];
        settable.extend(
            Disposition::ALL
                .iter()
                .filter(|d| DispositionInput::Set(**d).settable_by_people())
                .map(|d| d.as_str()),
        );
        let mut offered = list("SETTABLE_DISPOSITIONS");
        offered.sort();
        settable.sort();
        assert_eq!(offered, names(settable));
        // The statuses after which the scripts take a call for over.
        let ui = ASSETS.iter().find(|a| a.name == "ui.js").unwrap().body;
        let start = ui.find("const FINAL = new Set([").unwrap() + 23;
        let mut finals: Vec<&str> = ui[start..start + ui[start..].find(']').unwrap()]
            .split(',')
            .map(|v| v.trim().trim_matches('"'))
            .collect();
        finals.sort();
        let mut core: Vec<&str> = switchboard_core::CallStatus::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| s.as_str())
            .collect();
        core.sort();
        assert_eq!(finals, core);
        let mut a = answer_for("nope.js");
        assert_eq!(a.status(), StatusCode::NOT_FOUND);
        a = answer_for("../app.js");
        assert_eq!(a.status(), StatusCode::NOT_FOUND);
        assert_eq!(answer_for("app.js").status(), StatusCode::OK);
    }

    /// What `/assets/{file}` answers for `file`.
    fn answer_for(file: &str) -> Response {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(asset(Path(file.to_string()), HeaderMap::new()))
    }

    #[test]
    fn a_current_copy_gets_304_and_every_answer_its_policy() {
        let mut headers = HeaderMap::new();
        let first = answer(1, &ASSETS[0], &headers);
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()[header::ETAG].clone();
        assert!(
            first.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        headers.insert(header::IF_NONE_MATCH, tag);
        let again = answer(1, &ASSETS[0], &headers);
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(
            again
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
        // Another file's tag does not match.
        assert_eq!(answer(2, &ASSETS[1], &headers).status(), StatusCode::OK);
    }

    /// A browser that takes gzip gets the file gzipped, under a tag of its own; one that does
    /// not (or refuses it with a weight of 0) gets it as it is.
    #[test]
    fn files_go_gzipped_to_browsers_that_take_it() {
        use http_body_util::BodyExt;
        let body = |r: Response| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(r.into_body().collect())
                .unwrap()
                .to_bytes()
        };
        let (i, file) = (4, &ASSETS[3]);
        let with = |accept: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(accept).unwrap(),
            );
            answer(i, file, &h)
        };
        let gz = with("gzip, deflate, br, zstd");
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gz.headers()[header::VARY], "accept-encoding");
        let gz_tag = gz.headers()[header::ETAG].clone();
        let packed = body(gz);
        assert!(
            packed.len() * 2 < file.body.len(),
            "{} of {}",
            packed.len(),
            file.body.len()
        );
        let mut unpacked = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&packed[..]),
            &mut unpacked,
        )
        .unwrap();
        assert_eq!(unpacked, file.body);
        for accept in ["identity", "br", "gzip;q=0, br", "GZIP ; q=0"] {
            let plain = with(accept);
            assert!(
                !plain.headers().contains_key(header::CONTENT_ENCODING),
                "{accept}"
            );
            assert_ne!(plain.headers()[header::ETAG], gz_tag, "{accept}");
            assert_eq!(body(plain), file.body.as_bytes(), "{accept}");
        }
        assert!(with("*").headers().contains_key(header::CONTENT_ENCODING));
        // The gzipped copy's tag gets a 304 where gzip is taken, and the file where it is not.
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, gz_tag);
        assert_eq!(answer(i, file, &h).status(), StatusCode::OK);
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(answer(i, file, &h).status(), StatusCode::NOT_MODIFIED);
    }
}
