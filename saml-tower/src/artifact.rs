//! The HTTP-Artifact binding: the browser brings a small reference
//! (`SAMLart`) to `{prefix}/artifact` instead of the Response itself; the
//! layer resolves it with an `ArtifactResolve` over SOAP at the IdP's
//! artifact resolution service (through the configured [`HttpClient`]) and
//! consumes the Response that comes back like a posted one. Each artifact is
//! resolved once, cluster-wide.

use std::sync::Arc;

use chrono::Duration;
use http::StatusCode;
use http::request::Parts;
use saml_core::ErrorCode;
use saml_core::protocol::{
    Artifact, ArtifactResolve, ArtifactResponseValidator, SAMLP_NS, SOAP_ACTION, bindings,
};
use saml_core::store::Provider;
use saml_remote::{HttpRequest, check_transport};

use crate::BoxError;
use crate::acs::{Via, consume};
use crate::endpoints::{
    Answer, check_metadata_current, query_pairs, read_form, reject, store, trusted_keys,
};
use crate::layer::Shared;
use crate::reject::Rejection;

/// How long an artifact stays in the replay cache: far beyond the few
/// minutes an IdP keeps the message it stands for.
const ARTIFACT_MEMORY_MINUTES: i64 = 30;

/// Largest SOAP answer read from the resolution service.
const MAX_SOAP_BYTES: usize = 2 * 1024 * 1024;

/// `GET {prefix}/artifact?SAMLart=...&RelayState=...`.
pub(crate) async fn artifact_get(shared: &Shared, parts: &Parts) -> Answer {
    let query = query_pairs(parts);
    let field = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    resolve(shared, parts, field("SAMLart"), field("RelayState")).await
}

/// `POST {prefix}/artifact` with the form fields `SAMLart` and `RelayState`.
pub(crate) async fn artifact_post<B>(shared: &Shared, parts: &Parts, body: B) -> Answer
where
    B: http_body::Body + Send,
    B::Error: Into<BoxError>,
{
    let form = read_form(shared, body).await?;
    let field = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    resolve(shared, parts, field("SAMLart"), field("RelayState")).await
}

fn back_channel(detail: impl Into<String>) -> Rejection {
    Rejection::new(ErrorCode::StoreUnavailable, StatusCode::BAD_GATEWAY, detail)
}

