//! The `saml` command-line tool.
//!
//! **Status: not implemented yet.** The subcommands of DESIGN.md section 6
//! (`verify-response`, `decode`, `sp-metadata`, `keygen`, `inspect-metadata`)
//! arrive with the protocol issue. Until then every invocation is a usage error.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("saml: no subcommands are implemented yet (see README status table)");
    ExitCode::from(2)
}
