//! ACLs and authentication: world, auth, digest and ip schemes; NoAuth for each permission;
//! InvalidAcl; addAuth; the super user; whoAmI.

use zk_core::auth::digest_id;
use zk_core::{perms, Acl, Client, ClientInfo, CreateMode, Error, Id};

use super::{connect_with, fails, mode, ok, persistent, Ctx, SUPER_PASSWORD};
use crate::ZkTarget;

/// What each permission allows, checked one permission at a time: a node whose ACL grants
/// everything but one permission refuses exactly the operations that need it (NoAuth) and
/// allows the others. getACL needs READ or ADMIN; exists needs nothing.
pub async fn each_permission_guards_its_operations(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "perms").await;
    let c = &ctx.client;
    for (name, missing) in [
        ("read", perms::READ),
        ("write", perms::WRITE),
        ("create", perms::CREATE),
        ("delete", perms::DELETE),
        ("admin", perms::ADMIN),
    ] {
        let p = ctx.path(name);
        let acl = vec![Acl::new(perms::ALL & !missing, "world", "anyone")];
        // Created open, with a child to delete, then restricted.
        ok(format!("create {p}"), c.create(&p, b"d", &persistent())).await;
        ok("child", c.create(&format!("{p}/kid"), b"", &persistent())).await;
        ok("restrict", c.set_acl(&p, acl.clone(), None)).await;

        let read = within_result(c.get_data(&p)).await.map(|_| ());
        let read_w = within_result(c.get_data_w(&p)).await.map(|_| ());
        let children = within_result(c.get_children(&p)).await.map(|_| ());
        let children2 = within_result(c.get_children2(&p)).await.map(|_| ());
        let children_w = within_result(c.get_children_w(&p)).await.map(|_| ());
        let count = within_result(c.get_all_children_number(&p))
            .await
            .map(|_| ());
        let write = within_result(c.set_data(&p, b"w", None)).await.map(|_| ());
        let create = within_result(c.create(&format!("{p}/new"), b"", &persistent()))
            .await
            .map(|_| ());
        let delete = within_result(c.delete(&format!("{p}/kid"), None)).await;
        let admin = within_result(c.set_acl(&p, acl.clone(), None))
            .await
            .map(|_| ());
        let get_acl = within_result(c.get_acl(&p)).await.map(|_| ());
        let exists = within_result(c.exists(&p)).await.map(|_| ());
        let expect = |needed: i32| {
            if needed & missing != 0 {
                Err(Error::NoAuth)
            } else {
                Ok(())
            }
        };
        assert_eq!(read, expect(perms::READ), "{name}: getData");
        assert_eq!(read_w, expect(perms::READ), "{name}: getData with a watch");
        assert_eq!(children, expect(perms::READ), "{name}: getChildren");
        assert_eq!(children2, expect(perms::READ), "{name}: getChildren2");
        assert_eq!(
            children_w,
            expect(perms::READ),
            "{name}: getChildren with a watch"
        );
        assert_eq!(count, expect(perms::READ), "{name}: getAllChildrenNumber");
        assert_eq!(write, expect(perms::WRITE), "{name}: setData");
        assert_eq!(create, expect(perms::CREATE), "{name}: create child");
        assert_eq!(delete, expect(perms::DELETE), "{name}: delete child");
        assert_eq!(admin, expect(perms::ADMIN), "{name}: setACL");
        assert_eq!(get_acl, Ok(()), "{name}: getACL needs READ or ADMIN");
        assert_eq!(exists, Ok(()), "{name}: exists needs nothing");
    }
    // Without READ and ADMIN, getACL is refused too.
    let p = ctx.path("neither");
    let acl = vec![Acl::new(perms::WRITE, "world", "anyone")];
    ok("create", c.create(&p, b"", &persistent().acl(acl))).await;
    fails("getACL", Error::NoAuth, c.get_acl(&p)).await;
    // Deleting a node needs DELETE on its parent, not on the node.
    let locked = ctx.path("locked");
    ok(
        "create locked",
        c.create(
            &locked,
            b"",
            &persistent().acl(vec![Acl::new(0, "world", "anyone")]),
        ),
    )
    .await;
    ok(
        "delete a node without any permission on it",
        c.delete(&locked, None),
    )
    .await;
}

async fn within_result<T>(
    fut: impl std::future::Future<Output = zk_core::Result<T>>,
) -> zk_core::Result<T> {
    super::within("call", fut).await
}

