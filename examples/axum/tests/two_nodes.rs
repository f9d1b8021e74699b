//! Two nodes of the example sharing one PostgreSQL database (issue 8): one
//! pysaml2 IdP (`tests/oracles/pysaml2_idp_server.py`), two example
//! processes on their own ports, both with `--base-url` of node A (node A's
//! address stands for a load balancer's public URL: entity ID, ACS, SLO and
//! every Destination name it, so either node accepts what the IdP sends),
//! and `tests/oracles/two_nodes_flow.py` walking through the phases.
//!
//! Node A reads the IdP's metadata from a file, node B from the IdP's
//! metadata URL (`--idp py=http://127.0.0.1:PORT/metadata`, saml-remote).
//! Both allow IdP-initiated sign-in, so an unsolicited response (no pending
//! login to consume) shows that the replay cache itself is shared.
//!
//! 1. `shared`: login on A, the session works on B; the same SAMLResponse
//!    replayed to B is refused; an unsolicited response accepted on A is
//!    refused on B as `replayed`; logout on B ends the session on A.
//! 2. A database outage. The nodes' connections carry
//!    `application_name=<schema>`; the outage renames the run's schema
//!    (`ALTER SCHEMA s RENAME TO s_away`) and ends the nodes' connections
//!    (`pg_terminate_backend` on that application name), so every new
//!    connection finds no tables and every query fails, while the server
//!    itself stays up and other tests' schemas are untouched. Restoring
//!    renames it back. Before: a session and a login held at the IdP's
//!    form; during: 503 everywhere and nobody let in; after: recovery, and
//!    the held login completes exactly once.
//!
//! The database is `SAML_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); each run makes a schema
//! named `saml_t_*` (dropped at the end; `.ci/run` drops leftovers).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use saml_store_sql::sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// The run's PostgreSQL schema, dropped (with its outage name) at the end.
struct Schema {
    runtime: tokio::runtime::Runtime,
    admin: DatabaseConnection,
    name: String,
    server_url: String,
}

impl Schema {
    fn create(name: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server_url = std::env::var("SAML_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let admin = runtime
            .block_on(Database::connect(&server_url))
            .expect("PostgreSQL is running (SAML_TEST_POSTGRES_URL)");
        let schema = Self {
            runtime,
            admin,
            name: name.to_owned(),
            server_url,
        };
        let _ = schema.execute(&format!("CREATE SCHEMA {name}"));
        schema
    }

    /// Runs `sql`; returns the rows it touched (or returned).
    fn execute(&self, sql: &str) -> u64 {
        self.runtime
            .block_on(self.admin.execute_unprepared(sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows_affected()
    }

    /// The URL the nodes use: this schema, and its name as application name.
    fn node_url(&self) -> String {
        let separator = if self.server_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options=-c%20search_path%3D{name}&application_name={name}",
            self.server_url,
            name = self.name
        )
    }

    fn away(&self) -> String {
        format!("{}_away", self.name)
    }

    /// The database goes away for the nodes.
    fn break_down(&self) {
        self.execute(&format!(
            "ALTER SCHEMA {} RENAME TO {}",
            self.name,
            self.away()
        ));
        let ended = self.execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = '{}' AND pid <> pg_backend_pid()",
            self.name
        ));
        // Both nodes had connections open (they served the earlier phases).
        assert!(ended >= 2, "{ended} connections of the nodes ended");
    }

    /// The database is back.
    fn restore(&self) {
        self.execute(&format!(
            "ALTER SCHEMA {} RENAME TO {}",
            self.away(),
            self.name
        ));
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        for name in [self.name.clone(), self.away()] {
            let sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
            let _ = self.runtime.block_on(self.admin.execute_unprepared(&sql));
        }
    }
}

/// The processes of the run and their scratch directory: killed and
/// removed when dropped, so a failing assertion leaves nothing running.
struct Processes {
    dir: PathBuf,
    children: Vec<Child>,
}

impl Processes {
    fn new(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            children: Vec::new(),
        }
    }

    /// Starts `command`, its stderr in `<dir>/<name>.log`; returns the
    /// `127.0.0.1:PORT` its first stdout line names.
    fn start(&mut self, name: &str, mut command: Command) -> String {
        let log = File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start {command:?}: {e}"));
        let stdout = child.stdout.take().unwrap();
        self.children.push(child);
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        match first
            .split_whitespace()
            .find(|w| w.starts_with("127.0.0.1:"))
        {
            Some(addr) => addr.trim_end_matches(';').to_owned(),
            None => panic!("{name} did not start ({first:?}):\n{}", self.logs()),
        }
    }

    fn logs(&self) -> String {
        let mut logs = String::new();
        for entry in std::fs::read_dir(&self.dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                logs.push_str(&format!("--- {}\n{text}\n", path.display()));
            }
        }
        logs
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn python() -> OsString {
    std::env::var_os("SAML_PYTHON").unwrap_or_else(|| "/usr/bin/python3".into())
}

fn oracle(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/oracles")
        .join(script)
}

/// A node: its flags only (no `SAML_*` variables from the environment).
fn node(listen: &str, base_url: Option<&str>, idp: &str, database: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_saml-example-axum"));
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("SAML_") {
            command.env_remove(var);
        }
    }
    command
        .args(["--listen", listen, "--database-url", database])
        .args(["--idp", &format!("py={idp}"), "--allow-idp-initiated"]);
    if let Some(base) = base_url {
        command.args(["--base-url", base]);
    }
    command
}

#[test]
fn two_nodes_share_sessions_replay_state_and_logout_and_survive_an_outage() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("saml_t_{}_two_nodes_{nanos}", std::process::id());
    let schema = Schema::create(&name);
    let mut processes = Processes::new(std::env::temp_dir().join(&name));
    let idp_metadata = processes.dir.join("idp-metadata.xml");
    let state = processes.dir.join("state.json");

    let mut idp = Command::new(python());
    idp.arg(oracle("pysaml2_idp_server.py"))
        .args(["--port", "0", "--metadata-out"])
        .arg(&idp_metadata);
    let idp = format!("http://{}", processes.start("pysaml2-idp", idp));
    let database = schema.node_url();
    // Node A first: its address becomes the shared base URL. A reads the
    // IdP's metadata from the file, B from its URL (saml-remote).
    let a = format!(
        "http://{}",
        processes.start(
            "node-a",
            node(
                "127.0.0.1:0",
                None,
                &idp_metadata.display().to_string(),
                &database
            )
        )
    );
    let b = format!(
        "http://{}",
        processes.start(
            "node-b",
            node(
                "127.0.0.1:0",
                Some(&a),
                &format!("{idp}/metadata"),
                &database
            )
        )
    );

    let flow = |phase: &str, processes: &Processes| {
        let out = Command::new(python())
            .arg(oracle("two_nodes_flow.py"))
            .arg(phase)
            .arg(&state)
            .args([&a, &b, &idp])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("two nodes {phase} ok")),
            "two nodes {phase} failed:\n{stdout}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            processes.logs()
        );
    };

    flow("shared", &processes);
    flow("outage-prepare", &processes);
    schema.break_down();
    flow("outage-during", &processes);
    schema.restore();
    flow("outage-after", &processes);
    drop(processes);
    drop(schema);
}
