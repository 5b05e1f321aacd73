//! The answer given to each `Idempotency-Key` of the seller API, stored in the same commit as
//! what the request did: a retried request gets the same answer and changes nothing.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

/// What an earlier request with the same key was, and what it was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The request as the API read it (method, path, body), to tell a retry from a reuse.
    pub request: String,
    pub status: u16,
    pub response: String,
}

pub fn recall(conn: &Connection, key: &str) -> Result<Option<Answered>> {
    Ok(conn
        .query_row(
            "SELECT request, status, response FROM api_requests WHERE idempotency_key = ?1",
            [key],
            |row| {
                Ok(Answered {
                    request: row.get(0)?,
                    status: row.get(1)?,
                    response: row.get(2)?,
                })
            },
        )
        .optional()?)
}

pub fn remember(conn: &Connection, key: &str, answered: &Answered, now: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO api_requests (idempotency_key, request, status, response, at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            key,
            answered.request,
            answered.status,
            answered.response,
            now
        ],
    )?;
    Ok(())
}
