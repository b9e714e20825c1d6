//! A background worker that runs only while it leads, and hands over when killed.
//!
//! Run two or three at once against a server on 127.0.0.1:2181 (or pass a connect string).
//! One becomes the leader and does the periodic work, printing its fencing token with each
//! step; the others wait. Kill the leader (Ctrl-C, or `kill -9`: its session then expires
//! after the session timeout) and another one takes over with a larger token. Curator's
//! `LeaderLatch` on the same path takes part in the same election.
//!
//! ```sh
//! cargo run -p zk-recipes --example leader_worker -- 127.0.0.1:2181 /examples/worker worker-A
//! ```

use std::time::Duration;

use futures::StreamExt;
use zk_recipes::{CloseMode, LeaderLatch, LeadershipEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let connect = args.next().unwrap_or_else(|| "127.0.0.1:2181".to_string());
    let path = args
        .next()
        .unwrap_or_else(|| "/examples/worker".to_string());
    let id = args
        .next()
        .unwrap_or_else(|| format!("worker-{}", std::process::id()));

    let client = zk_core::Client::builder(&connect)
        .session_timeout(Duration::from_secs(6))
        .connect()
        .await?;
    let latch = LeaderLatch::new(client.clone(), path.as_str(), id.as_str());
    let mut events = latch.leadership_events();
    latch.start().await?;
    println!("[{id}] waiting for leadership of {path}");

    let mut step = 0u64;
    let mut token = None;
    loop {
        tokio::select! {
            ev = events.next() => match ev {
                Some(LeadershipEvent::Leader { token: t }) => {
                    println!("[{id}] I am the leader (fencing token {t})");
                    token = Some(t);
                }
                Some(LeadershipEvent::NotLeader) => {
                    if token.take().is_some() {
                        println!("[{id}] leadership lost; pausing work");
                    } else {
                        println!("[{id}] not the leader; waiting");
                    }
                }
                None => break,
            },
            // The work: only done while leading, always stamped with the token, so a store
            // that remembers the highest token seen can refuse a deposed leader's writes.
            _ = tokio::time::sleep(Duration::from_secs(1)), if token.is_some() => {
                step += 1;
                println!("[{id}] work step {step} under token {}", token.unwrap_or_default());
            }
            _ = tokio::signal::ctrl_c() => {
                println!("[{id}] stopping; handing over");
                break;
            }
        }
    }
    latch.close(CloseMode::NotifyLeader).await?;
    client.close().await;
    Ok(())
}
