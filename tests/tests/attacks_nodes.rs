//! Replay and cross-node attacks on a cluster: two or three layers (nodes
//! behind a load balancer), each with its **own** `SqlStore` connection
//! pool on the **same** database, on SQLite (one file), PostgreSQL (one
//! schema) and MariaDB (one database).
//!
//! DESIGN.md section 7, invariant 6: "an assertion ID and an AuthnRequest ID
//! are each accepted once, cluster-wide"; invariant 7: "fail closed: any
//! store error denies access". `tests/attacks.rs` plays the same replays on
//! two nodes sharing one in-process `MemoryStore`; here the only thing the
//! nodes share is the database, as in production, so a check that lived in
//! one pool, one process or one node's memory would let the attack through.
//!
//! Every case has a control that only a shared database can pass (a login
//! started on one node is finished on another, a session made on one node
//! is seen on the other), so giving each node its own database makes every
//! case fail rather than pass vacuously.
//!
//! The databases: `SAML_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `SAML_TEST_MYSQL_URL`
//! (default `mysql://root@127.0.0.1:3306/test`); each case makes its own
//! `saml_t_*` schema or database, which `.ci/run` drops later. A server
//! that is down fails these tests: nothing is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../src/attacks/back_channel.rs"]
mod back_channel;
#[allow(dead_code)]
#[path = "../src/attacks/kit.rs"]
mod kit;
#[allow(dead_code)]
#[path = "../src/attacks/layer.rs"]
mod layer;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, ORIGIN};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use saml_core::binding::{SOAP_ACTION, soap_envelope};
use saml_core::crypto::SignatureAlgorithm;
use saml_core::protocol::{LogoutRequest, NameId};
use saml_store_sql::SqlStore;
use saml_store_sql::sea_orm::{ConnectOptions, ConnectionTrait, Database, Statement};

use back_channel::{A, Query, providers, sign_in, slo_url, soap_url};
use kit::{ALICE, Base, SIGNERS, Signer, b64, fresh_id, keys, response_xml, sign};
use layer::{BASE, Browser, IDP_ENTITY, Node, Reply, TestClock, form_body};

const BOB: &str = "bob@example.com";

// ====================================================================
// The cluster
// ====================================================================

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Sqlite,
    Postgres,
    Mysql,
}

/// A schema, database or file name no other case (or run) uses; `.ci/run`
/// drops the `saml_t_*` ones.
fn namespace() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "saml_t_{}_nodes{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn server_url(server: Server) -> String {
    match server {
        Server::Sqlite => unreachable!("SQLite has no server"),
        Server::Postgres => std::env::var("SAML_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
        Server::Mysql => std::env::var("SAML_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned()),
    }
}

/// The URL of a new, empty database on `server`.
async fn fresh_url(server: Server) -> String {
    let name = namespace();
    if server == Server::Sqlite {
        let path = std::env::temp_dir().join(format!("{name}.sqlite"));
        return format!("sqlite://{}?mode=rwc", path.display());
    }
    let url = server_url(server);
    let admin = Database::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{server:?} is not running at {url}: {e}"));
    let create = if server == Server::Postgres {
        format!("CREATE SCHEMA {name}")
    } else {
        format!("CREATE DATABASE {name}")
    };
    admin.execute_unprepared(&create).await.expect(&create);
    admin.close().await.expect("close");
    if server == Server::Postgres {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}options=-c%20search_path%3D{name}")
    } else {
        let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
        format!("{base}/{name}")
    }
}

/// Nodes behind a load balancer: one clock, one database, a pool each.
struct Cluster {
    nodes: Vec<Node>,
    stores: Vec<SqlStore>,
    url: String,
    clock: TestClock,
}

/// A node on `store` trusting the back-channel suite's providers (`idp`,
/// with SLO on every binding, is the one used here).
fn node_on(store: SqlStore, clock: &TestClock, allow_idp_initiated: bool) -> Node {
    Node::with_providers(
        store,
        clock.clone(),
        providers(|_, s| s.allow_idp_initiated = allow_idp_initiated),
        |b| b,
    )
}

