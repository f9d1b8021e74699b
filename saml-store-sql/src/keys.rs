//! [`SqlKeyStore`]: the SP's own signing and decryption keys in the
//! database, private halves encrypted at rest.
//!
//! Every node of a deployment reads the same keys from `saml_key`, so a
//! key rollover is done once, in the database, and not on every machine.
//!
//! # Encryption at rest
//!
//! The private key (PKCS#8 DER) of each row is sealed with AES-256-GCM under
//! a 32-byte [`KeyEncryptionKey`] (KEK) that the application supplies (from
//! an environment variable or a secret manager; it is never stored in the
//! database):
//!
//! - a fresh random 96-bit nonce for every write;
//! - the row's key id and purpose are the AEAD's associated data, so a
//!   ciphertext copied into another row, or a decryption-only key relabelled
//!   as a signing key, fails to decrypt;
//! - the row records which KEK sealed it (`kek_id`, an HMAC-SHA-256 check
//!   value of the KEK that says nothing about it), so a store given the
//!   wrong KEK says so, and a KEK can be rotated
//!   ([`SqlStore::rotate_kek`]) while nodes that still hold the old one
//!   keep working ([`SqlKeyStore::with_previous_kek`]).
//!
//! The certificate of each key is public and stored in clear; a certificate
//! swapped for another key's is caught when the row is read (the private
//! key must match it).
//!
//! What this protects against: someone who reads the database (a dump, a
//! backup, a replica, SQL injection elsewhere) gets no private key, and
//! someone who writes to it cannot plant a key of their own. They can still
//! delete rows, choose which stored key is current, or restore a row from
//! an old backup (a retired key of yours comes back); protect the table's
//! write access accordingly.
//!
//! # Rollover
//!
//! One key is the *current signing key*: it signs requests and metadata.
//! Every key whose purpose includes decryption decrypts, current or not, so
//! an IdP that still encrypts to last year's certificate (or already to next
//! year's) keeps working. [`SqlKeyStore::add_key`] adds a key,
//! [`set_current`](SqlKeyStore::set_current) makes a key the signing key
//! (the database allows one), [`retire`](SqlKeyStore::retire) deletes a key
//! that is not current, [`list`](SqlKeyStore::list) shows them without
//! private material.
//!
//! # Failing closed
//!
//! [`KeyStore::keys`] decrypts every row. A row sealed under a KEK the store
//! was not given is `StoreError::Unavailable`; a row that does not decrypt
//! (altered, or moved from another row) or whose key does not parse is
//! `StoreError::Corrupt`. Both messages name the key id, so the operator
//! knows which key to fix or retire; the layer answers 503 meanwhile.
//!
//! # Caching
//!
//! Decrypting and parsing RSA keys on every request would cost a database
//! round trip and milliseconds of CPU, so [`KeyStore::keys`] keeps the
//! decrypted keys in memory for a short time ([`DEFAULT_KEY_CACHE_TTL`], 30
//! seconds; [`SqlKeyStore::with_cache_ttl`] changes it, zero turns caching
//! off). Changes made through a store drop its own cache at once; other
//! nodes see them within the TTL. A reload that fails is an error: stale
//! keys are not served past the TTL.
//!
//! ```
//! use chrono::Utc;
//! use saml_core::store::KeyStore;
//! use saml_store_sql::{KeyEncryptionKey, KeyPurpose, NewKey, SqlStore};
//!
//! # let key_pem = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sp-rsa.key"));
//! # let cert_pem = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sp-rsa.crt"));
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! // In production: KeyEncryptionKey::from_env("SAML_KEK")?
//! let kek = KeyEncryptionKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
//! let store = SqlStore::connect("sqlite::memory:").await?;
//! let keys = store.keys(kek);
//! keys.add_key(NewKey::new("2026", key_pem, cert_pem).purpose(KeyPurpose::Both), Utc::now()).await?;
//! keys.set_current("2026", Utc::now()).await?;
//! let sp = keys.keys().await?; // SamlLayer::builder(..).key_store(keys.clone())
//! assert!(sp.signing.is_some());
//! assert_eq!(sp.decryption.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use chrono::{DateTime, Utc};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use saml_core::crypto::{Certificate, SigningKey};
use saml_core::store::{KeyStore, SpKeys, StoreError};
use saml_core::xmlenc::DecryptionKey;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use zeroize::Zeroizing;

