//! The SP's keys in the database, on every server: encryption at rest
//! (round trip, wrong KEK, altered and swapped rows), KEK rotation, key
//! rollover, validation, two nodes and the cache.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use saml_core::store::{KeyStore, SpKeys, StoreError};
use saml_store_sql::{
    KekError, KeyEncryptionKey, KeyPurpose, KeyStoreError, NewKey, SqlKeyStore, SqlStore,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, Value};

use common::{Server, fresh, two_nodes};

const RSA_KEY: &str = include_str!("data/sp-rsa.key");
const RSA_CERT: &str = include_str!("data/sp-rsa.crt");
const NEXT_KEY: &str = include_str!("data/sp-rsa-next.key");
const NEXT_CERT: &str = include_str!("data/sp-rsa-next.crt");
const EC_KEY: &str = include_str!("data/sp-ec.key");
const EC_CERT: &str = include_str!("data/sp-ec.crt");
const PKCS1_KEY: &str = include_str!("data/sp-rsa-pkcs1.key");

fn kek(byte: u8) -> KeyEncryptionKey {
    KeyEncryptionKey::from_bytes(&[byte; 32]).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000, 0).unwrap() + TimeDelta::seconds(seconds)
}

/// A key store that reads the database on every call.
fn uncached(store: &SqlStore, k: KeyEncryptionKey) -> SqlKeyStore {
    store.keys(k).with_cache_ttl(Duration::ZERO)
}

fn cert_der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

fn signing_cert(keys: &SpKeys) -> Vec<u8> {
    keys.signing
        .as_ref()
        .expect("a signing key")
        .certificate()
        .expect("with its certificate")
        .der()
        .to_vec()
}

/// (nonce, ciphertext) of row `id`.
async fn sealed(store: &SqlStore, id: &str) -> (Vec<u8>, Vec<u8>) {
    let select = Query::select()
        .columns(["nonce", "ciphertext"].map(Alias::new))
        .from(Alias::new("saml_key"))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    let row = store
        .connection()
        .query_one(&select)
        .await
        .unwrap()
        .expect("row");
    (
        row.try_get::<Vec<u8>>("", "nonce").unwrap(),
        row.try_get::<Vec<u8>>("", "ciphertext").unwrap(),
    )
}

/// Sets column `column` of row `id` behind the store's back.
async fn poke(store: &SqlStore, id: &str, column: &str, value: impl Into<Value>) {
    let update = Query::update()
        .table(Alias::new("saml_key"))
        .value(Alias::new(column), value.into())
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    let done = store.connection().execute(&update).await.unwrap();
    assert_eq!(done.rows_affected(), 1);
}

/// Encrypts `<saml:Assertion/>`-like content to the certificate in
/// `cert_pem` and decrypts it with `keys`' decryption keys.
fn decrypts_for(keys: &SpKeys, cert_pem: &str) -> bool {
    use saml_core::xmlenc::{DecryptOptions, EncryptOptions, decrypt_element, encrypt_element};
    let cert = saml_core::crypto::Certificate::from_pem(cert_pem)
        .unwrap()
        .remove(0);
    let secret = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"/>"#;
    let data = encrypt_element(secret, cert.public_key(), &EncryptOptions::default()).unwrap();
    let wrapped = format!(
        r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{data}</saml:EncryptedAssertion>"#
    );
    let doc = saml_core::xml::Document::parse(&wrapped, &saml_core::Limits::default()).unwrap();
    match decrypt_element(doc.root(), &keys.decryption, &DecryptOptions::new()) {
        Ok(plain) => {
            assert_eq!(plain, secret);
            true
        }
        Err(_) => false,
    }
}

fn corrupt_naming(result: Result<SpKeys, StoreError>, id: &str) {
    match result {
        Err(StoreError::Corrupt(message)) => {
            assert!(message.contains(&format!("`{id}`")), "{message}");
        }
        other => panic!("expected Corrupt naming {id}, got {other:?}"),
    }
}