/// A digest ACL shuts out everyone else (NoAuth on read, write, create, delete, admin and
/// getACL; exists still answers) until they authenticate with the password.
pub async fn digest_acl_needs_the_password(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "digest").await;
    let owner = connect_with(ctx.builder().digest_auth("alice", "pw")).await;
    let p = ctx.path("d");
    let acl = vec![Acl::new(perms::ALL, "digest", &digest_id("alice", "pw"))];
    ok(
        "create",
        owner.create(&p, b"secret", &persistent().acl(acl.clone())),
    )
    .await;
    ok(
        "child",
        owner.create(&format!("{p}/kid"), b"", &persistent()),
    )
    .await;

    let anon = &ctx.client;
    let wrong = connect_with(ctx.builder().digest_auth("alice", "wrong")).await;
    let other_user = connect_with(ctx.builder().digest_auth("bob", "pw")).await;
    for (who, c) in [
        ("anonymous", anon),
        ("wrong password", &wrong),
        ("bob", &other_user),
    ] {
        fails(format!("{who}: getData"), Error::NoAuth, c.get_data(&p)).await;
        fails(
            format!("{who}: getChildren"),
            Error::NoAuth,
            c.get_children(&p),
        )
        .await;
        fails(
            format!("{who}: setData"),
            Error::NoAuth,
            c.set_data(&p, b"x", None),
        )
        .await;
        fails(
            format!("{who}: create"),
            Error::NoAuth,
            c.create(&format!("{p}/x"), b"", &persistent()),
        )
        .await;
        fails(
            format!("{who}: delete"),
            Error::NoAuth,
            c.delete(&format!("{p}/kid"), None),
        )
        .await;
        fails(
            format!("{who}: setACL"),
            Error::NoAuth,
            c.set_acl(&p, Acl::open_unsafe(), None),
        )
        .await;
        fails(format!("{who}: getACL"), Error::NoAuth, c.get_acl(&p)).await;
        assert!(ok(format!("{who}: exists"), c.exists(&p)).await.is_some());
    }

    // addAuth on a live connection grants access from then on.
    ok("add_auth", anon.add_auth("digest", b"alice:pw")).await;
    let (d, _) = ok("read after add_auth", anon.get_data(&p)).await;
    assert_eq!(&d[..], b"secret");
    ok("write after add_auth", anon.set_data(&p, b"new", None)).await;
    let (got, _) = ok("getACL", anon.get_acl(&p)).await;
    assert_eq!(got, acl);
    ok("delete child", anon.delete(&format!("{p}/kid"), None)).await;
}

/// The `auth` scheme stands for every identity the connection is authenticated as: it is
/// stored as those identities, and is invalid (InvalidAcl) on a connection with none.
pub async fn auth_scheme_uses_the_connection_identities(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "authscheme").await;
    fails(
        "auth scheme without credentials",
        Error::InvalidAcl,
        ctx.client
            .create(&ctx.path("x"), b"", &persistent().acl(Acl::creator_all())),
    )
    .await;
    let c = connect_with(ctx.builder().digest_auth("carol", "pw1")).await;
    ok("second identity", c.add_auth("digest", b"dave:pw2")).await;
    let p = ctx.path("mine");
    ok(
        "create",
        c.create(&p, b"", &persistent().acl(Acl::creator_all())),
    )
    .await;
    let (mut acl, _) = ok("getACL", c.get_acl(&p)).await;
    acl.sort_by(|a, b| a.id.id.cmp(&b.id.id));
    assert_eq!(
        acl,
        vec![
            Acl::new(perms::ALL, "digest", &digest_id("carol", "pw1")),
            Acl::new(perms::ALL, "digest", &digest_id("dave", "pw2")),
        ]
    );
    fails("others", Error::NoAuth, ctx.client.get_data(&p)).await;
    let dave = connect_with(ctx.builder().digest_auth("dave", "pw2")).await;
    ok("dave reads", dave.get_data(&p)).await;
    // setACL with `auth` works the same way.
    let q = ctx.create("q", b"").await;
    ok("setACL auth", c.set_acl(&q, Acl::creator_all(), None)).await;
    fails(
        "others after setACL",
        Error::NoAuth,
        ctx.client.get_data(&q),
    )
    .await;
}

