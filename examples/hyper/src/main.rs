//! The plain hyper example: SAML sign-in on hyper 1 and tower, no web
//! framework. A hand-written router service answers `/` and `/me`, the
//! development IdP (saml-testkit's `DevIdpService`) answers `/dev-idp/*`,
//! and `SamlLayer` wraps them all.
//!
//! ```sh
//! cargo run -p saml-example-hyper
//! # open http://127.0.0.1:3001/ and pick a user at the development IdP
//! ```
//!
//! Flags (and environment variables): `--listen` (`SAML_LISTEN`, default
//! `127.0.0.1:3001`) and `--base-url` (`SAML_BASE_URL`, default
//! `http://<listen>`). Sessions live in memory. Routes: `/` (signed-in
//! users only, through `RequireLoginLayer`), `/me` (the signed-in user as
//! JSON, or 401), the SAML endpoints under `/saml`, and the development IdP
//! under `/dev-idp`.

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
use http_body_util::BodyExt as _;
use http_body_util::Full;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use saml_core::clock::SystemClock;
use saml_core::metadata::{IdpMetadata, MetadataOptions};
use saml_core::store::{Provider, ProviderSettings};
use saml_store_memory::{MemoryStore, StaticMetadataResolver};
use saml_testkit::dev_idp::DevIdpService;
use saml_tower::{BoxError, RequireLoginLayer, SamlLayer, SamlUser};
use tower::{Layer as _, Service, ServiceExt as _};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "saml-example-hyper",
    about = "SAML sign-in on plain hyper, with a development IdP"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SAML_LISTEN", default_value = "127.0.0.1:3001")]
    listen: SocketAddr,
    /// Public base URL (scheme, host, port); default `http://<listen>`.
    #[arg(long, env = "SAML_BASE_URL")]
    base_url: Option<String>,
}

/// Every response body of the site.
type Body = UnsyncBoxBody<Bytes, BoxError>;

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("saml-example-hyper: {message}");
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

/// The site's routes, by hand: no framework.
#[derive(Clone)]
struct Site {
    dev: DevIdpService,
    gate: RequireLoginLayer,
}

impl<B> Service<Request<B>> for Site
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    // snippet-start: hyper-routes
    fn call(&mut self, req: Request<B>) -> Self::Future {
        let path = req.uri().path();
        if self.dev.handles(path) {
            let dev = self.dev.clone();
            return Box::pin(async move { Ok(boxed(dev.oneshot(req).await?)) });
        }
        match path {
            // RequireLoginLayer gates the home page: browsers without a
            // session are sent to the login, API callers get 401.
            "/" => {
                let home = self.gate.layer(tower::service_fn(home));
                Box::pin(async move { Ok(boxed(home.oneshot(req).await?)) })
            }
            "/me" => Box::pin(async move { Ok(boxed(me(&req))) }),
            _ => Box::pin(async { Ok(boxed(text(StatusCode::NOT_FOUND, "not found"))) }),
        }
    }
    // snippet-end: hyper-routes
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
    // SamlLayer outermost: it answers /saml/* and puts the user into every
    // other request's extensions.
    // snippet-start: hyper-layer
    let app = saml.layer(Site {
        dev,
        gate: RequireLoginLayer::new(),
    });
    // snippet-end: hyper-layer
    println!(
        "saml-example-hyper listening on {local}; open {base_url}/ and sign in at the development IdP"
    );
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    eprintln!("saml-example-hyper: accept: {e}");
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        // snippet-start: hyper-serve
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("saml-example-hyper: connection: {e}");
            }
        });
        // snippet-end: hyper-serve
    }
}