async fn cluster(server: Server, nodes: usize, allow_idp_initiated: bool) -> Cluster {
    let url = fresh_url(server).await;
    let clock = TestClock::new();
    let mut cluster = Cluster {
        nodes: Vec::new(),
        stores: Vec::new(),
        url,
        clock,
    };
    for _ in 0..nodes {
        // Its own pool: `connect` opens a new one each time.
        let store = SqlStore::connect(&cluster.url)
            .await
            .expect("a node's pool");
        cluster
            .nodes
            .push(node_on(store.clone(), &cluster.clock, allow_idp_initiated));
        cluster.stores.push(store);
    }
    cluster
}

impl Cluster {
    /// How many sessions the database holds (read through node A's pool).
    async fn sessions(&self) -> i64 {
        let store = &self.stores[0];
        let rows = store
            .connection()
            .query_all_raw(Statement::from_string(
                store.backend(),
                "SELECT COUNT(*) AS n FROM saml_session",
            ))
            .await
            .expect("count sessions");
        rows[0].try_get::<i64>("", "n").expect("a count")
    }

    fn calls(&self) -> usize {
        self.nodes.iter().map(Node::calls).sum()
    }

    /// Both orders of two nodes: (first, second).
    fn pairs(&self) -> [(&Node, &Node); 2] {
        [
            (&self.nodes[0], &self.nodes[1]),
            (&self.nodes[1], &self.nodes[0]),
        ]
    }
}

// ====================================================================
// Messages and judgement
// ====================================================================

/// `POST /saml/acs` of `xml` with `browser`'s cookies, as a request that
/// can be sent from a spawned task.
fn acs_post(browser: &Browser, xml: &str) -> Request<Full<Bytes>> {
    browser
        .request(Method::POST, "/saml/acs")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form_body(&[(
            "SAMLResponse",
            &b64(xml),
        )]))))
        .unwrap()
}

/// A refusal with this status and code that sets no session.
#[track_caller]
fn assert_refused(reply: &Reply, status: StatusCode, code: &str, what: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (status, Some(code)),
        "{what}: {reply:?}"
    );
    assert!(
        !reply.sets_session(),
        "{what}: a session was set: {reply:?}"
    );
}

/// A SOAP fault (HTTP 500, SOAP 1.1 section 6.2) for the client's mistake
/// `code` (the fault string starts with it).
#[track_caller]
fn assert_soap_fault(reply: &Reply, code: &str, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{what}: {reply:?}"
    );
    assert!(
        reply
            .body
            .contains("<faultcode>SOAP-ENV:Client</faultcode>")
            && reply.body.contains(&format!("<faultstring>{code}: ")),
        "{what}: {reply:?}"
    );
}

/// A browser that holds only `session` as its session cookie.
fn holding(session: &str) -> Browser {
    let mut browser = Browser::default();
    browser.set_cookie("saml_session", session, "/");
    browser
}

/// The IdP's LogoutRequest for `who` to `destination`: (ID, XML).
fn logout_request(node: &Node, destination: &str, who: &str) -> (String, String) {
    let name_id = NameId {
        value: who.to_owned(),
        format: None,
        name_qualifier: None,
        sp_name_qualifier: None,
    };
    let request = LogoutRequest::builder(IDP_ENTITY, destination, name_id)
        .build(&node.clock)
        .unwrap();
    (request.id().to_owned(), request.to_xml())
}

/// The HTTP-Redirect URI of `xml`, the query signed by the IdP.
fn redirect_uri(xml: &str) -> String {
    Query::message("SAMLRequest", xml, Some("rs"))
        .signed(Signer::Ours, &keys().idp, SignatureAlgorithm::RsaSha256)
        .uri()
}

/// The HTTP-POST form body of `xml` (ID `id`), signed by the IdP.
fn post_form(xml: &str, id: &str, signer: Signer) -> String {
    form_body(&[
        ("SAMLRequest", &b64(&sign(signer, xml, id, &keys().idp))),
        ("RelayState", "rs"),
    ])
}

async fn soap(node: &Node, envelope: &str) -> Reply {
    node.send(
        Request::post("/saml/slo/soap")
            .header(CONTENT_TYPE, "text/xml; charset=utf-8")
            .header("soapaction", SOAP_ACTION)
            .body(Full::new(Bytes::from(envelope.to_owned())))
            .unwrap(),
    )
    .await
}

// ====================================================================
// The cases
// ====================================================================

