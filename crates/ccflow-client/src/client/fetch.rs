//! Fetching a token: the retry loop around single HTTP attempts, reading and parsing the
//! response, and scheduling when the new token goes stale.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use ccflow_protocol::dpop::{DPOP_HEADER, NONCE_HEADER};
use ccflow_protocol::{ClientSecret, ErrorCode, unix_seconds};
use reqwest::header;
use tracing::Instrument as _;
use url::Url;

use crate::auth::AuthMethod;
use crate::cache::Cached;
use crate::client::exchange::ExchangeForm;
use crate::client::request::token_request;
use crate::client::settings::{MAX_DEFAULT_SKEW, Settings};
use crate::error::TokenError;
use crate::retry::parse_retry_after;
use crate::token::{AccessToken, ExpirySource, ParseContext, parse_token_response};

/// The largest token response read.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// One token fetch with retries, as the spawned single-flight task runs it (a token exchange
/// with `exchange`). `warned` remembers that the default-lifetime warning was logged (once
/// per client).
pub(crate) async fn fetch(
    settings: &Settings,
    warned: &AtomicBool,
    token_url: &str,
    method: &AuthMethod,
    exchange: Option<&ExchangeForm>,
) -> Result<Cached, TokenError> {
    let options = &settings.options;
    let host = Url::parse(token_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    let deadline = options.clock.now() + options.retry.deadline;
    let mut attempt = 1;
    loop {
        let span = tracing::info_span!("ccflow_client.fetch", client_id = %settings.client_id, endpoint_host = %host, attempt);
        let started = Instant::now();
        let result = fetch_once(settings, warned, token_url, method, deadline, exchange)
            .instrument(span.clone())
            .await;
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        let (error, retry_after) = match result {
            Ok(cached) => {
                span.in_scope(|| tracing::debug!(latency_ms, "token fetched"));
                return Ok(cached);
            }
            Err(failure) => failure,
        };
        span.in_scope(|| tracing::warn!(latency_ms, error = %error, retryable = error.is_retryable(), "token request failed"));
        if !error.is_retryable() || attempt >= options.retry.max_attempts {
            return Err(error);
        }
        let delay = options.retry.delay(attempt, retry_after);
        if options.clock.now() + delay > deadline {
            // Waiting would overrun the deadline: report the real failure now.
            return Err(error);
        }
        options.sleeper.sleep(delay).await;
        attempt += 1;
    }
}

/// One attempt; a failure comes with the server's `Retry-After`, if any. With DPoP, a
/// `use_dpop_nonce` answer that brought a nonce is retried at once with it, one time (RFC 9449
/// §8), within the same attempt.
async fn fetch_once(
    settings: &Settings,
    warned: &AtomicBool,
    token_url: &str,
    method: &AuthMethod,
    deadline: SystemTime,
    exchange: Option<&ExchangeForm>,
) -> Result<Cached, (TokenError, Option<Duration>)> {
    let mut nonce_retried = false;
    loop {
        let result = send_once(settings, warned, token_url, method, deadline, exchange).await;
        let dpop = settings.options.dpop.as_ref();
        match result {
            Err((
                TokenError::OAuth {
                    code: ErrorCode::UseDpopNonce,
                    ..
                },
                _,
            )) if !nonce_retried
                && dpop.is_some_and(|dpop| dpop.nonce_for(token_url).is_some()) =>
            {
                nonce_retried = true;
            }
            other => return other,
        }
    }
}

/// One HTTP request and its parsed answer.
async fn send_once(
    settings: &Settings,
    warned: &AtomicBool,
    token_url: &str,
    method: &AuthMethod,
    deadline: SystemTime,
    exchange: Option<&ExchangeForm>,
) -> Result<Cached, (TokenError, Option<Duration>)> {
    let options = &settings.options;
    let now = options.clock.now();
    let remaining = deadline.duration_since(now).unwrap_or_default();
    let timeout = options
        .request_timeout
        .min(remaining.max(Duration::from_millis(1)));
    let encoded =
        token_request(settings, method, token_url, now, exchange).map_err(|error| (error, None))?;
    let mut request = settings
        .http
        .post(token_url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .timeout(timeout);
    if let Some(authorization) = encoded.authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    if let Some(dpop) = &options.dpop {
        let nonce = dpop.nonce_for(token_url);
        let proof = dpop
            .key
            .proof(
                "POST",
                token_url,
                u64::try_from(unix_seconds(now)).unwrap_or_default(),
                nonce.as_deref(),
                None,
            )
            .map_err(|error| {
                (
                    TokenError::Config(format!("cannot sign a DPoP proof: {error}")),
                    None,
                )
            })?;
        request = request.header(DPOP_HEADER, proof);
    }
    let response = request
        .body(encoded.body)
        .send()
        .await
        .map_err(|error| (transport_error(token_url, error, timeout), None))?;
    if let (Some(dpop), Some(nonce)) = (
        &options.dpop,
        response
            .headers()
            .get(NONCE_HEADER)
            .and_then(|value| value.to_str().ok()),
    ) {
        dpop.remember(token_url, nonce);
    }
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, now));
    let bytes = read_limited(response)
        .await
        .map_err(|error| (transport_error(token_url, error, timeout), retry_after))?;
    let received_at = options.clock.now();
    let context = ParseContext {
        status,
        content_type: content_type.as_deref(),
        now: received_at,
        requested_scopes: exchange.map_or(&settings.scopes, |exchange| {
            exchange.target.requested_scopes()
        }),
        default_lifetime: options.default_lifetime,
        client_secret: options.secret.as_ref().map(ClientSecret::expose_secret),
        sent_dpop_proof: options.dpop.is_some(),
    };
    let (token, source) =
        parse_token_response(&bytes, &context).map_err(|error| (error, retry_after))?;
    if source == ExpirySource::Default && !warned.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            client_id = %settings.client_id,
            default_lifetime_secs = options.default_lifetime.as_secs(),
            "the token response has no expires_in and the token is not a JWT with exp: assuming the default lifetime (logged once)"
        );
    }
    Ok(schedule(settings, token))
}

/// When a token stops being served (and, with refresh-ahead, when to refresh it).
fn schedule(settings: &Settings, token: AccessToken) -> Cached {
    let options = &settings.options;
    let lifetime = token.lifetime();
    let skew = options
        .skew
        .unwrap_or_else(|| (lifetime / 10).min(MAX_DEFAULT_SKEW));
    let stale_at = token
        .expires_at()
        .checked_sub(skew)
        .unwrap_or(token.issued_at());
    let refresh_at = options
        .refresh_ahead
        .then(|| token.issued_at() + lifetime.mul_f64(0.8));
    Cached {
        token,
        stale_at,
        refresh_at,
    }
}

fn transport_error(endpoint: &str, error: reqwest::Error, timeout: Duration) -> TokenError {
    if error.is_timeout() {
        TokenError::Timeout {
            endpoint: endpoint.to_owned(),
            after: timeout,
        }
    } else {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        TokenError::Transport {
            endpoint: endpoint.to_owned(),
            message,
            source: Some(Arc::new(error)),
        }
    }
}

/// Reads at most [`MAX_RESPONSE_BYTES`]; anything longer is cut (it is not a token response).
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(body)
}
