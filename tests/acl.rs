//! ACL schemes (world, digest, auth, ip), permission checks, addauth,
//! whoAmI and the super digest.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use jute::codes::{op, perms, xid, Code};
use jute::{AuthPacket, CreateRequest, WhoAmIResponse};
use zk::{Acl, Acls, AuthId, CreateMode, Error, Permission};

fn acl(perms: i32, scheme: &str, id: &str) -> jute::Acl {
    jute::Acl {
        perms,
        id: jute::Id {
            scheme: scheme.into(),
            id: id.into(),
        },
    }
}

async fn raw_create_with_acl(r: &mut RawConn, path: &str, acl: Vec<jute::Acl>) -> i32 {
    r.call(
        op::CREATE2,
        &CreateRequest {
            path: path.into(),
            data: None,
            acl,
            flags: 0,
        },
    )
    .await
    .0
    .err
}

async fn raw_auth(r: &mut RawConn, scheme: &str, auth: &[u8]) -> i32 {
    r.send_with_xid(
        xid::AUTH,
        op::AUTH,
        &AuthPacket {
            auth_type: 0,
            scheme: scheme.into(),
            auth: Some(auth.to_vec()),
        },
    )
    .await;
    let (h, body) = r.read_reply(xid::AUTH).await;
    assert!(body.is_empty());
    h.err
}

async fn who_am_i(r: &mut RawConn) -> Vec<(String, String)> {
    let resp: WhoAmIResponse = r.req(op::WHO_AM_I, &common::Empty).await.unwrap();
    let mut v: Vec<_> = resp
        .client_info
        .into_iter()
        .map(|c| (c.auth_scheme, c.user))
        .collect();
    v.sort();
    v
}

