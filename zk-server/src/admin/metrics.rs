//! The Prometheus `/metrics` endpoint (`metricsProvider.httpPort`), with a recorder per server
//! (several servers can share a process in tests, so nothing is installed globally).

use std::net::SocketAddr;
use std::sync::Arc;

use metrics::{gauge, with_local_recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::server::Shared;

/// Serves `GET /metrics` on `listener` until `stop`.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    let recorder = Arc::new(PrometheusBuilder::new().build_recorder());
    info!(addr = ?listener.local_addr().ok(), "serving Prometheus metrics");
    loop {
        let (mut stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %e, "metrics accept failed");
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let (shared, recorder) = (shared.clone(), recorder.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let n = match tokio::time::timeout(
                std::time::Duration::from_secs(5),
                stream.read(&mut buf),
            )
            .await
            {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&buf[..n]);
            let response = if request.starts_with("GET /metrics") || request.starts_with("GET / ") {
                let body = render(&shared, &recorder);
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                let _ = peer;
                "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// Current values of the server's gauges in Prometheus text format.
pub fn render(shared: &Shared, recorder: &PrometheusRecorder) -> String {
    let tree = shared.state.read();
    let (paths, watches) = {
        let w = shared.state.watches();
        (w.counts().1, w.watch_count())
    };
    let values = [
        ("znode_count", tree.znode_count() as f64),
        ("ephemerals_count", tree.ephemeral_count() as f64),
        ("approximate_data_size", tree.approximate_data_size() as f64),
        ("global_sessions", tree.session_count() as f64),
        ("watch_count", watches as f64),
        ("watched_paths", paths as f64),
        ("num_alive_connections", shared.state.conn_count() as f64),
        ("packets_received", shared.stats.received() as f64),
        ("packets_sent", shared.stats.sent() as f64),
        ("last_zxid", shared.state.last_zxid() as f64),
        (
            "is_leader",
            if shared.consensus.is_leader() {
                1.0
            } else {
                0.0
            },
        ),
    ];
    drop(tree);
    with_local_recorder(recorder, || {
        for (name, v) in values {
            gauge!(name).set(v);
        }
    });
    recorder.handle().render()
}

/// Binds the metrics port if configured.
///
/// # Errors
/// When the port cannot be bound.
pub async fn bind(shared: &Shared) -> std::io::Result<Option<TcpListener>> {
    match shared.config.metrics_port {
        None => Ok(None),
        Some(port) => {
            let host = shared
                .config
                .metrics_host
                .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
            TcpListener::bind(SocketAddr::new(host, port))
                .await
                .map(Some)
        }
    }
}
