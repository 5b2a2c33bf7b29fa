//! Talking to the node that served the page. A `?token=T` in the page's address is passed on as a
//! bearer token (header for fetches, query for WebSockets and media links).

use gloo_net::http::{RequestBuilder, Response};
use kino_shared::ApiError;
use std::fmt;

/// Why a request to the node failed.
#[derive(Debug, Clone, PartialEq)]
pub enum NetError {
    /// No answer: the node is stopped or the network is down.
    Unreachable,
    /// The node answered with an error.
    Api { status: u16, error: ApiError },
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Unreachable => write!(f, "the node cannot be reached"),
            NetError::Api { status, error } => write!(f, "{} (HTTP {status})", error.message),
        }
    }
}

fn location() -> Option<web_sys::Location> {
    web_sys::window().map(|w| w.location())
}

/// The token from the page's address, if any.
pub fn token() -> Option<String> {
    let search = location()?.search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// A node path with the token in the query, for `<video src>`, links and WebSockets.
pub fn link(path: &str) -> String {
    match token() {
        Some(t) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}token={t}")
        }
        None => path.to_owned(),
    }
}

/// The WebSocket address of a node path on this page's host.
pub fn ws_url(path: &str) -> String {
    let (proto, host) = location()
        .map(|l| {
            (
                l.protocol().unwrap_or_default(),
                l.host().unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    let scheme = if proto == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}{}", link(path))
}

/// Adds the bearer token to a request.
pub fn auth(req: RequestBuilder) -> RequestBuilder {
    match token() {
        Some(t) => req.header("Authorization", &format!("Bearer {t}")),
        None => req,
    }
}

/// Sends a request; a non-2xx answer becomes its `ApiError`.
pub async fn send(req: RequestBuilder) -> Result<Response, NetError> {
    let resp = auth(req).send().await.map_err(|_| NetError::Unreachable)?;
    check(resp).await
}

/// Sends a request with a JSON body; a non-2xx answer becomes its `ApiError`.
pub async fn send_json(req: RequestBuilder, body: String) -> Result<Response, NetError> {
    let built = auth(req)
        .header("Content-Type", "application/json")
        .body(body)
        .map_err(|_| NetError::Unreachable)?;
    let resp = built.send().await.map_err(|_| NetError::Unreachable)?;
    check(resp).await
}

/// A response as is when it succeeded, else its error body.
pub async fn check(resp: Response) -> Result<Response, NetError> {
    if resp.ok() {
        return Ok(resp);
    }
    let status = resp.status();
    let error = match resp.json::<ApiError>().await {
        Ok(e) => e,
        Err(_) => ApiError {
            code: kino_shared::ErrorCode::Http,
            message: format!("the node answered {status} {}", resp.status_text()),
            field: None,
        },
    };
    Err(NetError::Api { status, error })
}

/// Whether the node answers its health check.
pub async fn healthy() -> bool {
    gloo_net::http::Request::get("/api/health")
        .send()
        .await
        .is_ok_and(|r| r.ok())
}