use crate::entity::key as row;
use crate::{SqlStore, begin_write, from_micros, insert_error, micros, unavailable};

/// How long [`KeyStore::keys`] serves decrypted keys from memory before
/// reading the database again.
pub const DEFAULT_KEY_CACHE_TTL: Duration = Duration::from_secs(30);

/// Longest key id, in bytes.
pub const MAX_KEY_ID_LEN: usize = 64;

/// What the associated data of every sealed row starts with (the format).
const AAD_LABEL: &[u8] = b"saml-store-sql/saml_key/v1";

/// What a KEK's id is the HMAC of.
const KEK_ID_LABEL: &[u8] = b"saml-store-sql key-encryption-key id v1";

/// A 32-byte AES-256-GCM key-encryption key, supplied by the application.
///
/// Never printed: `Debug` shows only its [`id`](Self::id), a check value
/// (HMAC-SHA-256 of a fixed label under the key, 128 bits) that tells keys
/// apart without revealing them. The bytes are wiped from memory on drop.
#[derive(Clone)]
pub struct KeyEncryptionKey {
    key: Zeroizing<[u8; 32]>,
    id: String,
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why a [`KeyEncryptionKey`] could not be made. Never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KekError {
    /// The key is not 32 bytes long.
    #[error("a key-encryption key is 32 bytes, not {0}")]
    WrongLength(usize),
    /// The text is not base64.
    #[error("the key-encryption key is not valid base64")]
    NotBase64,
    /// The environment variable is missing or not Unicode.
    #[error("the environment variable {0} holding the key-encryption key is not set")]
    MissingVariable(String),
}

impl KeyEncryptionKey {
    /// The length of a key-encryption key, in bytes.
    pub const LEN: usize = 32;

    /// The KEK made of these 32 bytes.
    ///
    /// # Errors
    /// [`KekError::WrongLength`] unless `bytes` is 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KekError> {
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != Self::LEN {
            return Err(KekError::WrongLength(bytes.len()));
        }
        key.copy_from_slice(bytes);
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.as_slice()),
            KEK_ID_LABEL,
        );
        let id = saml_core::crypto::hex(tag.as_ref().get(..16).unwrap_or_default());
        Ok(Self { key, id })
    }

    /// The KEK written as base64 (standard or URL-safe alphabet, padded or
    /// not; surrounding whitespace ignored), as `openssl rand -base64 32`
    /// prints one.
    ///
    /// # Errors
    /// [`KekError::NotBase64`], or [`KekError::WrongLength`] when it does
    /// not decode to 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KekError> {
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        let text = text.trim();
        let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .map(Zeroizing::new)
            .ok_or(KekError::NotBase64)?;
        Self::from_bytes(&bytes)
    }

    /// The KEK in base64 in the environment variable `name` (see
    /// [`from_base64`](Self::from_base64)). Error messages name the
    /// variable, never its value.
    ///
    /// # Errors
    /// [`KekError::MissingVariable`], [`KekError::NotBase64`] or
    /// [`KekError::WrongLength`].
    pub fn from_env(name: &str) -> Result<Self, KekError> {
        let value = Zeroizing::new(
            std::env::var(name).map_err(|_| KekError::MissingVariable(name.to_owned()))?,
        );
        Self::from_base64(&value)
    }

    /// The KEK's public check value (32 hex digits), as stored in each
    /// row's `kek_id`.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    fn aead(&self) -> Result<LessSafeKey, StoreError> {
        UnboundKey::new(&AES_256_GCM, self.key.as_slice())
            .map(LessSafeKey::new)
            .map_err(|_| StoreError::Unavailable("AES-256-GCM is not available".to_owned()))
    }
}

/// What a key is used for. Bound to the encrypted row: changing it in the
/// database makes the row fail to decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeyPurpose {
    /// Signs requests and metadata (when current); RSA or ECDSA.
    Signing,
    /// Decrypts assertions and IDs encrypted to the SP; RSA only.
    Decryption,
    /// Both (one key in the SP metadata without a `use`); RSA only.
    #[default]
    Both,
}

impl KeyPurpose {
    /// The stored form: `signing`, `decryption` or `both`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Signing => "signing",
            Self::Decryption => "decryption",
            Self::Both => "both",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "signing" => Some(Self::Signing),
            "decryption" => Some(Self::Decryption),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    /// Whether the key may sign.
    #[must_use]
    pub const fn signs(self) -> bool {
        matches!(self, Self::Signing | Self::Both)
    }