/// `ip` ACLs match the client's address, exactly or by prefix length.
pub async fn ip_acl_matches_the_client_address(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "ip").await;
    let c = &ctx.client;
    let me = who_am_i(c).await;
    let ip = me
        .iter()
        .find(|i| i.auth_scheme == "ip")
        .map(|i| i.user.clone())
        .expect("whoAmI lists the ip identity");
    assert_eq!(ip, "127.0.0.1", "the suite connects over loopback");
    for (name, id, allowed) in [
        ("exact", "127.0.0.1", true),
        ("prefix", "127.0.0.0/8", true),
        ("other", "10.1.2.3", false),
        ("other prefix", "10.0.0.0/8", false),
    ] {
        let p = ctx.path(&name.replace(' ', "-"));
        ok(
            format!("create {name}"),
            c.create(
                &p,
                b"",
                &persistent().acl(vec![Acl::new(perms::READ, "ip", id)]),
            ),
        )
        .await;
        let r = within_result(c.get_data(&p)).await.map(|_| ());
        let want = if allowed { Ok(()) } else { Err(Error::NoAuth) };
        assert_eq!(r, want, "ip:{id}");
        fails(
            format!("{name}: no WRITE"),
            Error::NoAuth,
            c.set_data(&p, b"", None),
        )
        .await;
    }
}

/// Read-only world ACL (`READ_ACL_UNSAFE`) and multiple entries: permissions add up over the
/// entries that match.
pub async fn acl_entries_add_up(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "entries").await;
    let c = &ctx.client;
    let ro = ctx.path("ro");
    ok(
        "create ro",
        c.create(&ro, b"r", &persistent().acl(Acl::read_unsafe())),
    )
    .await;
    ok("read", c.get_data(&ro)).await;
    fails("write", Error::NoAuth, c.set_data(&ro, b"", None)).await;

    let p = ctx.path("mixed");
    let acl = vec![
        Acl::new(perms::READ, "world", "anyone"),
        Acl::new(perms::WRITE, "digest", &digest_id("erin", "pw")),
        Acl::new(perms::CREATE, "ip", "127.0.0.1"),
    ];
    ok(
        "create mixed",
        c.create(&p, b"", &persistent().acl(acl.clone())),
    )
    .await;
    // Apache surprise: without ADMIN on the node, getACL masks digest ids as `user:x`
    // (ZOOKEEPER-1392); the entries come back as set, in order, otherwise.
    let masked = vec![
        acl[0].clone(),
        Acl::new(perms::WRITE, "digest", "erin:x"),
        acl[2].clone(),
    ];
    let (got, stat) = ok("getACL", c.get_acl(&p)).await;
    assert_eq!(got, masked, "getACL without ADMIN");
    assert_eq!(stat.aversion, 0);
    let root = connect_with(ctx.builder().digest_auth("super", SUPER_PASSWORD)).await;
    let (got, _) = ok("getACL as super", root.get_acl(&p)).await;
    assert_eq!(got, acl, "getACL with ADMIN shows the digest");
    ok("read (world)", c.get_data(&p)).await;
    ok(
        "create (ip)",
        c.create(&format!("{p}/k"), b"", &persistent()),
    )
    .await;
    fails(
        "write before auth",
        Error::NoAuth,
        c.set_data(&p, b"", None),
    )
    .await;
    ok("auth", c.add_auth("digest", b"erin:pw")).await;
    ok("write (digest)", c.set_data(&p, b"", None)).await;
    fails("still no ADMIN", Error::NoAuth, c.set_acl(&p, acl, None)).await;
    let (got, _) = ok("getACL as erin", c.get_acl(&p)).await;
    assert_eq!(got, masked, "erin has no ADMIN either");
}

/// setACL checks the ACL version and bumps it.
pub async fn set_acl_checks_the_acl_version(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "aversion").await;
    let c = &ctx.client;
    let p = ctx.create("n", b"").await;
    let s = ok("setACL v0", c.set_acl(&p, Acl::read_unsafe(), Some(0))).await;
    assert_eq!(s.aversion, 1);
    assert_eq!(s.version, 0, "setACL leaves the data version alone");
    // READ only now: setACL needs ADMIN.
    fails(
        "setACL without ADMIN",
        Error::NoAuth,
        c.set_acl(&p, Acl::open_unsafe(), None),
    )
    .await;
    let admin = vec![Acl::new(perms::ALL, "world", "anyone")];
    let q = ctx.create("q", b"").await;
    ok("setACL", c.set_acl(&q, admin.clone(), None)).await;
    fails(
        "stale aversion",
        Error::BadVersion,
        c.set_acl(&q, admin.clone(), Some(0)),
    )
    .await;
    let s = ok("current aversion", c.set_acl(&q, admin, Some(1))).await;
    assert_eq!(s.aversion, 2);
    let (_, st) = ok("getACL", c.get_acl(&q)).await;
    assert_eq!(st.aversion, 2);
}

