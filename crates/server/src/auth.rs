//! Passwords, tokens and the principals a request can carry.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use switchboard_core::Role;
use switchboard_store::Db;
use switchboard_store::api_keys::{self, KeyKind};
use switchboard_store::sign_ins;
use switchboard_store::users::{self, User};

use crate::error::ApiError;
use crate::state::AppState;

/// Passwords hashed or checked at once: half the cores (at least one). Each takes tens of
/// milliseconds of a core and argon2id's 19 MiB; a burst of sign-ins would otherwise take a
/// blocking thread and its memory each, and every core from the dialer and the API. More wait
/// their turn.
fn hashing() -> &'static tokio::sync::Semaphore {
    static AT_ONCE: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    AT_ONCE.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new((cores / 2).max(1))
    })
}

/// Hash a password with argon2id (off the async threads: it takes tens of milliseconds).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    let _turn = hashing()
        .acquire()
        .await
        .map_err(|_| ApiError::internal())?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| ApiError::internal())?
    .map_err(|_| ApiError::internal())
}

/// Check `password` against `hash`; an unknown user is checked against a dummy hash so both
/// answers take the same time.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let Ok(_turn) = hashing().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| {
            DUMMY
                .get_or_init(|| {
                    let salt = SaltString::generate(&mut OsRng);
                    Argon2::default()
                        .hash_password(b"not a password", &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                })
                .clone()
        });
        let ok = PasswordHash::new(&hash)
            .map(|h| check_reusing_memory(password.as_bytes(), &h))
            .unwrap_or(false);
        ok && known
    })
    .await
    .unwrap_or(false)
}

/// Argon2's working memory (19 MiB a check with the default parameters), kept between checks:
/// at most one set per turn (see [`hashing`]). Allocated afresh for each check, its pages were
/// faulted in and zeroed every time, and glibc kept the freed blocks in its heap: a burst of
/// sign-ins left the server at 250 MiB.
static MEMORY: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());

/// What `PasswordVerifier::verify_password` does (the hash's own algorithm, version and
/// parameters, a constant-time comparison), in memory taken from [`MEMORY`].
fn check_reusing_memory(password: &[u8], h: &PasswordHash<'_>) -> bool {
    use argon2::{Algorithm, Params, Version};
    let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(h.algorithm), Params::try_from(h))
    else {
        return false;
    };
    let version = match h.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut blocks = MEMORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_default();
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..])
        .is_ok();
    MEMORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(blocks);
    computed && bool::from(subtle::ConstantTimeEq::ct_eq(&out[..], expected.as_bytes()))
}

pub fn validate_password(p: &str) -> Result<(), ApiError> {
    let n = p.chars().count();
    if !(8..=128).contains(&n) {
        return Err(ApiError::bad_request(
            "password must be 8 to 128 characters",
        ));
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: i64,
    pub client_id: i64,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    /// The user's session generation when the token was issued (see
    /// `users::User::token_generation`); tokens from before it was kept have none (0).
    #[serde(default)]
    pub generation: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl,
        }
    }

    pub fn issue(&self, user: &User, role: Role) -> Result<(String, i64), ApiError> {
        let now = chrono::Utc::now().timestamp();
        let exp = now + self.ttl.as_secs() as i64;
        let claims = Claims {
            sub: user.id,
            client_id: user.client_id,
            role,
            iat: now,
            exp,
            generation: user.token_generation,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| ApiError::internal())?;
        Ok((token, exp))
    }

    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

/// Compare two secrets in constant time (for equal lengths; length is not secret).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn bearer(parts: &Parts) -> Option<&str> {
    bearer_in(&parts.headers)
}

/// The token of an `Authorization: Bearer …` header (the scheme in any case).
pub fn bearer_in(headers: &axum::http::HeaderMap) -> Option<&str> {
    let h = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    bearer_token(h)
}

/// The token of a `Bearer …` credential (the scheme in any case).
pub fn bearer_token(credential: &str) -> Option<&str> {
    let (scheme, token) = credential.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub role: Role,
}

impl Session {
    pub fn client_id(&self) -> i64 {
        self.user.client_id
    }

