//! `saml_key`: the SP's keys, one row per key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_key")]
pub struct Model {
    /// The caller's key id (`[A-Za-z0-9._-]`, compared exactly).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `signing`, `decryption` or `both` (bound into the AEAD's AAD).
    pub purpose: String,
    /// 1 on the current signing key, NULL elsewhere (unique).
    pub signing_current: Option<i32>,
    #[sea_orm(column_type = "Text")]
    pub certificate_pem: String,
    /// Which key-encryption key sealed `ciphertext`.
    pub kek_id: String,
    /// The AES-GCM nonce (12 bytes, random per write).
    #[sea_orm(column_type = "Blob")]
    pub nonce: Vec<u8>,
    /// AES-256-GCM of the PKCS#8 DER, tag appended.
    #[sea_orm(column_type = "Blob")]
    pub ciphertext: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
