//! Who is asking: a person with a session (a cookie set at login, or given to anyone on
//! loopback), the seller's systems with the API token, or nobody.
//!
//! Sessions live in memory: a restart logs people out, which costs a login and keeps no
//! secret on disk. Each session carries its own CSRF token, which every form posts back.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

use axum::http::{HeaderMap, header};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use jiff::{SignedDuration, Timestamp};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;

const COOKIE: &str = "vigie_session";

/// A session ends this long after its login, however busy the night was.
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(12);

/// Sessions kept at most; past it, the oldest goes.
const MAX_SESSIONS: usize = 10_000;

/// A person who may use the pages.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Session {
    /// Who, for the order's history: the name given at login, or `loopback`.
    pub who: String,
    pub csrf: String,
    #[serde(skip)]
    expires_at: Timestamp,
}

#[derive(Default)]
pub struct Sessions {
    by_token: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session for `who`; returns its token (the cookie's value) and the session.
    pub fn open(&self, who: &str, now: Timestamp) -> Result<(String, Session), getrandom::Error> {
        let token = random_token()?;
        let session = Session {
            who: who.to_owned(),
            csrf: random_token()?,
            expires_at: now + SESSION_LIFETIME,
        };
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.expires_at > now);
        // Loopback hands a session to every first visit: keep the map bounded.
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires_at)
                .map(|(token, _)| token.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(token.clone(), session.clone());
        Ok((token, session))
    }

    /// The live session the request's cookie names, if any.
    pub fn find(&self, headers: &HeaderMap, now: Timestamp) -> Option<Session> {
        let token = cookie(headers, COOKIE)?;
        let sessions = self.lock();
        sessions.get(token).filter(|s| s.expires_at > now).cloned()
    }

    pub fn close(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers, COOKIE) {
            self.lock().remove(token);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_token.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The `Set-Cookie` value for a session token: never readable by scripts, never sent by
/// another site's page, and only over https when the pages are served over https.
pub fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

pub fn expired_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Whether two secrets match, in a time that does not tell how much of them did.
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Whether `password` matches the configured argon2 hash.
pub fn password_matches(password: &str, hash: &SecretString) -> bool {
    use argon2::PasswordVerifier as _;
    argon2::PasswordHash::new(hash.expose_secret()).is_ok_and(|hash| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// The API token the request carries as `Authorization: Bearer`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Login attempts, all sources together: a handful a minute, so a password cannot be guessed
/// by trying, and a person who mistyped waits seconds, not minutes.
pub struct LoginLimiter(DefaultDirectRateLimiter);

impl Default for LoginLimiter {
    fn default() -> Self {
        let per_minute = NonZeroU32::new(6).unwrap_or(NonZeroU32::MIN);
        Self(RateLimiter::direct(Quota::per_minute(per_minute)))
    }
}

impl LoginLimiter {
    pub fn allow(&self) -> bool {
        self.0.check().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, value.parse().unwrap());
        headers
    }

    #[test]
    fn a_session_ends_after_its_lifetime() {
        let sessions = Sessions::default();
        let now = Timestamp::UNIX_EPOCH;
        let (token, _) = sessions.open("camille", now).unwrap();
        let headers = with_cookie(&format!("other=1; vigie_session={token}"));
        assert_eq!(sessions.find(&headers, now).unwrap().who, "camille");
        let later = now + SESSION_LIFETIME - SignedDuration::from_secs(1);
        assert!(sessions.find(&headers, later).is_some());
        assert!(sessions.find(&headers, now + SESSION_LIFETIME).is_none());
        assert!(
            sessions
                .find(&with_cookie("vigie_session=forged"), now)
                .is_none()
        );
    }

    #[test]
    fn a_closed_session_is_gone() {
        let sessions = Sessions::default();
        let now = Timestamp::UNIX_EPOCH;
        let (token, _) = sessions.open("camille", now).unwrap();
        let headers = with_cookie(&format!("vigie_session={token}"));
        sessions.close(&headers);
        assert!(sessions.find(&headers, now).is_none());
    }

    #[test]
    fn passwords_are_checked_against_the_argon2_hash() {
        use argon2::PasswordHasher as _;
        let hash = argon2::Argon2::default()
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        let hash = SecretString::from(hash);
        assert!(password_matches("correct horse", &hash));
        assert!(!password_matches("correct hors", &hash));
        assert!(!password_matches("x", &SecretString::from("not a hash")));
    }

    #[test]
    fn login_attempts_are_limited() {
        let limiter = LoginLimiter::default();
        let allowed = (0..20).filter(|_| limiter.allow()).count();
        assert_eq!(allowed, 6);
    }

    #[test]
    fn cookies_are_strict_and_secure_over_https() {
        assert_eq!(
            session_cookie("t", true),
            "vigie_session=t; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!session_cookie("t", false).contains("Secure"));
    }
}