async fn round_trip(server: Server) {
    let store = fresh(server).await;
    let keys = uncached(&store, kek(1));
    assert!(keys.keys().await.unwrap().signing.is_none(), "no keys yet");
    let added = keys
        .add_key(NewKey::new("2026", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    assert_eq!(added.purpose, KeyPurpose::Both);
    assert!(!added.current);
    assert_eq!(added.kek_id, kek(1).id());
    assert_eq!(added.created_at, at(0));
    assert_eq!(added.subject, "CN=sp-rsa.example.test");
    assert_eq!(
        added.certificate_sha256,
        saml_core::crypto::sha256_hex(&cert_der(RSA_CERT))
    );
    keys.set_current("2026", at(1)).await.unwrap();

    let sp = keys.keys().await.unwrap();
    assert_eq!(signing_cert(&sp), cert_der(RSA_CERT));
    assert_eq!(sp.decryption.len(), 1);
    assert_eq!(sp.decryption[0].bits(), 2048);
    // The key signs, and the signature is the one the original key makes
    // (RSA PKCS#1 v1.5 is deterministic).
    let original = saml_core::crypto::SigningKey::from_pem(RSA_KEY).unwrap();
    let algorithm = original.default_algorithm();
    assert_eq!(
        sp.signing
            .as_ref()
            .unwrap()
            .sign(algorithm, b"hello")
            .unwrap(),
        original.sign(algorithm, b"hello").unwrap()
    );

    // The database holds no private key material in clear.
    let der = match PrivateKeyDer::from_pem_slice(RSA_KEY.as_bytes()).unwrap() {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        _ => panic!("PKCS#8"),
    };
    let (nonce, ciphertext) = sealed(&store, "2026").await;
    assert_eq!(nonce.len(), 12);
    assert_eq!(ciphertext.len(), der.len() + 16, "ciphertext and tag");
    assert!(
        !ciphertext
            .windows(16)
            .any(|w| der.windows(16).any(|d| d == w))
    );

    let listed = keys.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].current);
    assert_eq!(listed[0].updated_at, at(1));
    assert_eq!(listed[0].certificate_pem, RSA_CERT);

    // Another store handle (a restart) with the same KEK reads the same keys.
    let again = uncached(&store, kek(1)).keys().await.unwrap();
    assert_eq!(signing_cert(&again), cert_der(RSA_CERT));
}