    /// The client a request acts on: super admins may name another with `client_id`.
    pub fn scope_client(&self, requested: Option<i64>) -> Result<i64, ApiError> {
        match requested {
            Some(c) if c != self.user.client_id => {
                if self.role == Role::SuperAdmin {
                    Ok(c)
                } else {
                    Err(ApiError::forbidden(
                        "only a super admin may act on another client",
                    ))
                }
            }
            _ => Ok(self.user.client_id),
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        Session::from_token(state, token).await
    }
}

impl Session {
    /// The person a sign-in token names, if it is valid and their session still holds.
    pub async fn from_token(state: &AppState, token: &str) -> Result<Self, ApiError> {
        let claims = state
            .jwt
            .verify(token)
            .ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
        let user = users::get(&mut state.db.read().await?, claims.sub)
            .await?
            .filter(|u| u.is_active)
            .ok_or_else(|| ApiError::unauthorized("this account is not active"))?;
        if claims.generation != user.token_generation {
            return Err(ApiError::unauthorized(
                "this session has ended (signed out, or the password changed); sign in again",
            ));
        }
        // The role is read from the database, so a demotion takes effect at once.
        let role = Role::parse(&user.role).ok_or_else(ApiError::internal)?;
        Ok(Session { user, role })
    }
}

/// Why the session an open connection (event stream, socket) signed in with no longer holds:
/// ended (signed out, password set, possibly by another process), deactivated, or its role is
/// no longer what the connection hears events for. `None` while it holds, and when the database
/// cannot say (the connection is checked again later).
pub async fn session_lapsed(state: &AppState, token: &str, admin: bool) -> Option<String> {
    match Session::from_token(state, token).await {
        Ok(s) if s.role.is_admin() == admin => None,
        Ok(_) => Some("your role changed; sign in again".into()),
        Err(e) if e.status == axum::http::StatusCode::UNAUTHORIZED => Some(e.message),
        Err(_) => None,
    }
}

/// The ticks at which an open connection checks its session (see [`session_lapsed`]): every
/// `session_check_secs`, the first one a period from now; a connection not polled for a while
/// checks once, not once per missed tick.
pub fn session_checks(state: &AppState) -> tokio::time::Interval {
    let every = std::time::Duration::from_secs(state.config.session_check_secs);
    let mut i = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

/// A signed-in admin or super admin.
#[derive(Debug, Clone)]
pub struct AdminSession(pub Session);

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let s = Session::from_request_parts(parts, state).await?;
        if !s.role.is_admin() {
            return Err(ApiError::forbidden("this needs an admin"));
        }
        Ok(Self(s))
    }
}

/// A signed-in super admin.
#[derive(Debug, Clone)]
pub struct SuperAdminSession(pub Session);

impl FromRequestParts<AppState> for SuperAdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let s = Session::from_request_parts(parts, state).await?;
        if s.role != Role::SuperAdmin {
            return Err(ApiError::forbidden("this needs a super admin"));
        }
        Ok(Self(s))
    }
}

/// Who is asking on routes open to people and to API keys (`x-api-key`).
// Most requests come from people; boxing their session would add an allocation to each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Principal {
    Person(Session),
    /// An API key acts as an admin of its client.
    Key {
        id: i64,
        client_id: i64,
    },
}

impl Principal {
    pub fn client_id(&self) -> i64 {
        match self {
            Principal::Person(s) => s.client_id(),
            Principal::Key { client_id, .. } => *client_id,
        }
    }
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::Person(s) => s.role.is_admin(),
            Principal::Key { .. } => true,
        }
    }
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Principal::Person(s) => Some(s.user.id),
            Principal::Key { .. } => None,
        }
    }
    pub fn scope_client(&self, requested: Option<i64>) -> Result<i64, ApiError> {
        match self {
            Principal::Person(s) => s.scope_client(requested),
            Principal::Key { client_id, .. } => match requested {
                Some(c) if c != *client_id => Err(ApiError::forbidden(
                    "an API key acts only on its own client",
                )),
                _ => Ok(*client_id),
            },
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(key) = parts.headers.get("x-api-key") {
            let key = key
                .to_str()
                .map_err(|_| ApiError::unauthorized("invalid API key"))?;
            let k = machine_key(state, key, KeyKind::Api)
                .await?
                .ok_or_else(|| ApiError::unauthorized("invalid API key"))?;
            return Ok(Principal::Key {
                id: k.0,
                client_id: k.1,
            });
        }
        Ok(Principal::Person(
            Session::from_request_parts(parts, state).await?,
        ))
    }
}