/// (a) One signed response, posted to node A and then to node B (and B
/// then A): the second is `replayed`, and no second session exists.
///
/// Sources: DESIGN.md invariant 6; SAML 2.0 Profiles section 4.1.4.5 (the
/// SP must keep each bearer assertion ID until the assertion expires, to
/// use it once); Profiles 4.1.4.3 (IdP-initiated responses are where this
/// check is all that stands); replay of a captured assertion, CWE-294. An
/// unsolicited response is used: a solicited one is stopped earlier by its
/// spent AuthnRequest (case c), which would hide a missing replay check.
async fn a_response_used_on_one_node_is_replayed_on_another(server: Server) {
    let c = cluster(server, 2, true).await;
    for (first, second) in c.pairs() {
        for signer in SIGNERS {
            let base = Base::new(&first.ctx(None), signer);
            let xml = base.assertion_signed();
            let mut alice = Browser::default();
            let reply = alice.post_response(first, &xml, None).await;
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
            assert!(reply.sets_session(), "{reply:?}");
            // Control: the session made on the first node is seen on the
            // second (only a shared database gives that).
            assert_eq!(alice.whoami(second).await.as_deref(), Some(ALICE));
            let sessions = c.sessions().await;
            let calls = c.calls();

            let mut attacker = Browser::default();
            let reply = attacker.post_response(second, &xml, None).await;
            assert_refused(
                &reply,
                StatusCode::BAD_REQUEST,
                "replayed",
                "the same response on the other node",
            );
            // The signed assertion in a fresh Response (new Response ID):
            // the assertion ID is what counts.
            let rewrapped = response_xml(&base.ctx, &fresh_id("r"), &base.signed_assertion);
            let reply = attacker.post_response(second, &rewrapped, None).await;
            assert_refused(
                &reply,
                StatusCode::BAD_REQUEST,
                "replayed",
                "the signed assertion re-wrapped, on the other node",
            );
            // And back on the node that accepted it.
            let reply = attacker.post_response(first, &xml, None).await;
            assert_refused(
                &reply,
                StatusCode::BAD_REQUEST,
                "replayed",
                "the same response on the node that accepted it",
            );
            assert_eq!(c.calls(), calls, "the application was reached");
            assert_eq!(c.sessions().await, sessions, "a second session");
            assert_eq!(attacker.whoami(first).await, None);
            assert_eq!(attacker.whoami(second).await, None);
        }
    }
}

/// (b) One response posted to all nodes at once, 8 concurrent posts over
/// three nodes, 20 rounds (solicited and unsolicited in turn): exactly one
/// post per round signs in, and the database gains exactly one session.
///
/// Sources: DESIGN.md invariant 6 (cluster-wide, so also under a race);
/// SAML 2.0 Profiles 4.1.4.5; the check-then-insert race (CWE-367, TOCTOU)
/// that a replay cache not doing an atomic insert-if-absent in the shared
/// database falls to.
async fn concurrent_posts_on_every_node_sign_in_once(server: Server) {
    const ROUNDS: usize = 20;
    const POSTS: usize = 8;
    let c = cluster(server, 3, true).await;
    for round in 0..ROUNDS {
        let solicited = round % 2 == 0;
        let signer = SIGNERS[(round / 2) % 2];
        let starter = &c.nodes[round % 3];
        let mut browser = Browser::default();
        let request_id = if solicited {
            Some(browser.begin_login(starter, "idp=idp").await)
        } else {
            None
        };
        let xml = Base::new(&starter.ctx(request_id), signer).assertion_signed();
        let sessions = c.sessions().await;
        let calls = c.calls();
        let tasks: Vec<_> = (0..POSTS)
            .map(|i| tokio::spawn(c.nodes[(round + i) % 3].send(acs_post(&browser, &xml))))
            .collect();
        let mut winners = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            let reply = task.await.expect("task");
            if reply.sets_session() {
                assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
                winners.push(i);
                continue;
            }
            // The losers: the AuthnRequest is spent (solicited), or the
            // assertion ID is taken (unsolicited). Never a 5xx.
            let code = if solicited {
                "in_response_to_mismatch"
            } else {
                "replayed"
            };
            assert_refused(
                &reply,
                StatusCode::BAD_REQUEST,
                code,
                &format!("round {round}, post {i}"),
            );
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round} (solicited: {solicited}): posts {winners:?} signed in"
        );
        assert_eq!(c.sessions().await, sessions + 1, "round {round}");
        assert_eq!(c.calls(), calls, "the application was reached");
    }
}