    /// Whether the key decrypts.
    #[must_use]
    pub const fn decrypts(self) -> bool {
        matches!(self, Self::Decryption | Self::Both)
    }
}

impl fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key to add: an id, the PKCS#8 PEM private key, its certificate, and a
/// purpose ([`KeyPurpose::Both`] unless set). `Debug` leaves the private
/// key out; the PEM text is wiped from memory on drop.
#[derive(Clone)]
pub struct NewKey {
    id: String,
    private_key_pem: Zeroizing<String>,
    certificate_pem: String,
    purpose: KeyPurpose,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl NewKey {
    /// Key `id` (1 to 64 of `A-Z a-z 0-9 . _ -`), its private key as PKCS#8
    /// PEM (`-----BEGIN PRIVATE KEY-----`, unencrypted) and its certificate
    /// as PEM.
    #[must_use]
    pub fn new(
        id: impl Into<String>,
        private_key_pem: impl Into<String>,
        certificate_pem: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            private_key_pem: Zeroizing::new(private_key_pem.into()),
            certificate_pem: certificate_pem.into(),
            purpose: KeyPurpose::default(),
        }
    }

    /// What the key is for.
    #[must_use]
    pub const fn purpose(mut self, purpose: KeyPurpose) -> Self {
        self.purpose = purpose;
        self
    }
}

/// A stored key as [`SqlKeyStore::list`] shows it: no private material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// The key id.
    pub id: String,
    /// What it is for.
    pub purpose: KeyPurpose,
    /// Whether it is the current signing key.
    pub current: bool,
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub certificate_sha256: String,
    /// The certificate's subject.
    pub subject: String,
    /// The end of the certificate's validity.
    pub not_after: DateTime<Utc>,
    /// The id of the KEK that encrypts the private key.
    pub kek_id: String,
    /// When the key was added.
    pub created_at: DateTime<Utc>,
    /// When the row last changed (made current, re-encrypted...).
    pub updated_at: DateTime<Utc>,
}

/// Why a key management call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// The key id is empty, too long or has other characters than
    /// `A-Z a-z 0-9 . _ -`.
    #[error("invalid key id `{0}`: use 1 to 64 of A-Z a-z 0-9 . _ -")]
    InvalidId(String),
    /// The private key or certificate is unusable (not PKCS#8, not RSA for
    /// decryption, certificate of another key...).
    #[error("key `{id}`: {reason}")]
    InvalidKey {
        /// The key id.
        id: String,
        /// What is wrong (never key material).
        reason: String,
    },
    /// A key with this id exists.
    #[error("a key with id `{0}` exists")]
    AlreadyExists(String),
    /// No key has this id.
    #[error("no key with id `{0}`")]
    NotFound(String),
    /// The key's purpose does not include signing, so it cannot be current.
    #[error("key `{0}` is for decryption only and cannot be the signing key")]
    NotForSigning(String),
    /// The key is the current signing key; make another current first.
    #[error("key `{0}` is the current signing key; make another key current before retiring it")]
    InUse(String),
    /// The database failed, or a row did not decrypt (the message names the key).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The SP's keys in `saml_key` (see [the module](self)). Cheap to clone:
/// clones share the pool and the cache.
#[derive(Clone)]
pub struct SqlKeyStore {
    db: DatabaseConnection,
    /// The first seals new rows; all open rows sealed under them.
    keks: Arc<Vec<KeyEncryptionKey>>,
    ttl: Duration,
    cache: Arc<Cache>,
}

#[derive(Default)]
struct Cache {
    entry: Mutex<Option<(Instant, SpKeys)>>,
    /// Bumped by every change, so a load that raced a change is not kept.
    generation: AtomicU64,
}

