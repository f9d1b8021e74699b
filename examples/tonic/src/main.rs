//! The tonic example: SAML sign-in in front of a gRPC service. The service
//! is tonic-health's `grpc.health.v1.Health` (its generated code ships with
//! the crate, so no `protoc` is needed), gated by `RequireLoginLayer`: a
//! gRPC caller without a session gets `grpc-status: 16` (UNAUTHENTICATED).
//! The browser routes (`/saml/*`, the development IdP under `/dev-idp/*`,
//! `/` and `/me`) share the port: hyper-util's auto server speaks HTTP/1.1
//! to browsers and HTTP/2 to gRPC clients. A gRPC client signs in through a
//! browser once and then sends the session cookie as `cookie` metadata.
//!
//! ```sh
//! cargo run -p saml-example-tonic
//! # open http://127.0.0.1:3003/ and pick a user at the development IdP,
//! # then call grpc.health.v1.Health/Check with the saml_session cookie
//! # as `cookie` metadata (`__Host-saml_session` when served over HTTPS)
//! ```
//!
//! Flags (and environment variables): `--listen` (`SAML_LISTEN`, default
//! `127.0.0.1:3003`) and `--base-url` (`SAML_BASE_URL`, default
//! `http://<listen>`). Sessions live in memory.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use clap::Parser;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use saml_core::clock::SystemClock;
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{Provider, ProviderSettings};
use saml_store_memory::{MemoryStore, StaticMetadataResolver};
use saml_testkit::dev_idp::DevIdpService;
use saml_tower::{BoxError, RequireLoginLayer, SamlLayer, SamlUser};
use tonic_health::pb::health_server::{Health, HealthServer};
use tower::{Layer as _, Service, ServiceExt as _};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "saml-example-tonic",
    about = "SAML sign-in in front of a gRPC service, with a development IdP"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SAML_LISTEN", default_value = "127.0.0.1:3003")]
    listen: SocketAddr,
    /// Public base URL (scheme, host, port); default `http://<listen>`.
    #[arg(long, env = "SAML_BASE_URL")]
    base_url: Option<String>,
}

/// Every response body of the site (gRPC and HTML alike).
type Body = UnsyncBoxBody<Bytes, BoxError>;

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("saml-example-tonic: {message}");
    std::process::exit(2)
}

/// The SAML layer for an app at `base_url`, trusting the development IdP.
fn saml_layer(base_url: &str, dev: &DevIdpService) -> SamlLayer {
    let metadata = IdpMetadata::parse(&dev.idp().metadata_xml(), &MetadataOptions::new())
        .unwrap_or_else(|e| fail(format!("development IdP: {e}")));
    let mut settings = ProviderSettings::default();
    settings.display_name = Some("Development IdP".to_owned());
    let provider = Provider {
        name: "dev".to_owned(),
        metadata,
        settings,
    };
    let mut builder = SamlLayer::builder(base_url)
        .stores(MemoryStore::new())
        .metadata_resolver(StaticMetadataResolver::new(vec![provider]))
        .clock(SystemClock);
    if base_url.starts_with("http://") {
        builder = builder.insecure_allow_http_cookies_on_localhost();
    }
    builder.build().unwrap_or_else(|e| fail(e))
}

/// gRPC calls go to the health service through `RequireLoginLayer`;
/// the development IdP, `/` (also gated) and `/me` serve browsers.
struct Site<H> {
    grpc: HealthServer<H>,
    dev: DevIdpService,
    gate: RequireLoginLayer,
}

// By hand: the generated server is `Clone` for any `H` (it shares it).
impl<H> Clone for Site<H> {
    fn clone(&self) -> Self {
        Self {
            grpc: self.grpc.clone(),
            dev: self.dev.clone(),
            gate: self.gate.clone(),
        }
    }
}