/// (c) An AuthnRequest issued on node A is answered on node B; a second
/// genuine response to the same request (another assertion, so the replay
/// cache does not know it) is then refused on either node, even from the
/// browser that holds the login's binding cookie.
///
/// Sources: DESIGN.md invariant 6 (an AuthnRequest ID is accepted once,
/// cluster-wide); SAML 2.0 Profiles 4.1.4.3 and 4.1.4.5; response swapping
/// within one login (a second, differently-signed-in response for the same
/// request, e.g. an IdP session of another user).
async fn a_pending_login_is_completed_once_across_nodes(server: Server) {
    let c = cluster(server, 2, false).await;
    for (first, second) in c.pairs() {
        let mut alice = Browser::default();
        let request_id = alice.begin_login(first, "idp=idp").await;
        // The browser as it was with the login in progress (binding cookie).
        let holder = alice.clone();
        let ctx = second.ctx(Some(request_id));
        let genuine = Base::new(&ctx, Signer::Ours).assertion_signed();
        let another = Base::with_subject(&ctx, Signer::Xmlsec, BOB).assertion_signed();

        // Control: the login started on the first node finishes on the second.
        let reply = alice.post_response(second, &genuine, None).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
        assert!(reply.sets_session(), "{reply:?}");
        assert_eq!(alice.whoami(first).await.as_deref(), Some(ALICE));
        let sessions = c.sessions().await;
        let calls = c.calls();

        for node in [first, second] {
            for (what, xml) in [
                ("another response to the spent request", &another),
                ("the same response again", &genuine),
            ] {
                let reply = holder.clone().post_response(node, xml, None).await;
                assert_refused(
                    &reply,
                    StatusCode::BAD_REQUEST,
                    "in_response_to_mismatch",
                    what,
                );
            }
        }
        assert_eq!(c.calls(), calls, "the application was reached");
        assert_eq!(c.sessions().await, sessions, "a second session");
        // Alice is still Alice on both nodes (not Bob).
        assert_eq!(alice.whoami(first).await.as_deref(), Some(ALICE));
        assert_eq!(alice.whoami(second).await.as_deref(), Some(ALICE));
    }
}

/// (d) Logging out on node B ends the session on node A: the old session
/// cookie, replayed on A (or on B), is anonymous. Both ways of logging out:
/// the user's `POST /saml/logout` and the IdP's LogoutRequest.
///
/// Sources: SAML 2.0 Profiles 4.4 (Single Logout: the session ends at the
/// SP, not at one of its nodes); OWASP Session Management Cheat Sheet
/// ("Session Expiration": the session must be invalidated on the server,
/// not only the cookie cleared); CWE-613 (insufficient session expiration).
async fn logout_on_one_node_ends_the_session_on_the_others(server: Server) {
    let c = cluster(server, 2, false).await;
    for (first, second) in c.pairs() {
        let mut bob = sign_in(first, A, BOB).await;

        // The user logs out on the second node.
        let mut alice = sign_in(first, A, ALICE).await;
        assert_eq!(alice.whoami(second).await.as_deref(), Some(ALICE));
        let stolen = alice.cookie("saml_session").unwrap().to_owned();
        let req = alice
            .request(Method::POST, "/saml/logout")
            .header(ORIGIN, BASE)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form_body(&[("return_to", "/")]))))
            .unwrap();
        let reply = alice.send(second, req).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
        for node in [first, second] {
            assert_eq!(holding(&stolen).whoami(node).await, None, "after logout");
        }

        // The IdP's LogoutRequest arrives on the second node.
        let mut alice = sign_in(first, A, ALICE).await;
        let stolen = alice.cookie("saml_session").unwrap().to_owned();
        let (_, xml) = logout_request(second, &slo_url(), ALICE);
        let reply = Browser::default().get(second, &redirect_uri(&xml)).await;
        assert!(reply.status.is_redirection(), "{reply:?}");
        for node in [first, second] {
            assert_eq!(holding(&stolen).whoami(node).await, None, "after SLO");
        }
        assert_eq!(alice.whoami(first).await, None);

        // Control: only Alice's sessions ended.
        assert_eq!(bob.whoami(first).await.as_deref(), Some(BOB));
        assert_eq!(bob.whoami(second).await.as_deref(), Some(BOB));
    }
}

