//! The admin pages end to end in headless Chromium (issue 11): starts the
//! example on a free loopback port with a fresh SQLite file, a known
//! break-glass password and `--no-dev-provider`, then runs
//! `e2e/admin.e2e.mjs` with node and playwright-core against it (the
//! scenario is described at the top of that script). Screenshots of every
//! step land in `target/e2e/admin/` (CI keeps them as artifacts).
//!
//! Needs `node` (18 or later), the npm packages (`npm ci` in
//! `examples/axum/e2e`) and Chromium (Debian's `chromium`; another binary
//! with `SAML_E2E_CHROMIUM`). A missing one fails the test with what to
//! install: CI installs them (`.ci/run`), so nothing is skipped silently.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The break-glass password the test gives the example.
const PASSWORD: &str = "e2e break-glass password";
/// How long the browser scenario may take.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(240);

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e")
}

/// The workspace's target directory (the example binary is in `debug/`).
fn target_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_saml-example-axum"));
    binary
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// Checks node, the npm packages and Chromium; panics with what to install.
fn prerequisites() -> (String, PathBuf) {
    let node = std::env::var("SAML_E2E_NODE").unwrap_or_else(|_| "node".to_owned());
    let version = Command::new(&node).arg("--version").output();
    let version = match version {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => panic!(
            "admin e2e: `{node}` does not run. Install Node.js 18 or later \
             (Debian: apt-get install nodejs npm), or point SAML_E2E_NODE at it."
        ),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 18,
        "admin e2e: node {version} is too old; playwright-core needs 18 or later"
    );
    let package = e2e_dir().join("node_modules/playwright-core/package.json");
    assert!(
        package.is_file(),
        "admin e2e: playwright-core is not installed; run `npm ci` in {}",
        e2e_dir().display()
    );
    let chromium = std::env::var_os("SAML_E2E_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        chromium.is_file(),
        "admin e2e: no Chromium at {}; install Debian's `chromium` (apt-get install chromium) \
         or point SAML_E2E_CHROMIUM at a Chromium binary",
        chromium.display()
    );
    (node, chromium)
}

/// The example process, killed (and its database removed) when dropped.
struct Example {
    child: Child,
    database: PathBuf,
    stderr_log: PathBuf,
}

impl Example {
    fn start(dir: &Path) -> (Self, String) {
        let database = dir.join("admin-e2e.sqlite");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", database.display()));
        }
        let stderr_log = dir.join("server.log");
        let stderr = std::fs::File::create(&stderr_log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_saml-example-axum"));
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("SAML_") {
                command.env_remove(var);
            }
        }
        let mut child = command
            .args(["--listen", "127.0.0.1:0", "--no-dev-provider"])
            .arg("--database-url")
            .arg(format!("sqlite://{}?mode=rwc", database.display()))
            .env("SAML_ADMIN_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let example = Self {
            child,
            database,
            stderr_log,
        };
        let addr = first
            .split_whitespace()
            .find(|w| w.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| {
                panic!(
                    "the example did not start: {first:?}\n{}",
                    example.server_log()
                )
            })
            .trim_end_matches(';')
            .to_owned();
        (example, format!("http://{addr}"))
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.database.display()));
        }
    }
}

/// Runs `command` to the end or until `timeout`; returns (success, output).
fn run_with_timeout(mut command: Command, timeout: Duration) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = format!(
        "{}{}",
        out_reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default()
    );
    match status {
        Some(status) => (status.success(), output),
        None => (
            false,
            format!("{output}\n(killed after {} s)", timeout.as_secs()),
        ),
    }
}

#[test]
fn admin_registers_the_dev_idp_users_sign_in_then_it_is_disabled() {
    let (node, chromium) = prerequisites();
    let shots = target_dir().join("e2e/admin");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let scratch = std::env::temp_dir().join(format!("saml_t_admin_e2e_{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();

    let (example, base) = Example::start(&scratch);
    let started = Instant::now();
    let mut command = Command::new(&node);
    command
        .arg(e2e_dir().join("admin.e2e.mjs"))
        .current_dir(e2e_dir())
        .env("E2E_BASE_URL", &base)
        .env("E2E_ADMIN_PASSWORD", PASSWORD)
        .env("E2E_SCREENSHOTS", &shots)
        .env("E2E_CHROMIUM", &chromium);
    let (ok, output) = run_with_timeout(command, SCENARIO_TIMEOUT);
    let log = example.server_log();
    drop(example);
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        ok,
        "admin e2e failed (screenshots in {}):\n{output}\n--- server stderr ---\n{log}",
        shots.display()
    );
    println!(
        "{output}admin e2e passed in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
}