impl<H, B> Service<Request<B>> for Site<H>
where
    H: Health,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError> + Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    // snippet-start: tonic-routes
    fn call(&mut self, req: Request<B>) -> Self::Future {
        let path = req.uri().path();
        if path.starts_with("/grpc.health.v1.Health/") {
            // Without a session: grpc-status 16 (UNAUTHENTICATED).
            let grpc = self.gate.layer(self.grpc.clone());
            return Box::pin(async move { Ok(boxed(grpc.oneshot(req).await?)) });
        }
        if self.dev.handles(path) {
            let dev = self.dev.clone();
            return Box::pin(async move { Ok(boxed(dev.oneshot(req).await?)) });
        }
        match path {
            "/" => {
                let home = self.gate.layer(tower::service_fn(home));
                Box::pin(async move { Ok(boxed(home.oneshot(req).await?)) })
            }
            "/me" => Box::pin(async move { Ok(boxed(me(&req))) }),
            _ => Box::pin(async { Ok(boxed(text(StatusCode::NOT_FOUND, "not found"))) }),
        }
    }
    // snippet-end: tonic-routes
}

/// The protected home page: a greeting and a sign-out button.
async fn home<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(user) = req.extensions().get::<Arc<SamlUser>>() else {
        // RequireLoginLayer lets nobody else through.
        return Ok(text(StatusCode::UNAUTHORIZED, "sign in first"));
    };
    let page = format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<title>Signed in</title></head><body><h1>Hello, {}</h1>",
            "<p>gRPC calls with this session's cookie are signed in as you.</p>",
            "<form method=\"post\" action=\"/saml/logout\"><button>Sign out</button></form>",
            "<p><a href=\"/me\">/me as JSON</a></p></body></html>"
        ),
        escape(&user.name_id)
    );
    Ok(respond(StatusCode::OK, "text/html; charset=utf-8", page))
}

/// The signed-in user as JSON, or 401.
fn me<B>(req: &Request<B>) -> Response<Full<Bytes>> {
    match req.extensions().get::<Arc<SamlUser>>() {
        Some(user) => respond(
            StatusCode::OK,
            "application/json",
            serde_json::json!({
                "provider": user.provider,
                "name_id": user.name_id,
                "name_id_format": user.name_id_format,
                "session_index": user.session_index,
                "attributes": user.attributes,
            })
            .to_string(),
        ),
        None => respond(
            StatusCode::UNAUTHORIZED,
            "application/json",
            serde_json::json!({"error": "unauthenticated"}).to_string(),
        ),
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", message.to_owned())
}

/// Boxes any body with `Bytes` chunks into the site's body type.
fn boxed<B>(response: Response<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    response.map(|body| body.map_err(Into::into).boxed_unsync())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .unwrap_or_else(|e| fail(format!("{}: {e}", args.listen)));
    let local = listener.local_addr().unwrap_or_else(|e| fail(e));
    let base_url = args
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let base_url = base_url.trim_end_matches('/');
    let dev = DevIdpService::for_base_url(base_url)
        .unwrap_or_else(|e| fail(format!("development IdP: {e}")));
    let saml = saml_layer(base_url, &dev);
    // The health service reports the overall server ("") as SERVING.
    let (_reporter, health) = tonic_health::server::health_reporter();
    // snippet-start: tonic-layer
    let app = saml.layer(Site {
        grpc: health,
        dev,
        gate: RequireLoginLayer::new(),
    });
    // snippet-end: tonic-layer
    println!(
        "saml-example-tonic listening on {local}; open {base_url}/ and sign in at the development IdP"
    );
    let server = auto::Builder::new(TokioExecutor::new());
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    eprintln!("saml-example-tonic: accept: {e}");
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        // snippet-start: tonic-serve
        let service = TowerToHyperService::new(app.clone());
        let server = server.clone();
        tokio::spawn(async move {
            // HTTP/1.1 for browsers, HTTP/2 (prior knowledge) for gRPC.
            if let Err(e) = server.serve_connection(TokioIo::new(stream), service).await {
                eprintln!("saml-example-tonic: connection: {e}");
            }
        });
        // snippet-end: tonic-serve
    }
}
