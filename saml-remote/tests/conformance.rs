//! The shared `MetadataResolver` conformance suite of `saml-testkit`, run
//! against `RemoteMetadataResolver` (one metadata URL per sample provider)
//! and `MdqResolver` (each sample provider named by entity ID), both over
//! the fake network.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use saml_core::store::Provider;
use saml_remote::{HttpClient, MdqResolver, MetadataSource, RemoteMetadataResolver, mdq_url};
use support::{FakeClient, entity_doc};

const MDQ: &str = "https://mdq.example.org";

fn remote(providers: Vec<Provider>) -> RemoteMetadataResolver {
    let client = FakeClient::new();
    let mut builder =
        RemoteMetadataResolver::builder().http_client(Arc::clone(&client) as Arc<dyn HttpClient>);
    for (i, p) in providers.into_iter().enumerate() {
        let url = format!("https://md{i}.example.org/metadata");
        client.doc(&url, &entity_doc(p.metadata.entity_id(), &[], ""), "\"1\"");
        builder = builder.source(
            MetadataSource::new(url)
                .provider(p.name, p.settings)
                .allow_unsigned(),
        );
    }
    builder.build().unwrap()
}

fn mdq(providers: Vec<Provider>) -> MdqResolver {
    let client = FakeClient::new();
    let mut builder = MdqResolver::builder(MDQ)
        .http_client(Arc::clone(&client) as Arc<dyn HttpClient>)
        .allow_unsigned();
    for p in providers {
        let id = p.metadata.entity_id().to_owned();
        client.doc(&mdq_url(MDQ, &id), &entity_doc(&id, &[], ""), "\"1\"");
        builder = builder.entity(p.name, id, p.settings);
    }
    builder.build().unwrap()
}

mod remote_resolver {
    use super::*;
    saml_testkit::metadata_resolver_tests!(|providers| remote(providers));
}

mod mdq_resolver {
    use super::*;
    saml_testkit::metadata_resolver_tests!(|providers| mdq(providers));
}