async fn wrong_kek_is_refused(server: Server) {
    let store = fresh(server).await;
    uncached(&store, kek(1))
        .add_key(NewKey::new("k1", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    match uncached(&store, kek(2)).keys().await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("`k1`"), "{message}");
            assert!(message.contains(kek(1).id()), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // A row relabelled with the other KEK's id still does not open.
    poke(&store, "k1", "kek_id", kek(2).id()).await;
    corrupt_naming(uncached(&store, kek(2)).keys().await, "k1");
    // Management calls that decrypt fail the same way.
    let err = uncached(&store, kek(2))
        .set_current("k1", at(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, KeyStoreError::Store(StoreError::Corrupt(_))),
        "{err:?}"
    );
}

async fn altered_rows_are_refused(server: Server) {
    let store = fresh(server).await;
    let keys = uncached(&store, kek(1));
    keys.add_key(NewKey::new("k1", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    let (nonce, ciphertext) = sealed(&store, "k1").await;

    for index in [0, ciphertext.len() / 2, ciphertext.len() - 1] {
        let mut bad = ciphertext.clone();
        bad[index] ^= 0x01;
        poke(&store, "k1", "ciphertext", bad).await;
        corrupt_naming(keys.keys().await, "k1");
    }
    poke(&store, "k1", "ciphertext", ciphertext[..10].to_vec()).await;
    corrupt_naming(keys.keys().await, "k1");
    poke(&store, "k1", "ciphertext", ciphertext.clone()).await;

    let mut bad_nonce = nonce.clone();
    bad_nonce[0] ^= 0x80;
    poke(&store, "k1", "nonce", bad_nonce).await;
    corrupt_naming(keys.keys().await, "k1");
    poke(&store, "k1", "nonce", nonce[..8].to_vec()).await;
    corrupt_naming(keys.keys().await, "k1");
    poke(&store, "k1", "nonce", nonce).await;

    // The purpose is bound too: a decryption-only key cannot be relabelled.
    poke(&store, "k1", "purpose", "signing").await;
    corrupt_naming(keys.keys().await, "k1");
    poke(&store, "k1", "purpose", "nonsense").await;
    corrupt_naming(keys.keys().await, "k1");
    poke(&store, "k1", "purpose", "both").await;

    // Restored: it works again.
    assert_eq!(keys.keys().await.unwrap().decryption.len(), 1);
}

async fn swapped_rows_are_refused(server: Server) {
    let store = fresh(server).await;
    let keys = uncached(&store, kek(1));
    keys.add_key(NewKey::new("old", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    keys.add_key(NewKey::new("new", NEXT_KEY, NEXT_CERT), at(1))
        .await
        .unwrap();
    let (old_nonce, old_ciphertext) = sealed(&store, "old").await;
    let (new_nonce, new_ciphertext) = sealed(&store, "new").await;
    // Same KEK, valid ciphertexts, but each under the other's id.
    poke(&store, "new", "nonce", old_nonce.clone()).await;
    poke(&store, "new", "ciphertext", old_ciphertext.clone()).await;
    corrupt_naming(keys.keys().await, "new");
    poke(&store, "old", "nonce", new_nonce).await;
    poke(&store, "old", "ciphertext", new_ciphertext).await;
    let err = keys.keys().await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

async fn kek_rotation(server: Server) {
    let store = fresh(server).await;
    let under_a = uncached(&store, kek(1));
    under_a
        .add_key(NewKey::new("k1", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    under_a
        .add_key(NewKey::new("k2", NEXT_KEY, NEXT_CERT), at(1))
        .await
        .unwrap();
    under_a.set_current("k1", at(2)).await.unwrap();
    let (before, _) = sealed(&store, "k1").await;

    // During the rollout: nodes with the new KEK and the old one as previous.
    let both = uncached(&store, kek(2)).with_previous_kek(kek(1));
    assert_eq!(both.keys().await.unwrap().decryption.len(), 2);

    assert_eq!(store.rotate_kek(&kek(1), &kek(2)).await.unwrap(), 2);
    let (after, _) = sealed(&store, "k1").await;
    assert_ne!(before, after, "a fresh nonce");
    assert!(
        under_a.keys().await.is_err(),
        "the old KEK alone no longer opens"
    );
    let under_b = uncached(&store, kek(2));
    let sp = under_b.keys().await.unwrap();
    assert_eq!(signing_cert(&sp), cert_der(RSA_CERT));
    assert_eq!(sp.decryption.len(), 2);
    assert!(
        under_b
            .list()
            .await
            .unwrap()
            .iter()
            .all(|k| k.kek_id == kek(2).id())
    );
    assert_eq!(both.keys().await.unwrap().decryption.len(), 2);
    // Again: nothing left to do.
    assert_eq!(store.rotate_kek(&kek(1), &kek(2)).await.unwrap(), 0);

    // A row under neither KEK stops the rotation, and nothing changes.
    uncached(&store, kek(3))
        .add_key(
            NewKey::new("k3", EC_KEY, EC_CERT).purpose(KeyPurpose::Signing),
            at(3),
        )
        .await
        .unwrap();
    let err = store.rotate_kek(&kek(2), &kek(4)).await.unwrap_err();
    assert!(
        matches!(&err, KeyStoreError::Store(StoreError::Unavailable(m)) if m.contains("`k3`")),
        "{err:?}"
    );
    let listed = under_b.list().await.unwrap();
    let kek_of = |id: &str| {
        listed
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.kek_id.clone())
            .unwrap()
    };
    assert_eq!(kek_of("k1"), kek(2).id());
    assert_eq!(kek_of("k2"), kek(2).id());
    assert_eq!(kek_of("k3"), kek(3).id());

    // A row that does not open under the old KEK stops it too.
    let (_, mut ciphertext) = sealed(&store, "k2").await;
    ciphertext[0] ^= 1;
    poke(&store, "k2", "ciphertext", ciphertext).await;
    store.rotate_kek(&kek(3), &kek(2)).await.unwrap();
    let err = store.rotate_kek(&kek(2), &kek(5)).await.unwrap_err();
    assert!(
        matches!(&err, KeyStoreError::Store(StoreError::Corrupt(m)) if m.contains("`k2`")),
        "{err:?}"
    );
    assert!(
        under_b
            .list()
            .await
            .unwrap()
            .iter()
            .all(|k| k.kek_id == kek(2).id()),
        "rolled back"
    );
}

async fn rollover(server: Server) {
    let store = fresh(server).await;
    let keys = uncached(&store, kek(1));
    keys.add_key(NewKey::new("2025", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    keys.set_current("2025", at(1)).await.unwrap();
    // The next key is published first: it decrypts, the old one still signs.
    keys.add_key(NewKey::new("2026", NEXT_KEY, NEXT_CERT), at(2))
        .await
        .unwrap();
    let sp = keys.keys().await.unwrap();
    assert_eq!(signing_cert(&sp), cert_der(RSA_CERT));
    assert_eq!(sp.decryption.len(), 2);

    assert!(
        decrypts_for(&sp, NEXT_CERT),
        "the next key decrypts at once"
    );
    assert!(decrypts_for(&sp, RSA_CERT));
    keys.set_current("2026", at(3)).await.unwrap();
    let sp = keys.keys().await.unwrap();
    assert_eq!(signing_cert(&sp), cert_der(NEXT_CERT));
    assert_eq!(sp.decryption.len(), 2, "the old key still decrypts");
    assert!(decrypts_for(&sp, RSA_CERT));
    assert!(decrypts_for(&sp, NEXT_CERT));
    let listed = keys.list().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|k| (k.id.as_str(), k.current))
            .collect::<Vec<_>>(),
        [("2025", false), ("2026", true)]
    );
    // Making the current key current again changes nothing.
    keys.set_current("2026", at(4)).await.unwrap();
    assert_eq!(
        signing_cert(&keys.keys().await.unwrap()),
        cert_der(NEXT_CERT)
    );

    assert!(matches!(
        keys.retire("2026").await,
        Err(KeyStoreError::InUse(id)) if id == "2026"
    ));
    keys.retire("2025").await.unwrap();
    let sp = keys.keys().await.unwrap();
    assert_eq!(sp.decryption.len(), 1);
    assert!(
        !decrypts_for(&sp, RSA_CERT),
        "a retired key decrypts no more"
    );
    assert!(decrypts_for(&sp, NEXT_CERT));
    assert!(matches!(
        keys.retire("2025").await,
        Err(KeyStoreError::NotFound(_))
    ));

    // A decryption-only key never signs; a signing-only key never decrypts.
    keys.add_key(
        NewKey::new("dec", RSA_KEY, RSA_CERT).purpose(KeyPurpose::Decryption),
        at(5),
    )
    .await
    .unwrap();
    assert!(matches!(
        keys.set_current("dec", at(6)).await,
        Err(KeyStoreError::NotForSigning(_))
    ));
    keys.add_key(
        NewKey::new("ec", EC_KEY, EC_CERT).purpose(KeyPurpose::Signing),
        at(6),
    )
    .await
    .unwrap();
    keys.set_current("ec", at(7)).await.unwrap();
    let sp = keys.keys().await.unwrap();
    assert_eq!(signing_cert(&sp), cert_der(EC_CERT));
    assert_eq!(sp.decryption.len(), 2, "2026 and dec");
    assert!(matches!(
        keys.set_current("missing", at(8)).await,
        Err(KeyStoreError::NotFound(_))
    ));
}

async fn at_most_one_current_in_the_database(server: Server) {
    let store = fresh(server).await;
    let keys = uncached(&store, kek(1));
    keys.add_key(NewKey::new("a", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    keys.add_key(NewKey::new("b", NEXT_KEY, NEXT_CERT), at(1))
        .await
        .unwrap();
    keys.set_current("a", at(2)).await.unwrap();
    let update = Query::update()
        .table(Alias::new("saml_key"))
        .value(Alias::new("signing_current"), 1)
        .and_where(Expr::col(Alias::new("id")).eq("b"))
        .to_owned();
    assert!(store.connection().execute(&update).await.is_err());
}

async fn bad_input_is_refused(server: Server) {
    let store = fresh(server).await;
    let keys = uncached(&store, kek(1));
    for id in ["", "has space", "slash/", &"x".repeat(65), "é"] {
        assert!(
            matches!(
                keys.add_key(NewKey::new(id, RSA_KEY, RSA_CERT), at(0))
                    .await,
                Err(KeyStoreError::InvalidId(_))
            ),
            "{id:?}"
        );
    }
    let invalid = |r: Result<_, KeyStoreError>| matches!(r, Err(KeyStoreError::InvalidKey { ref id, .. }) if id == "k");
    // PKCS#1 is refused with advice; so are garbage, a certificate of
    // another key, no certificate, an ECDSA key for decryption.
    let pkcs1 = keys
        .add_key(NewKey::new("k", PKCS1_KEY, RSA_CERT), at(0))
        .await
        .unwrap_err();
    assert!(pkcs1.to_string().contains("openssl pkcs8"), "{pkcs1}");
    assert!(invalid(
        keys.add_key(NewKey::new("k", "not a key", RSA_CERT), at(0))
            .await
    ));
    assert!(invalid(
        keys.add_key(NewKey::new("k", RSA_KEY, NEXT_CERT), at(0))
            .await
    ));
    assert!(invalid(
        keys.add_key(NewKey::new("k", RSA_KEY, ""), at(0)).await
    ));
    assert!(invalid(
        keys.add_key(
            NewKey::new("k", RSA_KEY, format!("{RSA_CERT}{NEXT_CERT}")),
            at(0)
        )
        .await
    ));
    assert!(invalid(
        keys.add_key(NewKey::new("k", EC_KEY, EC_CERT), at(0)).await
    ));
    assert!(keys.list().await.unwrap().is_empty(), "nothing written");

    keys.add_key(NewKey::new("k", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    assert!(matches!(
        keys.add_key(NewKey::new("k", NEXT_KEY, NEXT_CERT), at(1))
            .await,
        Err(KeyStoreError::AlreadyExists(id)) if id == "k"
    ));
    // Ids compare exactly (MySQL's default collation would fold case).
    keys.add_key(NewKey::new("K", NEXT_KEY, NEXT_CERT), at(1))
        .await
        .unwrap();
    assert_eq!(keys.list().await.unwrap().len(), 2);
}

async fn two_nodes_share_keys(server: Server) {
    let (a, b) = two_nodes(server).await;
    let node_a = a.keys(kek(1));
    let node_b = b.keys(kek(1)).with_cache_ttl(Duration::ZERO);
    node_a
        .add_key(NewKey::new("2025", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    node_a.set_current("2025", at(1)).await.unwrap();
    assert_eq!(
        signing_cert(&node_b.keys().await.unwrap()),
        cert_der(RSA_CERT)
    );

    // Node A caches (default TTL); node B rolls over.
    assert_eq!(
        signing_cert(&node_a.keys().await.unwrap()),
        cert_der(RSA_CERT)
    );
    node_b
        .add_key(NewKey::new("2026", NEXT_KEY, NEXT_CERT), at(2))
        .await
        .unwrap();
    node_b.set_current("2026", at(3)).await.unwrap();
    assert_eq!(
        signing_cert(&node_b.keys().await.unwrap()),
        cert_der(NEXT_CERT)
    );
    // A serves its cached copy until the TTL runs out or it is told.
    assert_eq!(
        signing_cert(&node_a.keys().await.unwrap()),
        cert_der(RSA_CERT)
    );
    node_a.invalidate();
    let sp = node_a.keys().await.unwrap();
    assert_eq!(signing_cert(&sp), cert_der(NEXT_CERT));
    assert_eq!(sp.decryption.len(), 2);
    // A clone shares the cache.
    let clone = node_a.clone();
    assert_eq!(
        signing_cert(&clone.keys().await.unwrap()),
        cert_der(NEXT_CERT)
    );
}

/// Two nodes switching the current key at the same moment, many times:
/// there is always exactly one current key, and both nodes agree on it.
async fn concurrent_set_current(server: Server) {
    let (a, b) = two_nodes(server).await;
    let node_a = uncached(&a, kek(1));
    let node_b = uncached(&b, kek(1));
    node_a
        .add_key(NewKey::new("x", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    node_a
        .add_key(NewKey::new("y", NEXT_KEY, NEXT_CERT), at(0))
        .await
        .unwrap();
    for round in 0..8 {
        let (ra, rb) = tokio::join!(
            node_a.set_current("x", at(round)),
            node_b.set_current("y", at(round))
        );
        ra.unwrap();
        rb.unwrap();
        let listed = node_a.list().await.unwrap();
        assert_eq!(listed.iter().filter(|k| k.current).count(), 1, "{listed:?}");
        assert_eq!(
            signing_cert(&node_a.keys().await.unwrap()),
            signing_cert(&node_b.keys().await.unwrap())
        );
    }
}

macro_rules! on_every_server {
    ($($server:ident),*) => {$(
        #[allow(non_snake_case)]
        mod $server {
            use super::*;

            #[tokio::test]
            async fn round_trip() {
                super::round_trip(Server::$server).await;
            }

            #[tokio::test]
            async fn wrong_kek_is_refused() {
                super::wrong_kek_is_refused(Server::$server).await;
            }

            #[tokio::test]
            async fn altered_rows_are_refused() {
                super::altered_rows_are_refused(Server::$server).await;
            }

            #[tokio::test]
            async fn swapped_rows_are_refused() {
                super::swapped_rows_are_refused(Server::$server).await;
            }

            #[tokio::test]
            async fn kek_rotation() {
                super::kek_rotation(Server::$server).await;
            }

            #[tokio::test]
            async fn rollover() {
                super::rollover(Server::$server).await;
            }

            #[tokio::test]
            async fn at_most_one_current_in_the_database() {
                super::at_most_one_current_in_the_database(Server::$server).await;
            }

            #[tokio::test]
            async fn bad_input_is_refused() {
                super::bad_input_is_refused(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_set_current() {
                super::concurrent_set_current(Server::$server).await;
            }

            #[tokio::test]
            async fn two_nodes_share_keys() {
                super::two_nodes_share_keys(Server::$server).await;
            }
        }
    )*};
}

on_every_server!(Sqlite, Postgres, Mysql);

#[test]
fn kek_parsing_and_redaction() {
    let bytes: Vec<u8> = (0u8..32).collect();
    let b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let a = KeyEncryptionKey::from_bytes(&bytes).unwrap();
    for text in [
        b64,
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    ] {
        assert_eq!(KeyEncryptionKey::from_base64(text).unwrap().id(), a.id());
    }
    assert_eq!(a.id().len(), 32);
    assert_ne!(a.id(), kek(0).id());
    assert_eq!(
        KeyEncryptionKey::from_bytes(&[0; 16]).unwrap_err(),
        KekError::WrongLength(16)
    );
    assert_eq!(
        KeyEncryptionKey::from_base64("AAAA").unwrap_err(),
        KekError::WrongLength(3)
    );
    assert_eq!(
        KeyEncryptionKey::from_base64("not base64!").unwrap_err(),
        KekError::NotBase64
    );
    let missing = KeyEncryptionKey::from_env("SAML_STORE_SQL_TEST_NO_SUCH_VARIABLE").unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("SAML_STORE_SQL_TEST_NO_SUCH_VARIABLE")
    );

    // Debug shows the id only: neither the bytes nor the base64.
    let debug = format!("{a:?}");
    assert!(debug.contains(a.id()), "{debug}");
    assert!(!debug.contains("AAECAw"), "{debug}");
    assert!(!debug.contains("0, 1, 2"), "{debug}");
    assert!(!debug.contains("[0"), "{debug}");
    let new_key = format!("{:?}", NewKey::new("k", RSA_KEY, RSA_CERT));
    assert!(!new_key.contains("PRIVATE"), "{new_key}");
}

#[tokio::test]
async fn key_store_debug_shows_no_secrets() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    let keys = store.keys(kek(7));
    keys.add_key(NewKey::new("k", RSA_KEY, RSA_CERT), at(0))
        .await
        .unwrap();
    keys.set_current("k", at(0)).await.unwrap();
    let printed = format!("{keys:?} {:?}", keys.keys().await.unwrap());
    assert!(printed.contains(kek(7).id()), "{printed}");
    assert!(!printed.contains("PRIVATE"), "{printed}");
    assert!(!printed.contains("[7, 7"), "{printed}");
}