/// Invalid ACLs are refused with InvalidAcl by create and setACL: an empty list, an unknown
/// scheme, `world` with an id other than `anyone`, a malformed digest or ip id, and `auth`
/// without credentials.
pub async fn invalid_acls_are_refused(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "invalidacl").await;
    let c = &ctx.client;
    let existing = ctx.create("existing", b"").await;
    let cases: Vec<(&str, Vec<Acl>)> = vec![
        ("empty", vec![]),
        (
            "unknown scheme",
            vec![Acl::new(perms::ALL, "nosuchscheme", "x")],
        ),
        (
            "world:someone",
            vec![Acl::new(perms::ALL, "world", "someone")],
        ),
        (
            "digest without a hash",
            vec![Acl::new(perms::ALL, "digest", "nocolon")],
        ),
        ("bad ip", vec![Acl::new(perms::ALL, "ip", "300.1.2.3")]),
        ("auth without credentials", Acl::creator_all()),
        (
            "one bad entry among good ones",
            vec![
                Acl::new(perms::ALL, "world", "anyone"),
                Acl::new(perms::ALL, "ip", "not-an-ip"),
            ],
        ),
    ];
    for (what, acl) in cases {
        fails(
            format!("create with {what}"),
            Error::InvalidAcl,
            c.create(&ctx.path("x"), b"", &persistent().acl(acl.clone())),
        )
        .await;
        fails(
            format!("setACL with {what}"),
            Error::InvalidAcl,
            c.set_acl(&existing, acl, None),
        )
        .await;
    }
    assert_eq!(ok("nothing created", c.exists(&ctx.path("x"))).await, None);
    let (acl, st) = ok("getACL", c.get_acl(&existing)).await;
    assert_eq!((acl, st.aversion), (Acl::open_unsafe(), 0));
}

/// The super user (digest `super:<password>` configured on the server) passes every ACL.
pub async fn super_user_passes_every_acl(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "super").await;
    let c = &ctx.client;
    let p = ctx.path("locked");
    ok(
        "create locked",
        c.create(
            &p,
            b"top secret",
            &persistent().acl(vec![Acl::new(
                perms::ALL,
                "digest",
                &digest_id("nobody", "unguessable"),
            )]),
        ),
    )
    .await;
    fails("anonymous", Error::NoAuth, c.get_data(&p)).await;
    let root = connect_with(ctx.builder().digest_auth("super", SUPER_PASSWORD)).await;
    let (d, _) = ok("super reads", root.get_data(&p)).await;
    assert_eq!(&d[..], b"top secret");
    ok("super writes", root.set_data(&p, b"x", None)).await;
    ok(
        "super creates",
        root.create(&format!("{p}/k"), b"", &persistent()),
    )
    .await;
    ok("super deletes", root.delete(&format!("{p}/k"), None)).await;
    ok("super reads the ACL", root.get_acl(&p)).await;
    ok(
        "super sets the ACL",
        root.set_acl(&p, Acl::open_unsafe(), None),
    )
    .await;
    ok("now open to all", c.get_data(&p)).await;
    let wrong = connect_with(ctx.builder().digest_auth("super", "wrong-password")).await;
    ok("lock again", root.set_acl(&p, Acl::read_unsafe(), None)).await;
    fails(
        "a wrong super password is just another user",
        Error::NoAuth,
        wrong.set_data(&p, b"", None),
    )
    .await;
}

