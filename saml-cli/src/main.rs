//! The `saml` command-line tool: verify a SAML response the way the library
//! would (`verify-response`, the contract of DESIGN.md section 6), decode
//! messages, generate SP metadata and keys, and inspect or lint IdP metadata.
//!
//! Exit codes: 0 success, 1 the input was rejected (with the stable error code),
//! 2 usage error (bad flags, unreadable files).

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod pretty;

/// Command-line tool for SAML 2.0 service providers.
#[derive(Debug, Parser)]
#[command(name = "saml", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a SAML Response (base64 as POSTed, or XML) against IdP metadata.
    ///
    /// Prints JSON: `{"ok":true,"issuer":..,"name_id":..,"name_id_format":..,
    /// "session_index":..,"attributes":{name:[values]},"not_on_or_after":..}`
    /// and exits 0, or `{"ok":false,"error":"<code>","message":".."}` and exits 1.
    VerifyResponse(commands::VerifyArgs),
    /// Decode a SAML message (Redirect query or URL, POST base64, or XML) to indented XML.
    Decode(commands::DecodeArgs),
    /// Print this SP's metadata (optionally signed).
    SpMetadata(commands::SpMetadataArgs),
    /// Generate a self-signed SP certificate and private key.
    Keygen(commands::KeygenArgs),
    /// Summarize IdP metadata as JSON (entity, endpoints, certificates).
    InspectMetadata(commands::MetadataArgs),
    /// Report what is missing or risky in IdP metadata; exits 1 on errors.
    LintMetadata(commands::MetadataArgs),
}

/// Reads a file, or standard input for `-`.
fn read_input(path: &str) -> Result<String, String> {
    if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::VerifyResponse(args) => commands::verify_response(&args),
        Command::Decode(args) => commands::decode(&args),
        Command::SpMetadata(args) => commands::sp_metadata(&args),
        Command::Keygen(args) => commands::keygen(&args),
        Command::InspectMetadata(args) => commands::inspect_metadata(&args),
        Command::LintMetadata(args) => commands::lint_metadata(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("saml: {message}");
            ExitCode::from(2)
        }
    }
}