impl fmt::Debug for SqlKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlKeyStore")
            .field("backend", &self.db.get_database_backend())
            .field("keks", &self.keks)
            .field("cache_ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// The SP's key store, sealing and opening private keys with `kek` (see
    /// [`keys`](crate::keys)).
    ///
    /// Each call makes a store with its own cache of decrypted keys: make
    /// one at start and clone it (clones share the cache).
    #[must_use]
    pub fn keys(&self, kek: KeyEncryptionKey) -> SqlKeyStore {
        SqlKeyStore {
            db: self.db.clone(),
            keks: Arc::new(vec![kek]),
            ttl: DEFAULT_KEY_CACHE_TTL,
            cache: Arc::default(),
        }
    }

    /// Re-encrypts every key sealed under `old` with `new`, in one
    /// transaction: either every row moves to `new` or none does. Rows
    /// already under `new` are left alone, so running it again is harmless.
    /// Returns how many rows were re-encrypted.
    ///
    /// Give the nodes `new` (with `old` as a
    /// [previous KEK](SqlKeyStore::with_previous_kek)) before rotating, and
    /// drop `old` from their configuration afterwards.
    ///
    /// # Errors
    /// `KeyStoreError::Store`: the database failed, a row is sealed under
    /// neither KEK (`Unavailable`), or a row does not decrypt under `old`
    /// (`Corrupt`); nothing is changed then.
    pub async fn rotate_kek(
        &self,
        old: &KeyEncryptionKey,
        new: &KeyEncryptionKey,
    ) -> Result<u64, KeyStoreError> {
        let txn = begin_write(&self.db).await.map_err(unavailable)?;
        match reseal_all(&txn, old, new).await {
            Ok(moved) => {
                txn.commit().await.map_err(unavailable)?;
                Ok(moved)
            }
            Err(e) => {
                // Nothing half-done: every row stays where it was.
                let _ = txn.rollback().await;
                Err(e)
            }
        }
    }
}

/// Moves every row under `old` to `new` within `txn`.
async fn reseal_all(
    txn: &sea_orm::DatabaseTransaction,
    old: &KeyEncryptionKey,
    new: &KeyEncryptionKey,
) -> Result<u64, KeyStoreError> {
    lock_all(txn).await?;
    let rows = row::Entity::find()
        .order_by_asc(row::Column::Id)
        .all(txn)
        .await
        .map_err(unavailable)?;
    let mut moved = 0u64;
    for found in rows {
        if found.kek_id == new.id() {
            continue;
        }
        if found.kek_id != old.id() {
            return Err(wrong_kek(&found, std::slice::from_ref(old)).into());
        }
        let der = open(old, &found)?;
        let (nonce, ciphertext) = seal(new, &found.id, &found.purpose, &der)?;
        let done = row::Entity::update_many()
            .col_expr(row::Column::KekId, Expr::value(new.id()))
            .col_expr(row::Column::Nonce, Expr::value(nonce))
            .col_expr(row::Column::Ciphertext, Expr::value(ciphertext))
            .filter(row::Column::Id.eq(found.id.as_str()))
            .filter(row::Column::KekId.eq(old.id()))
            .exec(txn)
            .await
            .map_err(unavailable)?;
        moved = moved.saturating_add(done.rows_affected);
    }
    Ok(moved)
}

impl SqlKeyStore {
    /// Also opens rows sealed under `kek` (new rows are still sealed under
    /// the first KEK). For KEK rotation: nodes get the new KEK with the old
    /// one as previous, then [`SqlStore::rotate_kek`] runs.
    #[must_use]
    pub fn with_previous_kek(mut self, kek: KeyEncryptionKey) -> Self {
        Arc::make_mut(&mut self.keks).push(kek);
        self.cache = Arc::default();
        self
    }