/// whoAmI lists the connection's identities: its ip, then each digest added; the super user
/// also shows as scheme `super`.
pub async fn who_am_i_lists_the_identities(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "whoami").await;
    let c = ctx.client().await;
    let ip = ClientInfo {
        auth_scheme: "ip".into(),
        user: "127.0.0.1".into(),
    };
    assert_eq!(who_am_i(&c).await, vec![ip.clone()]);
    ok("add_auth", c.add_auth("digest", b"frank:pw")).await;
    let ids = who_am_i(&c).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&ip), "{ids:?}");
    assert!(
        ids.contains(&ClientInfo {
            auth_scheme: "digest".into(),
            user: "frank".into()
        }),
        "{ids:?}"
    );
    let root = connect_with(ctx.builder().digest_auth("super", SUPER_PASSWORD)).await;
    let ids = who_am_i(&root).await;
    assert!(
        ids.contains(&ClientInfo {
            auth_scheme: "super".into(),
            user: String::new()
        }),
        "{ids:?}"
    );
    assert!(
        ids.contains(&ClientInfo {
            auth_scheme: "digest".into(),
            user: "super".into()
        }),
        "{ids:?}"
    );
    // Other connections are unaffected.
    assert_eq!(who_am_i(&ctx.client).await, vec![ip]);
}

async fn who_am_i(c: &Client) -> Vec<ClientInfo> {
    ok("whoAmI", c.who_am_i()).await
}

/// ACLs of ephemeral and sequential nodes work like any other; the digest id is
/// `user:base64(sha1(user:password))`.
pub async fn acl_on_every_create_mode(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "aclmodes").await;
    let c = connect_with(ctx.builder().digest_auth("gina", "pw")).await;
    let id = Id::new("digest", digest_id("gina", "pw"));
    assert!(id.id.starts_with("gina:") && id.id.len() == "gina:".len() + 28);
    for m in [
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
        CreateMode::Container,
    ] {
        let p = ok(
            format!("create {m:?}"),
            c.create(
                &ctx.path(&format!("{m:?}")),
                b"",
                &mode(m).acl(Acl::creator_all()),
            ),
        )
        .await;
        let (acl, _) = ok("getACL", c.get_acl(&p)).await;
        assert_eq!(
            acl,
            vec![Acl {
                perms: perms::ALL,
                id: id.clone()
            }],
            "{m:?}"
        );
        fails(
            format!("{m:?}: anonymous"),
            Error::NoAuth,
            ctx.client.get_data(&p),
        )
        .await;
    }
    let p = ok(
        "create TTL",
        c.create(
            &ctx.path("ttl"),
            b"",
            &mode(CreateMode::PersistentWithTtl)
                .ttl(60_000)
                .acl(Acl::creator_all()),
        ),
    )
    .await;
    fails("TTL: anonymous", Error::NoAuth, ctx.client.get_data(&p)).await;
}

/// addAuth made while other requests are still in flight. Apache answers an auth packet at
/// once, outside the request pipeline, so its reply can overtake the replies of requests sent
/// before it; the client must match it anyway (not take it for an out-of-order reply and drop
/// the connection), and every call succeeds on the one connection.
pub async fn add_auth_while_requests_are_in_flight(target: &dyn ZkTarget) {
    let ctx = Ctx::new(target, "authpipeline").await;
    let c = ctx.client().await;
    let p = ctx.create("n", b"").await;
    let secret = ctx.path("secret");
    let acl = vec![Acl::new(perms::ALL, "digest", &digest_id("judy", "pw"))];
    ok(
        "digest node",
        ctx.client.create(&secret, b"s", &persistent().acl(acl)),
    )
    .await;
    let mut states = c.state_stream();
    for round in 0..5 {
        let before: Vec<_> = (0..200)
            .map(|i| c.set_data(&p, format!("{i}").as_bytes(), None))
            .collect();
        let auth = c.add_auth("digest", format!("user{round}:pw").as_bytes());
        let after: Vec<_> = (0..50).map(|_| c.get_data(&p)).collect();
        ok(
            "writes before addAuth",
            futures::future::try_join_all(before),
        )
        .await;
        ok("addAuth", auth).await;
        ok("reads after addAuth", futures::future::try_join_all(after)).await;
    }
    let auth = c.add_auth("digest", b"judy:pw");
    let read = c.get_data(&secret);
    ok("addAuth", auth).await;
    ok("a read right after addAuth is authenticated", read).await;
    assert_eq!(
        futures::StreamExt::next(&mut states).await,
        Some(zk_core::SessionState::Connected)
    );
    if let Some(s) = futures::FutureExt::now_or_never(futures::StreamExt::next(&mut states)) {
        panic!("the connection did not survive pipelined addAuth: state {s:?}");
    }
}