/// Resolve a machine secret of `kind`: a database key (id, client) or the one from config
/// (id 0, the default client). Secrets are compared as digests, in constant time.
pub async fn machine_key(
    state: &AppState,
    secret: &str,
    kind: KeyKind,
) -> Result<Option<(i64, i64)>, ApiError> {
    let configured = match kind {
        KeyKind::Dialer => state.config.dialer_token.as_ref(),
        KeyKind::Bot => state.config.bot_api_key.as_ref(),
        KeyKind::Api => None,
    };
    if let Some(c) = configured
        && secrets_equal(&api_keys::digest(secret), &api_keys::digest(&c.0))
    {
        return Ok(Some((0, state.default_client_id)));
    }
    let found = api_keys::find_live(&state.db, secret).await?;
    Ok(found
        .filter(|k| k.kind == kind.as_str())
        .map(|k| (k.id, k.client_id)))
}

/// The caller's address: the socket peer, or the first `X-Forwarded-For` hop behind a trusted proxy.
pub fn client_ip(parts: &Parts, trust_proxy: bool) -> IpAddr {
    if trust_proxy
        && let Some(ip) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// Counts failed sign-ins per (address, login) and per address, and refuses more for a while
/// once either passes its bound. Kept in the database (`store::sign_ins`), so the bounds hold
/// across every instance sharing it and across restarts.
pub struct LoginThrottle {
    window: chrono::Duration,
    per_login: i64,
    per_ip: i64,
    /// Keys what is counted, so the table holds no login (or password typed as one) and no
    /// address in the clear. The JWT secret: every instance on one database has the same.
    salt: Vec<u8>,
}

impl LoginThrottle {
    pub fn new(window: Duration, per_login: i64, per_ip: i64, salt: &[u8]) -> Self {
        Self {
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::minutes(15)),
            per_login,
            per_ip,
            salt: salt.to_vec(),
        }
    }

    pub fn window(&self) -> chrono::Duration {
        self.window
    }

    fn key(&self, what: &str) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new_with_prefix(&self.salt);
        h.update(b"\0sign-in\0");
        h.update(what.as_bytes());
        hex::encode(h.finalize())
    }

    /// The (address, login) key, where attempts count from their start (nobody signs in to
    /// one account many times at once but a guesser), then the address key, where only
    /// failures count (an office behind one address signs in all at once at the shift's start).
    fn bounds(&self, ip: IpAddr, login: &str) -> [sign_ins::Bound; 2] {
        let ip = crate::ratelimit::address_key(ip);
        [
            sign_ins::Bound {
                key: self.key(&format!("{ip}|{}", login.trim().to_lowercase())),
                limit: self.per_login,
                at_once: true,
            },
            sign_ins::Bound {
                key: self.key(&ip.to_string()),
                limit: self.per_ip,
                at_once: false,
            },
        ]
    }

    /// Let an attempt through (counted as a failure of this login until
    /// [`Self::succeeded`]), or the seconds to wait when this address or login is blocked.
    pub async fn begin(
        &self,
        db: &Db,
        ip: IpAddr,
        login: &str,
    ) -> Result<Result<sign_ins::Attempt, u64>, ApiError> {
        let now = switchboard_store::now();
        Ok(
            match sign_ins::begin(db, &self.bounds(ip, login), self.window, now).await? {
                Ok(a) => Ok(a),
                Err(until) => Err((until - now).num_seconds().max(1) as u64),
            },
        )
    }

    /// The attempt failed: the address's count takes it too.
    pub async fn failed(&self, db: &Db, attempt: sign_ins::Attempt) -> Result<(), ApiError> {
        sign_ins::failed(db, attempt, switchboard_store::now()).await?;
        Ok(())
    }

    /// The attempt succeeded: it was no failure, and this login's failures from this address
    /// are forgiven (the address's own count stays).
    pub async fn succeeded(
        &self,
        db: &Db,
        attempt: sign_ins::Attempt,
        ip: IpAddr,
        login: &str,
    ) -> Result<(), ApiError> {
        let [per_login, _] = self.bounds(ip, login);
        sign_ins::succeeded(db, attempt, &[per_login.key.as_str()]).await?;
        Ok(())
    }
}

