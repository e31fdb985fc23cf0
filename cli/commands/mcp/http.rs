//! MCP over streamable HTTP (`rootcause mcp --http ADDR`), stateless: the
//! session travels in the tool arguments, so any process with the same
//! session key answers any request.
//!
//! In front of rmcp's service: the endpoint is `/mcp`; a bearer token when
//! `--token` is given; at most `max_concurrent` requests in flight (more
//! get 503); bodies over `max_body` get 413; a connection idle for `idle`
//! is closed; one log line per request on stderr.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rootcause_engine::protocol::token::constant_time_eq;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::handler::{Handler, Inner};

/// The server's resource limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body (bytes).
    pub max_body: usize,
    /// Requests handled at once; more are refused with 503.
    pub max_concurrent: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle: Duration,
}

type Body = BoxBody<Bytes, Infallible>;

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))).boxed());
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

struct Front {
    mcp: StreamableHttpService<Handler, NeverSessionManager>,
    /// `Bearer <token>` when a token is required.
    auth: Option<String>,
    permits: Semaphore,
    limits: Limits,
}

impl Front {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        if req.uri().path() != "/mcp" {
            return plain(StatusCode::NOT_FOUND, "the MCP endpoint is /mcp");
        }
        if let Some(auth) = &self.auth {
            let given = req
                .headers()
                .get(hyper::header::AUTHORIZATION)
                .map(|v| v.as_bytes());
            if !given.is_some_and(|g| constant_time_eq(g, auth.as_bytes())) {
                let mut r = plain(StatusCode::UNAUTHORIZED, "a bearer token is required");
                r.headers_mut().insert(
                    hyper::header::WWW_AUTHENTICATE,
                    hyper::header::HeaderValue::from_static("Bearer"),
                );
                return r;
            }
        }
        let too_long = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > self.limits.max_body);
        if too_long {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large",
            );
        }
        let Ok(_permit) = self.permits.try_acquire() else {
            let mut r = plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many requests at once; retry",
            );
            r.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from_static("1"),
            );
            return r;
        };
        let (parts, body) = req.into_parts();
        let body = http_body_util::Limited::new(body, self.limits.max_body);
        self.mcp.handle(Request::from_parts(parts, body)).await
    }
}

pub async fn serve(
    inner: Arc<Inner>,
    addr: SocketAddr,
    token: Option<String>,
    limits: Limits,
) -> Result<ExitCode> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr().unwrap_or(addr);
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(limits.max_body);
    if !addr.ip().is_loopback() {
        // Reached by names this process cannot know; the bearer token
        // (required off loopback) protects it instead of the Host check.
        config = config.disable_allowed_hosts();
    }
    let handler = Handler(inner);
    let front = Arc::new(Front {
        mcp: StreamableHttpService::new(
            move || Ok(handler.clone()),
            Arc::new(NeverSessionManager::default()),
            config,
        ),
        auth: token.map(|t| format!("Bearer {t}")),
        permits: Semaphore::new(limits.max_concurrent.max(1)),
        limits,
    });
    eprintln!("rootcause mcp: MCP over streamable HTTP on http://{local}/mcp");
    loop {
        let (stream, peer) = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    eprintln!("rootcause mcp: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let front = front.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let front = front.clone();
                async move {
                    let start = Instant::now();
                    let method = req.method().clone();
                    let path = req.uri().path().to_string();
                    let response = front.handle(req).await;
                    eprintln!(
                        "{peer} {method} {path} {} {:.1} ms",
                        response.status().as_u16(),
                        start.elapsed().as_secs_f64() * 1e3
                    );
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    Ok(ExitCode::SUCCESS)
}