    /// How long decrypted keys are served from memory
    /// ([`DEFAULT_KEY_CACHE_TTL`] by default; zero reads the database on
    /// every call).
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Forgets the cached keys: the next [`KeyStore::keys`] reads the
    /// database (changes made through this store do this themselves).
    pub fn invalidate(&self) {
        self.cache.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entry) = self.cache.entry.lock() {
            *entry = None;
        }
    }

    /// Adds a key (not current; see [`set_current`](Self::set_current)).
    /// The private key is checked against the certificate and the purpose,
    /// then sealed under the first KEK.
    ///
    /// # Errors
    /// [`KeyStoreError::InvalidId`], [`KeyStoreError::InvalidKey`] (not
    /// PKCS#8, certificate of another key, an ECDSA key for decryption...),
    /// [`KeyStoreError::AlreadyExists`], or `Store` when the database fails.
    pub async fn add_key(&self, key: NewKey, now: DateTime<Utc>) -> Result<KeyInfo, KeyStoreError> {
        check_id(&key.id)?;
        let invalid = |reason: String| KeyStoreError::InvalidKey {
            id: key.id.clone(),
            reason,
        };
        let der = match PrivateKeyDer::from_pem_slice(key.private_key_pem.as_bytes()) {
            Ok(PrivateKeyDer::Pkcs8(pkcs8)) => Zeroizing::new(pkcs8.secret_pkcs8_der().to_vec()),
            Ok(_) => {
                return Err(invalid(
                    "the private key must be PKCS#8 (BEGIN PRIVATE KEY); convert it with `openssl pkcs8 -topk8 -nocrypt`".to_owned(),
                ));
            }
            Err(_) => return Err(invalid("no PKCS#8 private key in the PEM text".to_owned())),
        };
        let mut certificates = Certificate::from_pem(&key.certificate_pem)
            .map_err(|e| invalid(format!("the certificate does not parse: {e}")))?;
        if certificates.len() != 1 {
            return Err(invalid(format!(
                "give exactly one certificate, not {}",
                certificates.len()
            )));
        }
        let certificate = certificates.remove(0);
        parse_key(&key.id, key.purpose, &der, certificate.clone(), false)
            .map_err(|e| invalid(e.to_string()))?;
        let kek = self.write_kek()?;
        let purpose = key.purpose.as_str();
        let (nonce, ciphertext) = seal(kek, &key.id, purpose, &der)?;
        let model = row::ActiveModel {
            id: Set(key.id.clone()),
            purpose: Set(purpose.to_owned()),
            signing_current: Set(None),
            certificate_pem: Set(key.certificate_pem.clone()),
            kek_id: Set(kek.id().to_owned()),
            nonce: Set(nonce),
            ciphertext: Set(ciphertext),
            created_at: Set(micros(now)),
            updated_at: Set(micros(now)),
        };
        row::Entity::insert(model)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| match insert_error(e) {
                StoreError::Conflict(_) => KeyStoreError::AlreadyExists(key.id.clone()),
                other => other.into(),
            })?;
        self.invalidate();
        let found = row::Entity::find_by_id(key.id.as_str())
            .one(&self.db)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| KeyStoreError::NotFound(key.id.clone()))?;
        Ok(info(&found)?)
    }

    /// Makes key `id` the one current signing key (the previous one stays,
    /// and still decrypts if its purpose says so). The key is decrypted and
    /// checked first.
    ///
    /// # Errors
    /// [`KeyStoreError::NotFound`], [`KeyStoreError::NotForSigning`], or
    /// `Store` when the database fails or the row does not decrypt.
    pub async fn set_current(&self, id: &str, now: DateTime<Utc>) -> Result<(), KeyStoreError> {
        let txn = begin_write(&self.db).await.map_err(unavailable)?;
        lock_all(&txn).await?;
        let found = row::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| KeyStoreError::NotFound(id.to_owned()))?;
        let purpose = stored_purpose(&found)?;
        if !purpose.signs() {
            return Err(KeyStoreError::NotForSigning(id.to_owned()));
        }
        decrypt_row(&self.keks, &found)?;
        row::Entity::update_many()
            .col_expr(
                row::Column::SigningCurrent,
                Expr::value(Option::<i32>::None),
            )
            .col_expr(row::Column::UpdatedAt, Expr::value(micros(now)))
            .filter(row::Column::SigningCurrent.eq(1))
            .filter(row::Column::Id.ne(id))
            .exec(&txn)
            .await
            .map_err(unavailable)?;
        row::Entity::update_many()
            .col_expr(row::Column::SigningCurrent, Expr::value(1))
            .col_expr(row::Column::UpdatedAt, Expr::value(micros(now)))
            .filter(row::Column::Id.eq(id))
            .exec(&txn)
            .await
            .map_err(unavailable)?;
        txn.commit().await.map_err(unavailable)?;
        self.invalidate();
        Ok(())
    }

    /// Deletes key `id` for good (it no longer signs or decrypts).
    ///
    /// # Errors
    /// [`KeyStoreError::NotFound`], [`KeyStoreError::InUse`] for the current
    /// signing key, or `Store` when the database fails.
    pub async fn retire(&self, id: &str) -> Result<(), KeyStoreError> {
        let txn = begin_write(&self.db).await.map_err(unavailable)?;
        lock_all(&txn).await?;
        let found = row::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| KeyStoreError::NotFound(id.to_owned()))?;
        if found.signing_current.is_some() {
            return Err(KeyStoreError::InUse(id.to_owned()));
        }
        // Conditional: a key made current meanwhile by another node stays.
        let done = row::Entity::delete_many()
            .filter(row::Column::Id.eq(id))
            .filter(row::Column::SigningCurrent.is_null())
            .exec(&txn)
            .await
            .map_err(unavailable)?;
        if done.rows_affected != 1 {
            let still_there = row::Entity::find_by_id(id).one(&txn).await;
            let _ = txn.rollback().await;
            return Err(match still_there {
                Ok(Some(_)) => KeyStoreError::InUse(id.to_owned()),
                Ok(None) => KeyStoreError::NotFound(id.to_owned()),
                Err(e) => unavailable(e).into(),
            });
        }
        txn.commit().await.map_err(unavailable)?;
        self.invalidate();
        Ok(())
    }

    /// Every key, oldest first, without private material (nothing is
    /// decrypted).
    ///
    /// # Errors
    /// `Store` when the database fails or a certificate does not parse.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyStoreError> {
        let rows = row::Entity::find()
            .order_by_asc(row::Column::CreatedAt)
            .order_by_asc(row::Column::Id)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(info).collect::<Result<_, _>>()?)
    }

    fn write_kek(&self) -> Result<&KeyEncryptionKey, StoreError> {
        self.keks
            .first()
            .ok_or_else(|| StoreError::Unavailable("no key-encryption key".to_owned()))
    }

    /// Reads, decrypts and parses every key.
    async fn load(&self) -> Result<SpKeys, StoreError> {
        let rows = row::Entity::find()
            .order_by_desc(row::Column::CreatedAt)
            .order_by_desc(row::Column::Id)
            .all(&self.db)
            .await
            .map_err(unavailable)?;
        let mut keys = SpKeys::default();
        let mut current_decryption = None;
        for found in &rows {
            let purpose = stored_purpose(found)?;
            let current = found.signing_current.is_some();
            let der = decrypt_row(&self.keks, found)?;
            let certificate = Certificate::from_pem(&found.certificate_pem)
                .ok()
                .and_then(|mut c| (!c.is_empty()).then(|| c.remove(0)))
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "SP key `{}`: the stored certificate does not parse",
                        found.id
                    ))
                })?;
            let (signing, decryption) = parse_key(&found.id, purpose, &der, certificate, current)?;
            if current {
                keys.signing = signing.map(Arc::new);
                current_decryption = decryption;
            } else if let Some(d) = decryption {
                keys.decryption.push(d);
            }
        }
        // The current key first, then the others newest first.
        if let Some(d) = current_decryption {
            keys.decryption.insert(0, d);
        }
        Ok(keys)
    }
}

