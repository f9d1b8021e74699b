//! The example's provider flags: bad values are usage errors (exit 2, a
//! message naming the flag) before anything is served, and good ones start
//! the server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The example with `args`, a memory store and no `SAML_*` variables.
fn example(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saml-example-axum"));
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("SAML_") {
            command.env_remove(var);
        }
    }
    command
        .args(["--listen", "127.0.0.1:0", "--database-url", "memory"])
        .args(args)
        .stdin(Stdio::null());
    command
}

/// Runs the example, expecting a usage error whose message contains `message`.
fn refused(args: &[&str], message: &str) {
    let out = example(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(message), "{args:?}: {stderr}");
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("saml-example-flags-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bad_provider_flags_are_usage_errors() {
    refused(&["--idp", "nameonly"], "expected NAME=METADATA_URL_OR_FILE");
    refused(
        &["--idp", "x=/nonexistent/metadata.xml"],
        "--idp x: /nonexistent",
    );
    // Plain HTTP only to loopback hosts; other schemes never.
    refused(
        &["--idp", "x=http://idp.example.org/metadata"],
        "plain HTTP",
    );
    refused(&["--idp", "x=ftp://idp.example.org/metadata"], "ftp");
    refused(&["--idp", "dev=/tmp/x.xml"], "the name `dev` is taken");
    refused(
        &["--idp-preset", "dev=nonsense"],
        "unknown preset `nonsense`",
    );
    refused(
        &["--idp-preset", "nobody=okta"],
        "no provider is named `nobody`",
    );
    let unknown_key = scratch("unknown-key.json", r#"{"presett": "okta"}"#);
    refused(
        &["--idp-settings", &format!("dev={}", unknown_key.display())],
        "unknown field `presett`",
    );
    let _ = std::fs::remove_file(unknown_key);
}

#[test]
fn presets_and_settings_files_start_the_server() {
    let settings = scratch(
        "settings.json",
        r#"{"display_name": "Dev (settings file)", "clock_skew_seconds": 30, "preset": "shibboleth"}"#,
    );
    let mut server = example(&[
        "--idp-settings",
        &format!("dev={}", settings.display()),
        "--idp-preset",
        "dev=entra_id",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_file(settings);
    assert!(first.contains("listening on 127.0.0.1:"), "{first:?}");
}
