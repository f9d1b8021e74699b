//! The warp example: SAML sign-in for an app written as warp filters. The
//! filters become a Tower service with `warp::service(..)`, the development
//! IdP (saml-testkit's `DevIdpService`) sits beside them under `/dev-idp`,
//! `SamlLayer` wraps both, and hyper serves the result. Handlers read the
//! signed-in user with `warp::ext::optional::<Arc<SamlUser>>()` (or
//! `warp::ext::get`).
//!
//! ```sh
//! cargo run -p saml-example-warp
//! # open http://127.0.0.1:3002/ and pick a user at the development IdP
//! ```
//!
//! Flags (and environment variables): `--listen` (`SAML_LISTEN`, default
//! `127.0.0.1:3002`) and `--base-url` (`SAML_BASE_URL`, default
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
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
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
use warp::Filter as _;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    name = "saml-example-warp",
    about = "SAML sign-in for warp filters, with a development IdP"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SAML_LISTEN", default_value = "127.0.0.1:3002")]
    listen: SocketAddr,
    /// Public base URL (scheme, host, port); default `http://<listen>`.
    #[arg(long, env = "SAML_BASE_URL")]
    base_url: Option<String>,
}

/// Every response body of the site.
type Body = UnsyncBoxBody<Bytes, BoxError>;

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("saml-example-warp: {message}");
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

/// The app's routes as warp filters; the user comes from the request
/// extensions, where `SamlLayer` put it.
fn routes() -> impl warp::Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    let home = warp::path::end()
        .and(warp::get())
        .and(warp::ext::optional::<Arc<SamlUser>>())
        .map(|user: Option<Arc<SamlUser>>| match user {
            Some(user) => {
                warp::reply::with_status(warp::reply::html(home_page(&user)), StatusCode::OK)
            }
            // RequireLoginLayer lets nobody else through.
            None => warp::reply::with_status(
                warp::reply::html("sign in first".to_owned()),
                StatusCode::UNAUTHORIZED,
            ),
        });
    // snippet-start: warp-filters
    let me = warp::path!("me")
        .and(warp::get())
        .and(warp::ext::optional::<Arc<SamlUser>>())
        .map(|user: Option<Arc<SamlUser>>| match user {
            Some(user) => warp::reply::with_status(
                warp::reply::json(&serde_json::json!({
                    "provider": user.provider,
                    "name_id": user.name_id,
                    "name_id_format": user.name_id_format,
                    "session_index": user.session_index,
                    "attributes": user.attributes,
                })),
                StatusCode::OK,
            ),
            None => warp::reply::with_status(
                warp::reply::json(&serde_json::json!({"error": "unauthenticated"})),
                StatusCode::UNAUTHORIZED,
            ),
        });
    // snippet-end: warp-filters
    home.or(me)
}

/// Sends `/dev-idp/*` to the development IdP, `/` through
/// `RequireLoginLayer` to warp, everything else straight to warp.
#[derive(Clone)]
struct Site<W> {
    warp: W,
    dev: DevIdpService,
    gate: RequireLoginLayer,
}

impl<W, B, WB> Service<Request<B>> for Site<W>
where
    W: Service<Request<B>, Response = Response<WB>, Error = Infallible> + Clone + Send + 'static,
    W::Future: Send + 'static,
    WB: http_body::Body<Data = Bytes> + Send + 'static,
    WB::Error: Into<BoxError>,
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

    // snippet-start: warp-routes
    fn call(&mut self, req: Request<B>) -> Self::Future {
        let path = req.uri().path();
        if self.dev.handles(path) {
            let dev = self.dev.clone();
            return Box::pin(async move { Ok(boxed(dev.oneshot(req).await?)) });
        }
        let warp = self.warp.clone();
        if path == "/" {
            let gated = self.gate.layer(warp);
            return Box::pin(async move { Ok(boxed(gated.oneshot(req).await?)) });
        }
        Box::pin(async move { Ok(boxed(warp.oneshot(req).await?)) })
    }
    // snippet-end: warp-routes
}

fn home_page(user: &SamlUser) -> String {
    format!(
        concat!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
            "<title>Signed in</title></head><body><h1>Hello, {}</h1>",
            "<form method=\"post\" action=\"/saml/logout\"><button>Sign out</button></form>",
            "<p><a href=\"/me\">/me as JSON</a></p></body></html>"
        ),
        escape(&user.name_id)
    )
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
    // snippet-start: warp-layer
    let app = saml.layer(Site {
        warp: warp::service(routes()),
        dev,
        gate: RequireLoginLayer::new(),
    });
    // snippet-end: warp-layer
    println!(
        "saml-example-warp listening on {local}; open {base_url}/ and sign in at the development IdP"
    );
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    eprintln!("saml-example-warp: accept: {e}");
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("saml-example-warp: connection: {e}");
            }
        });
    }
}
