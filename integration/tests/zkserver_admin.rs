//! zk-server's admin surface on real sockets: every four-letter word in Apache's shape, the
//! whitelist, `wchs`/`mntr` watch numbers, the Prometheus endpoint; and `TestingServer::kill`.

use std::time::Duration;

use integration::four_letter::{four_letter_word, DEFAULT_TIMEOUT};
use integration::ports::free_port;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zk_core::{Client, CreateMode, CreateOptions};
use zk_server::testing::TestingServer;

const TEST_BOUND: Duration = Duration::from_secs(60);

async fn bounded(body: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(TEST_BOUND, body).await.is_err() {
        panic!("test exceeded its {TEST_BOUND:?} bound");
    }
}

async fn word(server: &TestingServer, cmd: &str) -> String {
    four_letter_word(server.addr(), cmd, DEFAULT_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn value<'a>(mntr: &'a str, key: &str) -> &'a str {
    mntr.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('\t')))
        .unwrap_or_else(|| panic!("no {key} in mntr:\n{mntr}"))
}

#[tokio::test]
async fn four_letter_words_answer_in_apache_shape_on_a_fresh_server() {
    bounded(async {
        let server = TestingServer::start().await.expect("start");
        assert_eq!(word(&server, "ruok").await, "imok");
        assert_eq!(word(&server, "isro").await, "rw");

        let srvr = word(&server, "srvr").await;
        assert!(srvr.starts_with("Zookeeper version: "), "{srvr}");
        for prefix in [
            "Latency min/avg/max: ",
            "Received: ",
            "Sent: ",
            "Connections: ",
            "Outstanding: ",
        ] {
            assert!(
                srvr.lines().any(|l| l.starts_with(prefix)),
                "no {prefix:?} in srvr:\n{srvr}"
            );
        }
        let zxid = srvr
            .lines()
            .find_map(|l| l.strip_prefix("Zxid: 0x"))
            .unwrap_or_else(|| panic!("no Zxid line:\n{srvr}"));
        assert!(i64::from_str_radix(zxid, 16).is_ok(), "Zxid {zxid:?}");
        assert!(srvr.lines().any(|l| l == "Mode: standalone"), "{srvr}");
        // Apache counts the root twice: a fresh server has 5.
        assert!(srvr.lines().any(|l| l == "Node count: 5"), "{srvr}");

        let stat = word(&server, "stat").await;
        assert!(
            stat.contains("Clients:") && stat.contains("Mode: standalone"),
            "{stat}"
        );

        let mntr = word(&server, "mntr").await;
        for line in mntr.lines() {
            let (k, v) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("mntr line without a tab: {line:?}"));
            assert!(
                k.starts_with("zk_") && !v.is_empty() && !v.contains('\t'),
                "{line:?}"
            );
        }
        assert_eq!(value(&mntr, "zk_server_state"), "standalone");
        assert_eq!(value(&mntr, "zk_znode_count"), "5");
        assert_eq!(value(&mntr, "zk_watch_count"), "0");
        assert_eq!(value(&mntr, "zk_ephemerals_count"), "0");
        assert_eq!(value(&mntr, "zk_approximate_data_size"), "44");

        let conf = word(&server, "conf").await;
        assert!(
            conf.lines()
                .any(|l| l == format!("clientPort={}", server.addr().port())),
            "{conf}"
        );
        assert!(conf.lines().any(|l| l.starts_with("dataDir=")), "{conf}");
        assert!(word(&server, "envi").await.starts_with("Environment:\n"));
        assert!(word(&server, "dump")
            .await
            .starts_with("SessionTracker dump:\n"));
        assert!(word(&server, "cons").await.contains("connections"));
        assert_eq!(word(&server, "srst").await, "Server stats reset.\n");
        assert_eq!(word(&server, "crst").await, "Connection stats reset.\n");
        let dirs = word(&server, "dirs").await;
        assert!(
            dirs.starts_with("datadir_size: ") && dirs.contains("\nlogdir_size: "),
            "{dirs}"
        );
    })
    .await;
}

#[tokio::test]
async fn words_outside_the_whitelist_are_refused_like_apache() {
    bounded(async {
        let server = TestingServer::start_with(|c| c.four_letter_whitelist = vec!["ruok".into()])
            .await
            .expect("start");
        assert_eq!(word(&server, "ruok").await, "imok");
        for cmd in ["mntr", "stat", "conf", "wchs", "dump", "envi"] {
            assert_eq!(
                word(&server, cmd).await,
                format!("{cmd} is not executed because it is not in the whitelist.\n")
            );
        }
        // srvr is always allowed, as in Apache.
        assert!(word(&server, "srvr").await.contains("Mode: standalone"));
        // The server keeps serving clients.
        let c = Client::connect(&server.connect_string())
            .await
            .expect("connect");
        c.create("/ok", b"", &CreateOptions::new(CreateMode::Persistent))
            .await
            .expect("create");
        c.close().await;
    })
    .await;
}