async fn resolve(
    shared: &Shared,
    parts: &Parts,
    samlart: Option<&str>,
    relay_state: Option<&str>,
) -> Answer {
    let samlart = samlart.ok_or_else(|| {
        Rejection::new(
            ErrorCode::MalformedXml,
            StatusCode::BAD_REQUEST,
            "no SAMLart in the request",
        )
    })?;
    let client = shared.http.as_ref().ok_or_else(|| {
        Rejection::new(
            ErrorCode::UnknownProvider,
            StatusCode::NOT_IMPLEMENTED,
            "the HTTP-Artifact binding needs an HTTP client (SamlLayerBuilder::http_client)",
        )
    })?;
    let artifact = Artifact::parse(samlart).map_err(|e| reject(&e))?;
    let provider = issuer_of(shared, &artifact).await?;
    // Before the artifact is spent or the IdP is called: expired metadata
    // names no endpoint worth calling and no key worth trusting.
    check_metadata_current(shared, &provider)?;
    let clock = shared.clock.as_ref();
    let now = clock.now();

    // The endpoint the artifact's index names; else the IdP's only SOAP
    // one (pysaml2 writes the index as two ASCII hex digits, so "1" arrives
    // as 0x3031). The endpoint comes from trusted metadata either way.
    let soap_endpoints: Vec<_> = provider
        .metadata
        .artifact_resolution_endpoints()
        .iter()
        .filter(|e| e.binding == bindings::SOAP)
        .collect();
    let endpoint = soap_endpoints
        .iter()
        .find(|e| e.index == Some(artifact.endpoint_index()))
        .or(match soap_endpoints.as_slice() {
            [only] => Some(only),
            _ => None,
        })
        .ok_or_else(|| {
            back_channel(format!(
                "the metadata of `{}` lists no SOAP ArtifactResolutionService with index {}",
                provider.name,
                artifact.endpoint_index()
            ))
        })?;
    check_transport(&endpoint.location).map_err(|e| back_channel(e.to_string()))?;

    // Once only, before the IdP is even asked. The key is the artifact in
    // its canonical encoding, not the text received: the parser ignores
    // whitespace, so " AAQ..." and "AAQ..." are one artifact.
    let key = format!(
        "artifact:{}:{}",
        provider.metadata.entity_id(),
        artifact.encode()
    );
    let expiry = now + Duration::minutes(ARTIFACT_MEMORY_MINUTES);
    if !shared
        .replay
        .insert_once(&key, expiry, now)
        .await
        .map_err(store)?
    {
        return Err(Rejection::new(
            ErrorCode::Replayed,
            StatusCode::BAD_REQUEST,
            "this artifact was already used",
        ));
    }

    let request = ArtifactResolve::builder(&shared.entity_id, &endpoint.location, &artifact)
        .build(clock)
        .map_err(|e| reject(&e))?;
    let signing = match &shared.keys {
        Some(keys) => keys.keys().await.map_err(store)?.signing,
        None => None,
    };
    let soap = request
        .soap_envelope(signing.as_deref())
        .map_err(|e| reject(&e))?;
    let reply = client
        .send(
            HttpRequest::post(&endpoint.location, soap)
                .header("Content-Type", "text/xml; charset=utf-8")
                .header("SOAPAction", SOAP_ACTION)
                .max_response_bytes(MAX_SOAP_BYTES),
        )
        .await
        .map_err(|e| {
            back_channel(format!(
                "the artifact resolution service of `{}` failed: {e}",
                provider.name
            ))
        })?;
    // A SOAP fault comes with 500; the validator reads it and says why.
    if reply.status != 200 && reply.status != 500 {
        return Err(back_channel(format!(
            "the artifact resolution service of `{}` answered HTTP {}",
            provider.name, reply.status
        )));
    }
    let body = std::str::from_utf8(&reply.body).map_err(|_| {
        back_channel("the artifact resolution service answered something that is not UTF-8")
    })?;

    let settings = &provider.settings;
    let mut validator = ArtifactResponseValidator::new(
        provider.metadata.entity_id(),
        trusted_keys(shared, &provider)?,
    );
    validator.clock_skew = Duration::seconds(settings.clock_skew_seconds);
    if settings.allow_sha1 {
        validator.verify = validator.verify.dangerous_allow_sha1();
    }
    let resolved = validator
        .validate(body, request.id(), clock)
        .map_err(|e| reject(&e))?;
    if !resolved.message_is(SAMLP_NS, "Response") {
        return Err(Rejection::new(
            ErrorCode::MalformedXml,
            StatusCode::BAD_REQUEST,
            format!(
                "the artifact stands for a <{}>, not a Response",
                resolved.message_name
            ),
        ));
    }
    consume(
        shared,
        parts,
        &resolved.message_xml,
        relay_state,
        Via::Artifact { provider },
    )
    .await
}

/// The enabled provider whose entity ID hashes to the artifact's source ID.
async fn issuer_of(shared: &Shared, artifact: &Artifact) -> Result<Arc<Provider>, Rejection> {
    shared
        .metadata
        .providers()
        .await
        .map_err(store)?
        .into_iter()
        .find(|p| p.settings.enabled && artifact.source_id_matches(p.metadata.entity_id()))
        .ok_or_else(|| {
            Rejection::new(
                ErrorCode::UnknownProvider,
                StatusCode::NOT_FOUND,
                "no enabled identity provider issued this artifact (its source ID matches none)",
            )
        })
}