#[async_trait]
impl KeyStore for SqlKeyStore {
    async fn keys(&self) -> Result<SpKeys, StoreError> {
        let generation = self.cache.generation.load(Ordering::SeqCst);
        if !self.ttl.is_zero()
            && let Ok(entry) = self.cache.entry.lock()
            && let Some((at, keys)) = entry.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(keys.clone());
        }
        let keys = self.load().await?;
        if !self.ttl.is_zero()
            && let Ok(mut entry) = self.cache.entry.lock()
            && self.cache.generation.load(Ordering::SeqCst) == generation
        {
            *entry = Some((Instant::now(), keys.clone()));
        }
        Ok(keys)
    }
}

/// Locks every row of `saml_key` for the rest of `txn`, in key order, so
/// that changes of the current key from several nodes queue up instead of
/// deadlocking (MySQL) or tripping the unique index (PostgreSQL). SQLite's
/// write transaction already excludes other writers.
async fn lock_all(txn: &sea_orm::DatabaseTransaction) -> Result<(), StoreError> {
    use sea_orm::{ConnectionTrait, DatabaseBackend, QuerySelect};
    if txn.get_database_backend() == DatabaseBackend::Sqlite {
        return Ok(());
    }
    row::Entity::find()
        .select_only()
        .column(row::Column::Id)
        .order_by_asc(row::Column::Id)
        .lock_exclusive()
        .into_tuple::<String>()
        .all(txn)
        .await
        .map_err(unavailable)?;
    Ok(())
}

fn check_id(id: &str) -> Result<(), KeyStoreError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(KeyStoreError::InvalidId(id.chars().take(80).collect()))
    }
}

fn stored_purpose(found: &row::Model) -> Result<KeyPurpose, StoreError> {
    KeyPurpose::parse(&found.purpose).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "SP key `{}`: unknown purpose `{}`",
            found.id, found.purpose
        ))
    })
}