/// An external dialer or AI agent (seed 002): `Authorization: Bearer <dialer token>`.
#[derive(Debug, Clone, Copy)]
pub struct DialerPrincipal {
    /// The key's id; 0 for the token from `SWITCHBOARD_DIALER_TOKEN`.
    pub key_id: i64,
    pub client_id: i64,
}

impl FromRequestParts<AppState> for DialerPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token =
            bearer(parts).ok_or_else(|| ApiError::unauthorized("missing dialer bearer token"))?;
        let (key_id, client_id) = machine_key(state, token, KeyKind::Dialer)
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid dialer token"))?;
        Ok(Self { key_id, client_id })
    }
}

/// A voice bot (seed 004): its key as `x-api-key` or as a bearer token.
#[derive(Debug, Clone, Copy)]
pub struct BotPrincipal {
    /// The key's id; 0 for the key from `SWITCHBOARD_BOT_API_KEY`.
    pub key_id: i64,
    pub client_id: i64,
}

impl FromRequestParts<AppState> for BotPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = match parts.headers.get("x-api-key") {
            Some(v) => v
                .to_str()
                .map_err(|_| ApiError::unauthorized("invalid bot key"))?,
            None => bearer(parts)
                .ok_or_else(|| ApiError::unauthorized("missing bot key (x-api-key)"))?,
        };
        let (key_id, client_id) = machine_key(state, key, KeyKind::Bot)
            .await?
            .ok_or_else(|| ApiError::unauthorized("invalid bot key"))?;
        Ok(Self { key_id, client_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reused memory gives the answers the library's own check gives: right and wrong
    /// passwords, other parameters (a hash made elsewhere), and a malformed hash.
    #[test]
    fn checks_in_reused_memory_agree_with_the_library() {
        use argon2::password_hash::PasswordVerifier;
        use argon2::{Algorithm, Params, Version};
        let small = Params::new(256, 2, 1, None).unwrap();
        for argon in [
            Argon2::default(),
            Argon2::new(Algorithm::Argon2i, Version::V0x10, small.clone()),
            Argon2::new(Algorithm::Argon2id, Version::V0x13, small),
        ] {
            let salt = SaltString::generate(&mut OsRng);
            let hash = argon
                .hash_password(b"right horse", &salt)
                .unwrap()
                .to_string();
            let h = PasswordHash::new(&hash).unwrap();
            for (pw, want) in [
                (&b"right horse"[..], true),
                (b"wrong horse", false),
                (b"", false),
            ] {
                assert_eq!(check_reusing_memory(pw, &h), want, "{hash}");
                assert_eq!(Argon2::default().verify_password(pw, &h).is_ok(), want);
            }
        }
        // Parameters argon2 refuses (m below its minimum), and a hash that is not the password's.
        for odd in [
            "$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(
                !check_reusing_memory(b"x", &PasswordHash::new(odd).unwrap()),
                "{odd}"
            );
        }
    }

    /// Password checks take turns: while every turn is held, a check waits (and takes no
    /// blocking thread or argon2's memory); it runs once a turn is free.
    #[tokio::test]
    async fn password_checks_wait_for_a_turn() {
        let hash = hash_password("a-password-1".into()).await.unwrap();
        let turns = hashing();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let all = turns.acquire_many((cores / 2).max(1) as u32).await.unwrap();
        assert_eq!(turns.available_permits(), 0, "half the cores, at least one");
        let check = verify_password("a-password-1".into(), Some(hash.clone()));
        tokio::pin!(check);
        let waited = tokio::time::timeout(Duration::from_millis(300), &mut check).await;
        assert!(waited.is_err(), "a check waits while every turn is held");
        drop(all);
        assert!(check.await, "and runs once one is free");
        assert!(!verify_password("wrong".into(), Some(hash)).await);
    }
}
