//! The HTTP floor for scripts/bench-http: a plain axum server that parses a
//! JSON body and answers it back, on the same Tokio and axum as Mercato and
//! nothing else (no auth, no routing table, no wasm). It serves until
//! killed, on the address in MERCATO_ECHO_LISTEN; without it (as part of a
//! plain `cargo bench`) it does nothing.

use axum::Json;
use axum::routing::post;
use serde_json::Value;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(listen) = std::env::var("MERCATO_ECHO_LISTEN") else {
        println!("echo: no address (MERCATO_ECHO_LISTEN unset); run scripts/bench-http");
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = axum::Router::new().route(
            "/{*path}",
            post(|Json(body): Json<Value>| async { Json(body) }),
        );
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        axum::serve(listener, app).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
