//! Serialize work across processes with a Curator-compatible lock.
//!
//! Run several at once against a server on 127.0.0.1:2181 (or pass a connect string); each
//! takes the lock in turn, "works" for a moment while printing its fencing token, and
//! releases. Curator's `InterProcessMutex` on the same path takes part in the same queue.
//!
//! ```sh
//! for i in 1 2 3; do cargo run -p zk-recipes --example lock & done; wait
//! ```

use std::time::Duration;

use zk_recipes::InterProcessMutex;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let connect = args.next().unwrap_or_else(|| "127.0.0.1:2181".to_string());
    let path = args.next().unwrap_or_else(|| "/examples/lock".to_string());
    let rounds: u32 = args.next().map_or(Ok(3), |s| s.parse())?;
    let me = std::process::id();

    let client = zk_core::Client::connect(&connect).await?;
    let mutex = InterProcessMutex::new(client.clone(), path.as_str());
    for round in 1..=rounds {
        let guard = mutex.acquire().await?;
        println!(
            "[{me}] round {round}: holding {path} (token {}, node {})",
            guard.fencing_token(),
            guard.node_path()
        );
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            state = guard.lost() => {
                eprintln!("[{me}] lock lost ({state:?}); stopping this round's work");
            }
        }
        guard.release().await?;
        println!("[{me}] round {round}: released");
    }
    client.close().await;
    Ok(())
}
