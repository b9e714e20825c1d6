//! Apache's own command-line client (`ZooKeeperMain`, what zkCli.sh runs) drives a scripted
//! session against zk-server; its output is checked line by line.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use zk_server::testing::TestingServer;

const SCRIPT: &str = "\
create /cli hello
create /cli/a 1
create -e /cli/eph e
create -s /cli/seq- s
ls /cli
get /cli
set /cli world
get -s /cli
stat /cli/a
create /cli hello
delete /cli/nope
setAcl /cli/a world:anyone:r
getAcl /cli/a
set /cli/a 2
addauth digest alice:secret
whoami
getEphemerals /cli
getAllChildrenNumber /cli
sync /cli
ls -R /cli
deleteall /cli
ls /
quit
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_zkcli_drives_zk_server() {
    let install = integration::require_apache!();
    let server = TestingServer::start().await.expect("start zk-server");
    // One file for stdout and stderr, so lines keep the order zkCli printed them in (it
    // writes results to stdout and errors and "Created" lines to stderr).
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out_path = out_dir.path().join("zkcli.out");
    let out = std::fs::File::create(&out_path).expect("output file");
    let mut cmd = install.java_command("org.apache.zookeeper.ZooKeeperMain");
    cmd.arg("-server")
        .arg(server.connect_string())
        .stdin(Stdio::piped())
        .stdout(out.try_clone().expect("clone output file"))
        .stderr(out);
    let status = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("start ZooKeeperMain");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(SCRIPT.as_bytes())
            .expect("write script");
        child.wait().expect("ZooKeeperMain exit")
    });
    let status = tokio::time::timeout(Duration::from_secs(60), status)
        .await
        .expect("zkCli finished within 60 s")
        .expect("join");
    let text = std::fs::read_to_string(&out_path).expect("read zkCli output");
    assert!(
        status.success() || status.code().is_some(),
        "zkCli crashed: {status:?}\n{text}"
    );
    let expect = [
        "Created /cli",
        "Created /cli/a",
        "Created /cli/eph",
        "Created /cli/seq-0000000002",
        "[a, eph, seq-0000000002]",
        "hello",
        "world",
        "dataVersion = 1",
        "numChildren = 3",
        "Node already exists: /cli",
        "Node does not exist: /cli/nope",
        "'world,'anyone",
        ": r",
        "Insufficient permission : /cli/a",
        "digest: alice",
        "[/cli/eph]",
        "3",
        "Sync is OK",
        "/cli/seq-0000000002",
        "[zookeeper]",
    ];
    let mut from = 0;
    for e in expect {
        match text[from..].find(e) {
            Some(i) => from += i + e.len(),
            None => panic!("zkCli output lacks {e:?} (in order) after byte {from}:\n{text}"),
        }
    }
    // whoami lists ids in no particular order (a set in Apache).
    assert!(
        text.contains("ip: 127.0.0.1"),
        "whoami lacks the ip id:\n{text}"
    );
    assert!(
        !text.contains("Exception"),
        "zkCli reported an exception:\n{text}"
    );
}
