//! The user directory on every database: CRUD, exact keys, paging, the CSV
//! import and its edge cases, and two nodes importing at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fmt::Write as _;

use saml_store_sql::{DirectoryError, ImportError, NewUser, RowProblem, SqlStore, UserDirectory};
use saml_testkit::conformance::at;
use serde_json::{Map, Value};

use common::{Server, fresh, two_nodes};

fn lines(rows: &[saml_store_sql::ImportedRow]) -> Vec<u64> {
    rows.iter().map(|r| r.line).collect()
}

async fn crud(server: Server) {
    let users = fresh(server).await.users();
    let mut profile = Map::new();
    profile.insert("department".to_owned(), Value::from("Research"));
    let added = users
        .add(
            NewUser::new("okta", "alice")
                .email("alice@example.com")
                .display_name("Alice Liddell")
                .profile(profile.clone()),
            at(0),
        )
        .await
        .expect("add");
    assert!(added.enabled);
    let got = users
        .get("okta", "alice")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got, added);
    assert_eq!(got.email.as_deref(), Some("alice@example.com"));
    assert_eq!(got.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(got.profile, profile);
    assert_eq!((got.created_at, got.updated_at), (at(0), at(0)));

    // The same user again is a conflict, and leaves the first one alone.
    let again = users
        .add(NewUser::new("okta", "alice").email("x@example.com"), at(5))
        .await;
    assert!(
        matches!(again, Err(DirectoryError::AlreadyExists { .. })),
        "{again:?}"
    );
    assert_eq!(users.get("okta", "alice").await.unwrap().unwrap(), added);

    // Disable, enable; an unknown user is reported, not created.
    assert!(
        users
            .set_enabled("okta", "alice", false, at(10))
            .await
            .unwrap()
    );
    let disabled = users.get("okta", "alice").await.unwrap().unwrap();
    assert!(!disabled.enabled);
    assert_eq!((disabled.created_at, disabled.updated_at), (at(0), at(10)));
    assert!(
        users
            .set_enabled("okta", "alice", true, at(11))
            .await
            .unwrap()
    );
    assert!(users.get("okta", "alice").await.unwrap().unwrap().enabled);
    assert!(
        !users
            .set_enabled("okta", "nobody", true, at(12))
            .await
            .unwrap()
    );
    assert!(users.get("okta", "nobody").await.unwrap().is_none());

    // A disabled user can be added as such.
    let bob = users
        .add(NewUser::new("okta", "bob").enabled(false), at(20))
        .await
        .unwrap();
    assert!(!bob.enabled);

    // get_or_add: the existing user, or a new one.
    let (existing, created) = users
        .get_or_add(NewUser::new("okta", "bob"), at(30))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(existing, bob);
    let (carol, created) = users
        .get_or_add(NewUser::new("okta", "carol"), at(30))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(carol.created_at, at(30));

    // Remove one; removing again says it was not there.
    assert!(users.remove("okta", "alice").await.unwrap());
    assert!(!users.remove("okta", "alice").await.unwrap());
    assert!(users.get("okta", "alice").await.unwrap().is_none());
    assert_eq!(users.count("okta").await.unwrap(), 2);
}

