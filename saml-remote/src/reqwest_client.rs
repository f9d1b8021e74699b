//! [`ReqwestClient`]: the bundled [`HttpClient`] on reqwest with rustls
//! (aws-lc-rs crypto, the platform's certificate verifier).
//!
//! It applies the transport rule ([`check_transport`]) to every URL it is
//! given and to every redirect, follows at most five redirects and only on
//! the same host, honours each request's timeout (connection to last body
//! byte), and stops reading as soon as the body passes the request's size
//! cap.

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    HttpClient, HttpError, HttpErrorKind, HttpMethod, HttpRequest, HttpResponse, check_transport,
};

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// The reqwest-based [`HttpClient`]. Cheap to clone (clones share a
/// connection pool).
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    /// A client with rustls, a 10 second connect timeout, same-host
    /// redirects only, and a `saml-remote` user agent.
    ///
    /// # Errors
    ///
    /// The TLS backend cannot be initialised.
    pub fn new() -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .redirect(redirect_policy())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("saml-remote/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::new(HttpErrorKind::Other, e.to_string()))?;
        Ok(Self { client })
    }

    /// Wraps a client the application configured itself (proxies, custom
    /// roots...). The transport rule and the size cap still apply; its
    /// redirect policy is its own, so refuse redirects to plain HTTP there.
    #[must_use]
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        let same_host = attempt
            .previous()
            .first()
            .is_some_and(|first| first.host_str() == attempt.url().host_str());
        if !same_host {
            return attempt.error("a redirect to another host was refused");
        }
        if check_transport(attempt.url().as_str()).is_err() {
            return attempt.error("a redirect to plain HTTP was refused");
        }
        attempt.follow()
    })
}

fn classify(e: &reqwest::Error) -> HttpError {
    let kind = if e.is_timeout() {
        HttpErrorKind::Timeout
    } else if e.is_connect() {
        HttpErrorKind::Connect
    } else {
        HttpErrorKind::Other
    };
    // The chain names the cause (DNS, TLS, refused redirect...).
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    HttpError::new(kind, message)
}

fn too_large(max: usize) -> HttpError {
    HttpError::new(
        HttpErrorKind::TooLarge,
        format!("the response is larger than the {max} byte cap"),
    )
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        check_transport(&request.url)?;
        let method = match request.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
        };
        let max = request.max_response_bytes;
        let mut builder = self
            .client
            .request(method, request.url.as_str())
            .timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if request.method == HttpMethod::Post {
            builder = builder.body(request.body);
        }
        let mut response = builder.send().await.map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (n.as_str().to_owned(), v.to_owned()))
            })
            .collect();
        if response
            .content_length()
            .is_some_and(|len| len > u64::try_from(max).unwrap_or(u64::MAX))
        {
            return Err(too_large(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            if body.len().saturating_add(chunk.len()) > max {
                return Err(too_large(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
