//! ACLs through the tree: fixupACL on create, permissions per read, getACL masking, super.

use zk_core::proto::{
    perms, Acl, ErrorCode, GetAclRequest, GetAllChildrenNumberRequest, GetChildren2Request,
    GetChildrenRequest, GetDataRequest, Request, Response,
};

use super::{id, T};
use crate::tree::TreeConfig;

const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";

fn get_acl(t: &T, path: &str) -> Result<Vec<Acl>, ErrorCode> {
    match t.read(&Request::GetAcl(GetAclRequest { path: path.into() }))? {
        Response::GetAcl(a) => Ok(a.acl),
        other => panic!("{other:?}"),
    }
}

// Checked on 3.8.0: each ACL created and read back (dup removed, perms kept as given).
#[test]
fn create_stores_the_fixed_up_acl() {
    let mut t = T::new();
    let dup = vec![
        Acl::new(31, "world", "anyone"),
        Acl::new(31, "world", "anyone"),
    ];
    t.create_acl("/dup", dup).expect("created");
    assert_eq!(t.tree.acl("/dup"), Some(Acl::open_unsafe()));
    t.create_acl("/odd", vec![Acl::new(99, "world", "anyone")])
        .expect("created");
    assert_eq!(
        t.tree.acl("/odd"),
        Some(vec![Acl::new(99, "world", "anyone")])
    );
    for acl in [
        vec![],
        vec![Acl::new(31, "world", "foo")],
        vec![Acl::new(31, "auth", "")],
        vec![Acl::new(31, "digest", "user")],
        vec![Acl::new(31, "sasl", "x")],
        vec![Acl::new(31, "ip", "1.2.3.4/33")],
    ] {
        assert_eq!(
            t.create_acl("/bad", acl.clone()),
            Err(ErrorCode::InvalidAcl),
            "{acl:?}"
        );
    }
}

// Checked on 3.8.0: `auth` expands to the digest id; world entries are kept after it.
#[test]
fn auth_scheme_expands_to_the_connections_digest_ids() {
    let mut t = T::new();
    t.auth = vec![
        id("ip", "127.0.0.1"),
        id("digest", "u1:fpT/y03U+EjItKZOSLGvjnJlyng="),
    ];
    t.create_acl(
        "/a",
        vec![
            Acl::new(31, "auth", "whatever"),
            Acl::new(1, "world", "anyone"),
        ],
    )
    .expect("created");
    assert_eq!(
        t.tree.acl("/a"),
        Some(vec![
            Acl::new(31, "digest", "u1:fpT/y03U+EjItKZOSLGvjnJlyng="),
            Acl::new(1, "world", "anyone"),
        ])
    );
    // Owner reads the full ACL; others (READ via world) see the hash masked.
    assert_eq!(
        get_acl(&t, "/a").map(|a| a[0].id.id.clone()),
        Ok("u1:fpT/y03U+EjItKZOSLGvjnJlyng=".into())
    );
    t.auth = vec![id("ip", "127.0.0.1")];
    assert_eq!(
        get_acl(&t, "/a").map(|a| a[0].id.id.clone()),
        Ok("u1:x".into())
    );
    assert_eq!(t.set("/a", None, -1), Err(ErrorCode::NoAuth));
    assert_eq!(t.create("/a/x", 0), Err(ErrorCode::NoAuth));
}

// Checked on 3.8.0: a write-only node refuses getACL, getData, getChildren(2),
// getAllChildrenNumber; exists needs no permission.
#[test]
fn reads_need_read_except_exists_and_get_acl_takes_read_or_admin() {
    let mut t = T::new();
    t.create_acl(
        "/wonly",
        vec![
            Acl::new(perms::WRITE, "world", "anyone"),
            Acl::new(31, "digest", "u1:xyz"),
        ],
    )
    .expect("created");
    let p = || "/wonly".to_string();
    for req in [
        Request::GetAcl(GetAclRequest { path: p() }),
        Request::GetData(GetDataRequest {
            path: p(),
            watch: false,
        }),
        Request::GetChildren(GetChildrenRequest {
            path: p(),
            watch: false,
        }),
        Request::GetChildren2(GetChildren2Request {
            path: p(),
            watch: false,
        }),
        Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: p() }),
    ] {
        assert_eq!(t.read(&req), Err(ErrorCode::NoAuth), "{req:?}");
    }
    assert!(t.tree.stat("/wonly").is_some());
    t.create_acl(
        "/adminonly",
        vec![
            Acl::new(perms::ADMIN, "world", "anyone"),
            Acl::new(1, "digest", "u1:xyz"),
        ],
    )
    .expect("created");
    // ADMIN: getACL works and shows the hashes unmasked.
    assert_eq!(
        get_acl(&t, "/adminonly"),
        Ok(vec![
            Acl::new(perms::ADMIN, "world", "anyone"),
            Acl::new(1, "digest", "u1:xyz")
        ])
    );
}

// Checked on 3.8.0 with superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU= and addauth
// digest super:test: the super user reads a write-only node; `auth` expands to its digest.
#[test]
fn super_user_bypasses_acls_by_super_id_or_super_digest() {
    let mut t = T::with(TreeConfig {
        super_digest: Some(SUPER_DIGEST.into()),
        ..TreeConfig::default()
    });
    t.create_acl("/wonly", vec![Acl::new(perms::WRITE, "world", "anyone")])
        .expect("created");
    let get = |t: &T| {
        t.read(&Request::GetData(GetDataRequest {
            path: "/wonly".into(),
            watch: false,
        }))
    };
    assert_eq!(get(&t), Err(ErrorCode::NoAuth));
    t.auth = vec![
        id("super", ""),
        id("ip", "127.0.0.1"),
        id("digest", SUPER_DIGEST),
    ];
    assert!(get(&t).is_ok());
    t.create_acl("/sa", vec![Acl::new(31, "auth", "")])
        .expect("created");
    assert_eq!(
        t.tree.acl("/sa"),
        Some(vec![Acl::new(31, "digest", SUPER_DIGEST)])
    );
    // The digest id alone (no super id) is enough when it is the configured super digest.
    t.auth = vec![id("digest", SUPER_DIGEST)];
    assert!(get(&t).is_ok());
    t.set_acl("/wonly", Acl::read_unsafe(), -1)
        .expect("super sets any ACL");
}

#[test]
fn ip_acls_match_the_connections_address() {
    let mut t = T::new();
    t.create_acl("/lan", vec![Acl::new(31, "ip", "127.0.0.0/8")])
        .expect("created");
    t.auth = vec![id("ip", "127.0.0.1")];
    t.set("/lan", None, -1).expect("in the subnet");
    t.auth = vec![id("ip", "10.0.0.1")];
    assert_eq!(t.set("/lan", None, -1), Err(ErrorCode::NoAuth));
}

#[test]
fn skip_acl_allows_everything_but_still_validates_acls() {
    let mut t = T::with(TreeConfig {
        skip_acl: true,
        ..TreeConfig::default()
    });
    t.create_acl("/r", Acl::read_unsafe()).expect("created");
    t.set("/r", None, -1).expect("ACLs skipped");
    assert_eq!(t.create_acl("/bad", vec![]), Err(ErrorCode::InvalidAcl));
}