/// The signing key (only when `signing` and the purpose allows) and the
/// decryption key (when the purpose says so) in `der`.
fn parse_key(
    id: &str,
    purpose: KeyPurpose,
    der: &[u8],
    certificate: Certificate,
    signing: bool,
) -> Result<(Option<SigningKey>, Option<DecryptionKey>), StoreError> {
    let corrupt = |what: &str, e: saml_core::Error| {
        StoreError::Corrupt(format!("SP key `{id}`: {what}: {e}"))
    };
    // Always parsed: it checks that the certificate holds this key.
    let key = SigningKey::from_der(der)
        .and_then(|k| k.with_certificate(certificate))
        .map_err(|e| corrupt("not a usable private key for its certificate", e))?;
    let decryption = if purpose.decrypts() {
        Some(
            DecryptionKey::from_pkcs8(der)
                .map_err(|e| corrupt("not a usable decryption key (RSA only)", e))?,
        )
    } else {
        None
    };
    if signing && !purpose.signs() {
        return Err(StoreError::Corrupt(format!(
            "SP key `{id}` is marked current but its purpose is {purpose}"
        )));
    }
    Ok((signing.then_some(key), decryption))
}

/// The associated data of row `id` with `purpose`: the format label, then
/// each field with its length, so no two rows share it.
fn aad(id: &str, purpose: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(AAD_LABEL.len() + id.len() + purpose.len() + 8);
    out.extend_from_slice(AAD_LABEL);
    for field in [id, purpose] {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// Seals `der` for row (`id`, `purpose`): (nonce, ciphertext with tag).
fn seal(
    kek: &KeyEncryptionKey,
    id: &str,
    purpose: &str,
    der: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
    let failed = || StoreError::Unavailable(format!("encrypting SP key `{id}` failed"));
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| failed())?;
    let mut buffer = der.to_vec();
    kek.aead()?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(id, purpose)),
            &mut buffer,
        )
        .map_err(|_| failed())?;
    Ok((nonce.to_vec(), buffer))
}

/// Opens `found` with `kek` (which must be the one it names).
fn open(kek: &KeyEncryptionKey, found: &row::Model) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let tampered = || {
        StoreError::Corrupt(format!(
            "SP key `{}` does not decrypt under key-encryption key {}: the row was altered or copied from another row",
            found.id, found.kek_id
        ))
    };
    let nonce = Nonce::try_assume_unique_for_key(&found.nonce).map_err(|_| tampered())?;
    let mut buffer = Zeroizing::new(found.ciphertext.clone());
    let plain_len = kek
        .aead()?
        .open_in_place(
            nonce,
            Aad::from(aad(&found.id, &found.purpose)),
            &mut buffer,
        )
        .map_err(|_| tampered())?
        .len();
    buffer.truncate(plain_len);
    Ok(buffer)
}

fn wrong_kek(found: &row::Model, keks: &[KeyEncryptionKey]) -> StoreError {
    let known: Vec<&str> = keks.iter().map(KeyEncryptionKey::id).collect();
    StoreError::Unavailable(format!(
        "SP key `{}` is encrypted under key-encryption key {}, which this store was not given (it has {})",
        found.id,
        found.kek_id,
        known.join(", ")
    ))
}

/// Opens `found` with whichever of `keks` sealed it.
fn decrypt_row(
    keks: &[KeyEncryptionKey],
    found: &row::Model,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let kek = keks
        .iter()
        .find(|k| k.id() == found.kek_id)
        .ok_or_else(|| wrong_kek(found, keks))?;
    open(kek, found)
}

fn info(found: &row::Model) -> Result<KeyInfo, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("SP key `{}`: {what}", found.id));
    let certificate = Certificate::from_pem(&found.certificate_pem)
        .ok()
        .and_then(|mut c| (!c.is_empty()).then(|| c.remove(0)))
        .ok_or_else(|| corrupt("the stored certificate does not parse"))?;
    Ok(KeyInfo {
        id: found.id.clone(),
        purpose: stored_purpose(found)?,
        current: found.signing_current.is_some(),
        certificate_sha256: saml_core::crypto::sha256_hex(certificate.der()),
        subject: certificate.subject().to_owned(),
        not_after: DateTime::from_timestamp(certificate.not_after(), 0)
            .ok_or_else(|| corrupt("the certificate's notAfter is out of range"))?,
        certificate_pem: found.certificate_pem.clone(),
        kek_id: found.kek_id.clone(),
        created_at: from_micros(found.created_at)?,
        updated_at: from_micros(found.updated_at)?,
    })
}