async fn invalid_input(server: Server) {
    let users = fresh(server).await.users();
    let long = "x".repeat(saml_store_sql::MAX_EXTERNAL_ID_LEN + 1);
    for (user, field) in [
        (NewUser::new("okta", ""), "external_id"),
        (NewUser::new("okta", "   "), "external_id"),
        (NewUser::new("okta", long.as_str()), "external_id"),
        (NewUser::new("okta", "a\u{0}b"), "external_id"),
        (NewUser::new("", "alice"), "provider"),
        (NewUser::new("okta", "alice").email("not an email"), "email"),
        (NewUser::new("okta", "alice").email("@example.com"), "email"),
        (NewUser::new("okta", "alice").email("a@b@c"), "email"),
        (
            NewUser::new("okta", "alice").display_name("line\nbreak"),
            "display_name",
        ),
    ] {
        match users.add(user.clone(), at(0)).await {
            Err(DirectoryError::Invalid { field: f, .. }) => assert_eq!(f, field, "{user:?}"),
            other => panic!("{user:?}: {other:?}"),
        }
    }
    let mut big = Map::new();
    big.insert(
        "blob".to_owned(),
        Value::from("y".repeat(saml_store_sql::MAX_PROFILE_BYTES)),
    );
    let err = users
        .add(NewUser::new("okta", "alice").profile(big), at(0))
        .await;
    assert!(
        matches!(
            err,
            Err(DirectoryError::Invalid {
                field: "profile",
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        users.count("okta").await.unwrap(),
        0,
        "nothing half-written"
    );
}

/// Case, trailing spaces and provider names all count (MySQL's default
/// collations would merge them).
async fn keys_compare_exactly(server: Server) {
    let users = fresh(server).await.users();
    for (provider, id) in [
        ("okta", "alice"),
        ("okta", "Alice"),
        ("okta", "alice "),
        ("Okta", "alice"),
        ("okta ", "alice"),
    ] {
        users
            .add(NewUser::new(provider, id), at(0))
            .await
            .expect(id);
    }
    assert_eq!(users.count("okta").await.unwrap(), 3);
    assert_eq!(users.count("Okta").await.unwrap(), 1);
    assert_eq!(users.list("okta", 0, 100).await.unwrap().len(), 3);
    users
        .set_enabled("okta", "Alice", false, at(1))
        .await
        .unwrap();
    assert!(users.get("okta", "alice").await.unwrap().unwrap().enabled);
    assert_eq!(users.remove_all_for_provider("Okta").await.unwrap(), 1);
    assert_eq!(users.count("okta").await.unwrap(), 3);
    assert!(users.get("okta ", "alice").await.unwrap().is_some());
}

async fn paging_and_removal_per_provider(server: Server) {
    let users = fresh(server).await.users();
    for i in 0..25 {
        users
            .add(NewUser::new("okta", format!("user-{i:02}")), at(0))
            .await
            .unwrap();
    }
    for i in 0..3 {
        users
            .add(NewUser::new("entra", format!("user-{i:02}")), at(0))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = users.list("okta", offset, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        assert!(page.iter().all(|u| u.provider == "okta"));
        offset += page.len() as u64;
        seen.extend(page.into_iter().map(|u| u.external_id));
    }
    let expected: Vec<String> = (0..25).map(|i| format!("user-{i:02}")).collect();
    assert_eq!(seen, expected, "every user once, in order");
    assert_eq!(users.count("okta").await.unwrap(), 25);
    assert_eq!(users.remove_all_for_provider("okta").await.unwrap(), 25);
    assert_eq!(users.count("okta").await.unwrap(), 0);
    assert_eq!(
        users.count("entra").await.unwrap(),
        3,
        "other providers untouched"
    );
    assert_eq!(users.remove_all_for_provider("okta").await.unwrap(), 0);
}

async fn csv_whole_file_refusals(server: Server) {
    let store = fresh(server).await;
    let users = store.users();
    let refused = |input: &'static [u8]| {
        let users = users.clone();
        async move {
            users
                .import_csv("okta", input, at(0))
                .await
                .expect_err("refused")
        }
    };
    assert_eq!(refused(b"").await, ImportError::Empty);
    assert_eq!(refused(b" \n\r\n\t").await, ImportError::Empty);
    assert_eq!(refused(b"\xef\xbb\xbf").await, ImportError::Empty);
    // Data where the header should be.
    assert!(matches!(
        refused(b"alice,alice@example.com\nbob,bob@example.com\n").await,
        ImportError::MissingExternalIdColumn { found } if found == "alice, alice@example.com"
    ));
    assert!(matches!(
        refused(b"email,name\nalice@example.com,Alice\n").await,
        ImportError::MissingExternalIdColumn { .. }
    ));
    assert_eq!(
        refused(b"ExternalId,Email,EMAIL\nalice,a@example.com,b@example.com\n").await,
        ImportError::DuplicateColumn("EMAIL".to_owned())
    );
    assert_eq!(
        refused(b"External\xffId,email\nalice,\n").await,
        ImportError::HeaderNotUtf8
    );
    assert!(matches!(
        users
            .import_csv("", &b"ExternalId\nalice\n"[..], at(0))
            .await,
        Err(ImportError::InvalidProvider(_))
    ));

    // Caps: over the size or the row limit, nothing is written.
    let input = b"ExternalId\nalice\nbob\ncarol\n";
    let small = users.clone().with_max_import_bytes(input.len() - 1);
    assert_eq!(
        small.import_csv("okta", &input[..], at(0)).await,
        Err(ImportError::TooLarge {
            max_bytes: input.len() - 1
        })
    );
    let few = users.clone().with_max_import_rows(2);
    assert_eq!(
        few.import_csv("okta", &input[..], at(0)).await,
        Err(ImportError::TooManyRows { max_rows: 2 })
    );
    assert_eq!(users.count("okta").await.unwrap(), 0);
    // At the limits exactly, the import goes through.
    let exact = users
        .clone()
        .with_max_import_bytes(input.len())
        .with_max_import_rows(3);
    let report = exact.import_csv("okta", &input[..], at(0)).await.unwrap();
    assert_eq!(lines(&report.added), vec![2, 3, 4]);
}

async fn csv_rows(server: Server) {
    let users = fresh(server).await.users();
    users
        .add(
            NewUser::new("okta", "dave").email("dave@old.example.com"),
            at(0),
        )
        .await
        .unwrap();
    let input: &[u8] = b"\xef\xbb\xbf EXTERNALID , Email,NAME,Department\n\
        alice, alice@example.com ,Alice Liddell,Research\n\
        bob,,,\n\
        \n\
        \x20 , ,\t,\n\
        carol,not-an-email,Carol,\n\
        dave,dave@new.example.com,Dave,Sales\n\
        alice,alice2@example.com,Alice Again,\n\
        erin,erin@example.com\n\
        ,nobody@example.com,No Id,\n\
        fr\xe9d,fred@example.com,Fred,\n\
        \"grace, hopper\",grace@example.com,\"Grace \"\"Amazing\"\" Hopper\",Navy\n";
    let report = users
        .import_csv("okta", input, at(100))
        .await
        .expect("report");
    assert_eq!(lines(&report.added), vec![2, 3, 12]);
    assert_eq!(lines(&report.skipped_existing), vec![7]);
    let failed: Vec<(u64, String)> = report
        .failed
        .iter()
        .map(|f| (f.line, f.problem.to_string()))
        .collect();
    assert_eq!(failed.len(), 5, "{failed:?}");
    assert!(matches!(
        report.failed[0].problem,
        RowProblem::Invalid { field: "email", .. }
    ));
    assert_eq!(report.failed[0].line, 6);
    assert_eq!(
        report.failed[1].problem,
        RowProblem::DuplicateInFile { first_line: 2 }
    );
    assert_eq!(report.failed[1].line, 8);
    assert_eq!(
        report.failed[2].problem,
        RowProblem::WrongFieldCount {
            expected: 4,
            found: 2
        }
    );
    assert_eq!(report.failed[2].external_id.as_deref(), Some("erin"));
    assert_eq!(report.failed[2].line, 9);
    assert_eq!(report.failed[3].line, 10);
    assert!(matches!(
        report.failed[3].problem,
        RowProblem::Invalid {
            field: "external_id",
            ..
        }
    ));
    assert_eq!(report.failed[4].line, 11);
    assert_eq!(report.failed[4].problem, RowProblem::InvalidUtf8);
    assert_eq!(
        report.summary(),
        "added 3, skipped 1 (already present), failed 5"
    );

    let alice = users.get("okta", "alice").await.unwrap().unwrap();
    assert_eq!(alice.email.as_deref(), Some("alice@example.com"));
    assert_eq!(alice.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(
        alice.profile.get("Department"),
        Some(&Value::from("Research"))
    );
    assert_eq!(alice.created_at, at(100));
    let bob = users.get("okta", "bob").await.unwrap().unwrap();
    assert_eq!((bob.email, bob.display_name), (None, None));
    assert!(bob.profile.is_empty());
    let grace = users.get("okta", "grace, hopper").await.unwrap().unwrap();
    assert_eq!(
        grace.display_name.as_deref(),
        Some("Grace \"Amazing\" Hopper")
    );
    // The existing user was left as it was.
    let dave = users.get("okta", "dave").await.unwrap().unwrap();
    assert_eq!(dave.email.as_deref(), Some("dave@old.example.com"));
    // Failed rows wrote nothing.
    for id in ["carol", "erin", "fred"] {
        assert!(users.get("okta", id).await.unwrap().is_none(), "{id}");
    }
    assert_eq!(users.count("okta").await.unwrap(), 4);

    // The same file again: every good row is now an existing user.
    let again = users.import_csv("okta", input, at(200)).await.unwrap();
    assert!(again.added.is_empty());
    assert_eq!(lines(&again.skipped_existing), vec![2, 3, 7, 12]);
    assert_eq!(again.failed.len(), 5);
}

async fn csv_ten_thousand_rows(server: Server) {
    let users = fresh(server).await.users();
    let mut input = String::from("ExternalId,email,name\n");
    for i in 0..10_000 {
        writeln!(
            input,
            "user{i:05}@example.com,user{i:05}@example.com,User {i}"
        )
        .unwrap();
    }
    let report = users
        .import_csv("okta", input.as_bytes(), at(0))
        .await
        .unwrap();
    assert_eq!(report.added.len(), 10_000);
    assert!(report.failed.is_empty() && report.skipped_existing.is_empty());
    assert_eq!(report.added[9_999].line, 10_001);
    assert_eq!(users.count("okta").await.unwrap(), 10_000);
    let last = users
        .get("okta", "user09999@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.display_name.as_deref(), Some("User 9999"));
    assert_eq!(users.remove_all_for_provider("okta").await.unwrap(), 10_000);
}

/// Two nodes import overlapping files at once: each user is added once,
/// and every row is accounted for on one side or the other.
async fn two_nodes_import_at_once(server: Server) {
    let (a, b) = two_nodes(server).await;
    let mut input = String::from("ExternalId\n");
    for i in 0..1_200 {
        writeln!(input, "user-{i}").unwrap();
    }
    let run = |store: SqlStore, input: String| {
        tokio::spawn(async move {
            store
                .users()
                .import_csv("okta", input.as_bytes(), at(0))
                .await
                .expect("import")
        })
    };
    let (ra, rb) = (run(a.clone(), input.clone()), run(b, input));
    let (ra, rb) = (ra.await.unwrap(), rb.await.unwrap());
    assert!(ra.failed.is_empty(), "{:?}", ra.failed.first());
    assert!(rb.failed.is_empty(), "{:?}", rb.failed.first());
    assert_eq!(ra.added.len() + rb.added.len(), 1_200);
    assert_eq!(ra.added.len() + ra.skipped_existing.len(), 1_200);
    assert_eq!(rb.added.len() + rb.skipped_existing.len(), 1_200);
    assert_eq!(a.users().count("okta").await.unwrap(), 1_200);
}

/// A database that went away: the import reports every row as not written.
async fn import_fails_closed(server: Server) {
    let store = fresh(server).await;
    let users: UserDirectory = store.users();
    store.connection().clone().close().await.unwrap();
    let report = users
        .import_csv("okta", &b"ExternalId\nalice\nbob\n"[..], at(0))
        .await
        .unwrap();
    assert!(report.added.is_empty());
    assert_eq!(report.failed.len(), 2);
    assert!(matches!(
        report.failed[0].problem,
        RowProblem::NotWritten(_)
    ));
    assert!(matches!(
        users.get("okta", "alice").await,
        Err(DirectoryError::Store(_))
    ));
}

macro_rules! on_every_server {
    ($($server:ident),*) => {$(
        #[allow(non_snake_case)]
        mod $server {
            use super::*;

            #[tokio::test]
            async fn add_get_enable_remove() {
                crud(Server::$server).await;
            }

            #[tokio::test]
            async fn invalid_input_is_refused() {
                invalid_input(Server::$server).await;
            }

            #[tokio::test]
            async fn keys_are_exact() {
                keys_compare_exactly(Server::$server).await;
            }

            #[tokio::test]
            async fn paging() {
                paging_and_removal_per_provider(Server::$server).await;
            }

            #[tokio::test]
            async fn csv_refused_files() {
                csv_whole_file_refusals(Server::$server).await;
            }

            #[tokio::test]
            async fn csv_row_by_row() {
                csv_rows(Server::$server).await;
            }

            #[tokio::test]
            async fn csv_10000_rows() {
                csv_ten_thousand_rows(Server::$server).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn csv_two_nodes_at_once() {
                two_nodes_import_at_once(Server::$server).await;
            }

            #[tokio::test]
            async fn csv_database_gone() {
                import_fails_closed(Server::$server).await;
            }
        }
    )*};
}

on_every_server!(Postgres, Mysql, Sqlite);