/// (e) The IdP's LogoutRequest, acted on by node A, is captured and
/// replayed on node B (on every binding) after the user signed in again:
/// `replayed`, and the new session lives.
///
/// Sources: SAML 2.0 Core 3.7.3.1 and Profiles 4.4.3.3 (a LogoutRequest is
/// processed once); DESIGN.md invariant 6 applied to logout (the LogoutRequest ID is
/// recorded cluster-wide like an assertion ID); replay (CWE-294) used as a
/// denial of service: a captured logout that could be replayed would end
/// every later session of the user.
async fn a_logout_request_is_acted_on_once_across_nodes(server: Server) {
    let c = cluster(server, 2, false).await;
    for (first, second) in c.pairs() {
        // Front channel: the Redirect binding, replayed on Redirect and POST.
        let mut alice = sign_in(first, A, ALICE).await;
        let (id, xml) = logout_request(first, &slo_url(), ALICE);
        let uri = redirect_uri(&xml);
        let form = post_form(&xml, &id, Signer::Xmlsec);
        let reply = Browser::default().get(first, &uri).await;
        assert!(reply.status.is_redirection(), "{reply:?}");
        assert_eq!(alice.whoami(first).await, None);

        let mut alice = sign_in(second, A, ALICE).await;
        let calls = c.calls();
        for node in [second, first] {
            let reply = Browser::default().get(node, &uri).await;
            assert_refused(&reply, StatusCode::BAD_REQUEST, "replayed", "Redirect");
            let reply = Browser::default()
                .post_form(node, "/saml/slo", form.clone())
                .await;
            assert_refused(&reply, StatusCode::BAD_REQUEST, "replayed", "POST");
        }
        assert_eq!(c.calls(), calls, "the application was reached");
        assert_eq!(alice.whoami(first).await.as_deref(), Some(ALICE));
        assert_eq!(alice.whoami(second).await.as_deref(), Some(ALICE));

        // Back channel: SOAP, replayed on the other node.
        let (id, xml) = logout_request(first, &soap_url(), ALICE);
        let envelope = soap_envelope(&sign(Signer::Ours, &xml, &id, &keys().idp));
        let reply = soap(first, &envelope).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(alice.whoami(second).await, None);
        let mut alice = sign_in(first, A, ALICE).await;
        for node in [second, first] {
            assert_soap_fault(&soap(node, &envelope).await, "replayed", "SOAP");
        }
        assert_eq!(alice.whoami(second).await.as_deref(), Some(ALICE));
    }
}

/// How a node loses its database.
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// Its pool was closed (the database went away under it).
    ClosedPool,
    /// It points at a port where nothing listens, the pool opened lazily
    /// (PostgreSQL and MariaDB).
    Unreachable,
}

/// A store for a node that cannot reach its database.
async fn broken_store(c: &Cluster, server: Server, outage: Outage) -> SqlStore {
    match outage {
        Outage::ClosedPool => {
            let store = SqlStore::connect(&c.url).await.expect("pool");
            store.connection().clone().close().await.expect("close");
            store
        }
        Outage::Unreachable => {
            let url = match server {
                // sea-orm opens a SQLite pool eagerly, whatever `connect_lazy`
                // says: there is no lazily unreachable SQLite file.
                Server::Sqlite => unreachable!("SQLite has no port"),
                Server::Postgres | Server::Mysql => {
                    let url = server_url(server);
                    let (scheme, rest) = url.split_once("://").unwrap();
                    let (auth, _) = rest.split_once('@').unwrap();
                    format!("{scheme}://{auth}@127.0.0.1:1/test")
                }
            };
            let mut options = ConnectOptions::new(url);
            options
                .connect_lazy(true)
                .sqlx_logging(false)
                .connect_timeout(StdDuration::from_secs(2))
                .acquire_timeout(StdDuration::from_secs(2));
            SqlStore::from_connection(Database::connect(options).await.expect("lazy pool"))
        }
    }
}