fn none_acl() -> [Acl; 1] {
    [Acl::new(Permission::NONE, AuthId::anyone())]
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_acl_requires_matching_credentials() {
    let s = TestServer::default_server();
    let owner = client(&s.addr()).await;
    let id = digest_id("alice", "secret");
    let acls = [Acl::new(Permission::ALL, AuthId::new("digest", &id))];
    owner
        .create(
            "/d",
            b"data",
            &CreateMode::Persistent.with_acls(Acls::new(&acls)),
        )
        .await
        .unwrap();

    let other = client(&s.addr()).await;
    assert_eq!(other.get_data("/d").await.unwrap_err(), Error::NoAuth);
    assert_eq!(
        other.set_data("/d", b"x", None).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(other.list_children("/d").await.unwrap_err(), Error::NoAuth);
    assert_eq!(other.get_acl("/d").await.unwrap_err(), Error::NoAuth);
    assert_eq!(
        other.create("/d/c", b"", &persistent()).await.unwrap_err(),
        Error::NoAuth
    );
    // exists needs no permission.
    assert!(other.check_stat("/d").await.unwrap().is_some());

    // Wrong password: still no access.
    other.auth("digest", b"alice:wrong").await.unwrap();
    assert_eq!(other.get_data("/d").await.unwrap_err(), Error::NoAuth);
    // The right one.
    other.auth("digest", b"alice:secret").await.unwrap();
    assert_eq!(other.get_data("/d").await.unwrap().0, b"data");
    let (got, stat) = other.get_acl("/d").await.unwrap();
    assert_eq!(got, acls);
    assert_eq!(stat.aversion, 0);
    other.set_data("/d", b"new", None).await.unwrap();
    other.create("/d/c", b"", &persistent()).await.unwrap();

    // Credentials given at connect time work the same.
    let pre = zk::Client::connector()
        .with_auth("digest", b"alice:secret")
        .connect(&s.addr())
        .await
        .unwrap();
    assert_eq!(pre.get_data("/d").await.unwrap().0, b"new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_permission_guards_its_operations() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let only = |p: Permission| [Acl::new(p, AuthId::anyone())];

    let read = only(Permission::READ);
    c.create(
        "/r",
        b"r",
        &CreateMode::Persistent.with_acls(Acls::new(&read)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/r").await.unwrap().0, b"r");
    assert_eq!(c.list_children("/r").await.unwrap(), Vec::<String>::new());
    assert_eq!(
        c.set_data("/r", b"x", None).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        c.create("/r/c", b"", &persistent()).await.unwrap_err(),
        Error::NoAuth
    );
    assert_eq!(
        c.set_acl("/r", &Acls::anyone_all(), None)
            .await
            .unwrap_err(),
        Error::NoAuth
    );
    // getACL needs READ or ADMIN.
    assert_eq!(c.get_acl("/r").await.unwrap().0, read);

    let write = only(Permission::WRITE);
    c.create(
        "/w",
        b"w",
        &CreateMode::Persistent.with_acls(Acls::new(&write)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/w").await.unwrap_err(), Error::NoAuth);
    assert_eq!(c.get_acl("/w").await.unwrap_err(), Error::NoAuth);
    assert_eq!(c.set_data("/w", b"x", None).await.unwrap().version, 1);

    // CREATE on the parent allows creating children; DELETE on the parent
    // allows deleting them. The child's own ACL does not matter for delete.
    let create = only(Permission::CREATE);
    c.create(
        "/c",
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&create)),
    )
    .await
    .unwrap();
    c.create("/c/kid", b"", &persistent()).await.unwrap();
    assert_eq!(c.delete("/c/kid", None).await.unwrap_err(), Error::NoAuth);
    let delete = only(Permission::DELETE);
    c.create(
        "/del",
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&delete)),
    )
    .await
    .unwrap();
    assert_eq!(
        c.create("/del/kid", b"", &persistent()).await.unwrap_err(),
        Error::NoAuth
    );
    let create_delete = only(Permission::CREATE | Permission::DELETE);
    c.create(
        "/cd",
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&create_delete)),
    )
    .await
    .unwrap();
    c.create(
        "/cd/kid",
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&none_acl())),
    )
    .await
    .unwrap();
    c.delete("/cd/kid", None).await.unwrap();

    // ADMIN allows setACL (and getACL) only.
    let admin = only(Permission::ADMIN);
    c.create(
        "/a",
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&admin)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/a").await.unwrap_err(), Error::NoAuth);
    assert_eq!(c.get_acl("/a").await.unwrap().0, admin);
    let st = c.set_acl("/a", &Acls::anyone_all(), Some(0)).await.unwrap();
    assert_eq!(st.aversion, 1);
    assert_eq!(c.get_data("/a").await.unwrap().0, b"");

    // No permissions at all is a valid ACL.
    let none = [Acl::new(Permission::NONE, AuthId::anyone())];
    c.create(
        "/n",
        b"",
        &CreateMode::Persistent.with_acls(Acls::new(&none)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/n").await.unwrap_err(), Error::NoAuth);
    // Deleting /n needs DELETE on the root, which is open.
    c.delete("/n", None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_scheme_needs_an_authenticated_identity() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let creator = CreateMode::Persistent.with_acls(Acls::creator_all());
    // Only the ip identity: nothing to expand `auth` into.
    assert_eq!(
        c.create("/x", b"", &creator).await.unwrap_err(),
        Error::InvalidAcl
    );
    c.auth("digest", b"bob:pw").await.unwrap();
    c.create("/x", b"", &creator).await.unwrap();
    let (acls, _) = c.get_acl("/x").await.unwrap();
    assert_eq!(
        acls,
        [Acl::new(
            Permission::ALL,
            AuthId::new("digest", &digest_id("bob", "pw"))
        )]
    );
    let other = client(&s.addr()).await;
    assert_eq!(other.get_data("/x").await.unwrap_err(), Error::NoAuth);

    // With two digest identities, `auth` expands to both.
    c.auth("digest", b"carol:pw2").await.unwrap();
    c.create("/y", b"", &creator).await.unwrap();
    let (mut acls, _) = c.get_acl("/y").await.unwrap();
    acls.sort_by(|a, b| a.id().cmp(b.id()));
    assert_eq!(
        acls,
        [
            Acl::new(
                Permission::ALL,
                AuthId::new("digest", &digest_id("bob", "pw"))
            ),
            Acl::new(
                Permission::ALL,
                AuthId::new("digest", &digest_id("carol", "pw2"))
            ),
        ]
    );
    other.auth("digest", b"carol:pw2").await.unwrap();
    other.get_data("/y").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_acl_matches_the_client_address() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let local = [Acl::new(Permission::READ, AuthId::new("ip", "127.0.0.1"))];
    c.create(
        "/local",
        b"l",
        &CreateMode::Persistent.with_acls(Acls::new(&local)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/local").await.unwrap().0, b"l");
    assert_eq!(
        c.set_data("/local", b"x", None).await.unwrap_err(),
        Error::NoAuth
    );

    let net = [Acl::new(Permission::ALL, AuthId::new("ip", "127.0.0.0/8"))];
    c.create(
        "/net",
        b"n",
        &CreateMode::Persistent.with_acls(Acls::new(&net)),
    )
    .await
    .unwrap();
    c.set_data("/net", b"y", None).await.unwrap();

    let remote = [Acl::new(Permission::ALL, AuthId::new("ip", "10.1.2.3"))];
    c.create(
        "/remote",
        b"r",
        &CreateMode::Persistent.with_acls(Acls::new(&remote)),
    )
    .await
    .unwrap();
    assert_eq!(c.get_data("/remote").await.unwrap_err(), Error::NoAuth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_acls_are_rejected() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let invalid = Code::InvalidAcl.as_i32();
    for (i, bad) in [
        vec![],
        vec![acl(perms::ALL, "foo", "bar")],
        vec![acl(perms::ALL, "auth", "")],
        vec![acl(perms::ALL, "ip", "not-an-ip")],
        vec![acl(perms::ALL, "digest", "nocolon")],
        vec![acl(perms::ALL, "world", "someone")],
        vec![
            acl(perms::ALL, "world", "anyone"),
            acl(perms::ALL, "foo", "bar"),
        ],
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            raw_create_with_acl(&mut r, &format!("/n{i}"), bad.clone()).await,
            invalid,
            "{bad:?}"
        );
        assert_eq!(
            r.exists(&format!("/n{i}"), false).await.unwrap_err(),
            Code::NoNode.as_i32()
        );
    }
    // setACL validates the same way.
    r.create("/ok", None, 0).await.unwrap();
    let (h, _) = r
        .call(
            op::SET_ACL,
            &jute::SetAclRequest {
                path: "/ok".into(),
                acl: vec![acl(perms::ALL, "foo", "bar")],
                version: -1,
            },
        )
        .await;
    assert_eq!(h.err, invalid);
    assert_eq!(r.exists("/ok", false).await.unwrap().aversion, 0);

    // Unusual but valid: no permissions, unknown permission bits, a CIDR.
    assert_eq!(
        raw_create_with_acl(&mut r, "/p0", vec![acl(0, "world", "anyone")]).await,
        0
    );
    assert_eq!(
        raw_create_with_acl(&mut r, "/cidr", vec![acl(perms::ALL, "ip", "127.0.0.0/8")]).await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_acl_checks_version_and_replaces_the_list() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let (created, _) = c.create("/a", b"", &persistent()).await.unwrap();
    assert_eq!(
        c.set_acl("/a", &Acls::anyone_read(), Some(3))
            .await
            .unwrap_err(),
        Error::BadVersion
    );
    let st = c
        .set_acl("/a", &Acls::anyone_read(), Some(0))
        .await
        .unwrap();
    assert_eq!(st.aversion, 1);
    assert_eq!(st.version, 0);
    assert_eq!(st.mzxid, created.mzxid);
    let (acls, st2) = c.get_acl("/a").await.unwrap();
    assert_eq!(acls, [Acl::new(Permission::READ, AuthId::anyone())]);
    assert_eq!(st2, st);
    assert_eq!(
        c.set_acl("/missing", &Acls::anyone_read(), None)
            .await
            .unwrap_err(),
        Error::NoNode
    );
    assert_eq!(c.get_acl("/missing").await.unwrap_err(), Error::NoNode);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn super_digest_bypasses_acls() {
    let hash = digest_id("super", "letmein");
    let s = TestServer::start(ServerOpts {
        super_digest: Some(hash.clone()),
        ..Default::default()
    });
    let owner = client(&s.addr()).await;
    let locked = [Acl::new(
        Permission::ALL,
        AuthId::new("digest", &digest_id("alice", "pw")),
    )];
    owner
        .create(
            "/locked",
            b"s",
            &CreateMode::Persistent.with_acls(Acls::new(&locked)),
        )
        .await
        .unwrap();
    let nobody = [Acl::new(Permission::NONE, AuthId::anyone())];
    owner
        .create(
            "/none",
            b"n",
            &CreateMode::Persistent.with_acls(Acls::new(&nobody)),
        )
        .await
        .unwrap();

    let wrong = client(&s.addr()).await;
    wrong.auth("digest", b"super:wrong").await.unwrap();
    assert_eq!(wrong.get_data("/locked").await.unwrap_err(), Error::NoAuth);

    let root = client(&s.addr()).await;
    root.auth("digest", b"super:letmein").await.unwrap();
    assert_eq!(root.get_data("/locked").await.unwrap().0, b"s");
    assert_eq!(root.get_data("/none").await.unwrap().0, b"n");
    root.set_data("/none", b"m", None).await.unwrap();
    root.create("/none/kid", b"", &persistent()).await.unwrap();
    root.delete("/none/kid", None).await.unwrap();
    root.set_acl("/locked", &Acls::anyone_all(), None)
        .await
        .unwrap();
    assert_eq!(wrong.get_data("/locked").await.unwrap().0, b"s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_am_i_lists_identities() {
    let hash = digest_id("super", "letmein");
    let s = TestServer::start(ServerOpts {
        super_digest: Some(hash),
        ..Default::default()
    });
    let mut r = RawConn::connect(&s.addr()).await;
    assert_eq!(who_am_i(&mut r).await, pairs(&[("ip", "127.0.0.1")]));
    assert_eq!(raw_auth(&mut r, "digest", b"alice:pw").await, 0);
    assert_eq!(
        who_am_i(&mut r).await,
        pairs(&[("ip", "127.0.0.1"), ("digest", "alice")])
    );
    // Adding the same identity twice lists it once.
    assert_eq!(raw_auth(&mut r, "digest", b"alice:pw").await, 0);
    assert_eq!(
        who_am_i(&mut r).await,
        pairs(&[("ip", "127.0.0.1"), ("digest", "alice")])
    );

    let mut su = RawConn::connect(&s.addr()).await;
    assert_eq!(raw_auth(&mut su, "digest", b"super:letmein").await, 0);
    assert_eq!(
        who_am_i(&mut su).await,
        pairs(&[("ip", "127.0.0.1"), ("digest", "super"), ("super", "")])
    );

    let c = client(&s.addr()).await;
    c.auth("digest", b"bob:pw").await.unwrap();
    let mut users = c.list_auth_users().await.unwrap();
    users.sort_by(|a, b| a.scheme().cmp(b.scheme()));
    assert_eq!(
        users,
        [
            zk::AuthUser::new("digest", "bob"),
            zk::AuthUser::new("ip", "127.0.0.1")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_with_an_unknown_scheme_fails_and_closes() {
    let s = TestServer::default_server();
    let mut healthy = RawConn::connect(&s.addr()).await;
    let mut r = RawConn::connect(&s.addr()).await;
    assert_eq!(
        raw_auth(&mut r, "nosuchscheme", b"x").await,
        Code::AuthFailed.as_i32()
    );
    assert!(wait_closed(&mut r.stream, CLOSE_WAIT).await);
    healthy.ping().await;

    let c = client(&s.addr()).await;
    assert_eq!(
        c.auth("nosuchscheme", b"x").await.unwrap_err(),
        Error::AuthFailed
    );
}