async fn eventually(server: &TestingServer, what: &str, check: impl Fn(&str, &str) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (wchs, mntr) = (word(server, "wchs").await, word(server, "mntr").await);
        if check(&wchs, &mntr) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: wchs:\n{wchs}\nmntr:\n{mntr}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn wchs_and_mntr_count_watches() {
    bounded(async {
        let server = TestingServer::start().await.expect("start");
        let a = Client::connect(&server.connect_string())
            .await
            .expect("connect a");
        let b = Client::connect(&server.connect_string())
            .await
            .expect("connect b");
        a.create("/w1", b"", &CreateOptions::new(CreateMode::Persistent))
            .await
            .expect("create");
        let _wa1 = a.get_data_w("/w1").await.expect("a get_data_w /w1");
        let _wa2 = a.exists_w("/w2").await.expect("a exists_w /w2");
        let _wac = a.get_children_w("/w1").await.expect("a get_children_w /w1");
        let _wb1 = b.get_data_w("/w1").await.expect("b get_data_w /w1");
        // wchs reports the data watches (Apache); mntr's zk_watch_count data + child.
        eventually(&server, "after setting watches", |wchs, mntr| {
            wchs == "2 connections watching 2 paths\nTotal watches:3\n"
                && value(mntr, "zk_watch_count") == "4"
        })
        .await;
        // The dumps name sessions (Long.toHexString) and paths, data watches only.
        let (sa, sb) = (a.session_id(), b.session_id());
        assert_eq!(
            word(&server, "wchc").await,
            format!("0x{sa:x}\n\t/w1\n\t/w2\n0x{sb:x}\n\t/w1\n\n")
        );
        assert_eq!(
            word(&server, "wchp").await,
            format!("/w1\n\t0x{sa:x}\n\t0x{sb:x}\n/w2\n\t0x{sa:x}\n\n")
        );
        // Changing /w1 fires its two data watches (not the child watch). As in Apache, a
        // connection stays counted in wchs until it closes, even with no watch left.
        a.set_data("/w1", b"x", None).await.expect("set");
        eventually(&server, "after firing /w1's data watches", |wchs, mntr| {
            wchs == "2 connections watching 1 paths\nTotal watches:1\n"
                && value(mntr, "zk_watch_count") == "2"
        })
        .await;
        // A closed session's watches go away.
        a.close().await;
        eventually(&server, "after closing a", |wchs, mntr| {
            wchs == "1 connections watching 0 paths\nTotal watches:0\n"
                && value(mntr, "zk_watch_count") == "0"
        })
        .await;
        b.close().await;
    })
    .await;
}

async fn http_get(port: u16, path: &str) -> String {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to the metrics port");
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("metrics scrape timed out")
}

#[tokio::test]
async fn prometheus_metrics_are_served() {
    bounded(async {
        let port = free_port().expect("port");
        let server = TestingServer::start_with(|c| {
            c.metrics_port = Some(port);
            c.metrics_host = Some(std::net::IpAddr::from([127, 0, 0, 1]));
        })
        .await
        .expect("start");
        let fresh = http_get(port, "/metrics").await;
        assert!(fresh.starts_with("HTTP/1.1 200 OK\r\n"), "{fresh}");
        let gauge = |body: &str, name: &str| -> f64 {
            body.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
                .unwrap_or_else(|| panic!("no {name} in:\n{body}"))
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        assert_eq!(gauge(&fresh, "znode_count"), 5.0);
        assert_eq!(gauge(&fresh, "watch_count"), 0.0);
        for name in [
            "ephemerals_count",
            "approximate_data_size",
            "global_sessions",
            "num_alive_connections",
        ] {
            gauge(&fresh, name);
        }
        let c = Client::connect(&server.connect_string())
            .await
            .expect("connect");
        c.create("/m", b"", &CreateOptions::new(CreateMode::Ephemeral))
            .await
            .expect("create");
        let _w = c.get_data_w("/m").await.expect("watch");
        let after = http_get(port, "/metrics").await;
        assert_eq!(gauge(&after, "znode_count"), 6.0);
        assert_eq!(gauge(&after, "ephemerals_count"), 1.0);
        assert_eq!(gauge(&after, "watch_count"), 1.0);
        assert_eq!(gauge(&after, "global_sessions"), 1.0);
        assert!(http_get(port, "/nope").await.starts_with("HTTP/1.1 404"));
        c.close().await;
    })
    .await;
}

#[tokio::test]
async fn data_written_before_kill_survives_restart() {
    bounded(async {
        let mut server = TestingServer::start().await.expect("start");
        let c = Client::connect(&server.connect_string())
            .await
            .expect("connect");
        for i in 0..20 {
            c.create(
                &format!("/k{i}"),
                format!("v{i}").as_bytes(),
                &CreateOptions::new(CreateMode::Persistent),
            )
            .await
            .expect("create");
        }
        c.set_data("/k0", b"changed", None).await.expect("set");
        server.kill().await;
        assert!(server.handle().is_none());
        // Killed: nothing answers on the port.
        assert!(
            four_letter_word(server.addr(), "ruok", Duration::from_secs(2))
                .await
                .map_or(true, |s| s != "imok"),
            "the server still answers after kill"
        );
        drop(c);
        server.restart().await.expect("restart");
        let c = Client::connect(&server.connect_string())
            .await
            .expect("connect");
        let (data, stat) = c.get_data("/k0").await.expect("get");
        assert_eq!((&data[..], stat.version), (&b"changed"[..], 1));
        for i in 1..20 {
            let (data, _) = c.get_data(&format!("/k{i}")).await.expect("get");
            assert_eq!(data, format!("v{i}").as_bytes());
        }
        c.close().await;
    })
    .await;
}