/// (f) One node's database is unreachable: that node answers 503
/// (`store_unavailable`) to everything that needs the store and lets
/// nobody in; the other nodes keep working, and a response the broken node
/// refused is still good on them (the broken node spent nothing).
///
/// Sources: DESIGN.md invariant 7 (fail closed: any store error denies
/// access); OWASP "Fail securely" (Secure by Design principles), CWE-636
/// (not failing securely); SAML 2.0 Core 3.7.3.2 (a LogoutRequest that
/// could not be acted on must not be answered as done).
async fn a_node_without_its_database_fails_closed(server: Server, outage: Outage) {
    let c = cluster(server, 2, true).await;
    let broken = node_on(broken_store(&c, server, outage).await, &c.clock, true);
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let mut alice = sign_in(a, A, ALICE).await;
    let sessions = c.sessions().await;
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;

    // Alice's session cookie: the session cannot be looked up.
    let reply = alice.clone().get(&broken, "/whoami").await;
    assert_refused(
        &reply,
        unavailable,
        "store_unavailable",
        "a signed-in request",
    );
    // A new login cannot be started (the pending login cannot be saved).
    let reply = Browser::default().get(&broken, "/saml/login?idp=idp").await;
    assert_refused(&reply, unavailable, "store_unavailable", "/saml/login");
    // A genuine response to a login started on A.
    let mut carol = Browser::default();
    let request_id = carol.begin_login(a, "idp=idp").await;
    let solicited = Base::with_subject(&a.ctx(Some(request_id)), Signer::Ours, BOB);
    let solicited = solicited.assertion_signed();
    let reply = carol.clone().post_response(&broken, &solicited, None).await;
    assert_refused(
        &reply,
        unavailable,
        "store_unavailable",
        "a solicited response",
    );
    // A genuine unsolicited response.
    let unsolicited = Base::new(&a.ctx(None), Signer::Xmlsec).assertion_signed();
    let reply = Browser::default()
        .post_response(&broken, &unsolicited, None)
        .await;
    assert_refused(
        &reply,
        unavailable,
        "store_unavailable",
        "an unsolicited response",
    );
    // The IdP's LogoutRequest for Alice: not answered as done.
    let (_, xml) = logout_request(&broken, &slo_url(), ALICE);
    let reply = Browser::default().get(&broken, &redirect_uri(&xml)).await;
    assert_refused(&reply, unavailable, "store_unavailable", "a LogoutRequest");
    assert_eq!(broken.calls(), 0, "the application was reached");
    assert_eq!(c.sessions().await, sessions, "a session was made");

    // The other nodes keep working: Alice's session, and both responses the
    // broken node refused.
    assert_eq!(alice.whoami(b).await.as_deref(), Some(ALICE));
    let reply = carol.post_response(b, &solicited, None).await;
    assert!(reply.sets_session(), "{reply:?}");
    assert_eq!(carol.whoami(a).await.as_deref(), Some(BOB));
    let mut dave = Browser::default();
    let reply = dave.post_response(a, &unsolicited, None).await;
    assert!(reply.sets_session(), "{reply:?}");
    assert_eq!(dave.whoami(b).await.as_deref(), Some(ALICE));
    assert_eq!(c.sessions().await, sessions + 2);
}

macro_rules! on_every_database {
    ($($server:ident),*) => {$(
        #[allow(non_snake_case)]
        mod $server {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_replayed_response_is_refused_on_the_other_node() {
                a_response_used_on_one_node_is_replayed_on_another(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_posts_across_nodes_sign_in_once() {
                concurrent_posts_on_every_node_sign_in_once(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_login_started_on_one_node_is_completed_once() {
                a_pending_login_is_completed_once_across_nodes(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn logout_on_one_node_ends_the_session_everywhere() {
                logout_on_one_node_ends_the_session_on_the_others(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_replayed_logout_request_is_refused_on_the_other_node() {
                a_logout_request_is_acted_on_once_across_nodes(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_node_whose_pool_is_closed_fails_closed() {
                a_node_without_its_database_fails_closed(Server::$server, Outage::ClosedPool)
                    .await;
            }
        }
    )*};
}

on_every_database!(Sqlite, Postgres, Mysql);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_postgres_port_is_wrong_fails_closed() {
    a_node_without_its_database_fails_closed(Server::Postgres, Outage::Unreachable).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_mariadb_port_is_wrong_fails_closed() {
    a_node_without_its_database_fails_closed(Server::Mysql, Outage::Unreachable).await;
}
