//! The HTTP/1.1 server's own limits (issue 13), seen by a raw TCP client: a request head over
//! `MAX_REQUEST_HEADER_BYTES` (16 KiB) gets 431, and a connection that does not finish its
//! head within `HEADER_READ_TIMEOUT_SECONDS` (slowloris), or sends nothing at all, is closed.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Far above any timeout under test: only a server that never closes reaches it.
const UPPER_BOUND: Duration = Duration::from_secs(20);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes the connection (or `None` if it never does
/// within [`UPPER_BOUND`]).
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(UPPER_BOUND, stream.read_to_end(&mut out)).await {
        Ok(Ok(_)) => Some(String::from_utf8_lossy(&out).into_owned()),
        // A reset after the answer is also a close.
        Ok(Err(_)) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

fn request_with_header_of(bytes: usize) -> String {
    format!(
        "GET /api/v1/health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(bytes)
    )
}

#[tokio::test]
async fn security_a_request_head_over_16_kib_gets_431_and_a_smaller_one_is_served() {
    let app = spawn_app().await;

    let mut s = connect(&app).await;
    s.write_all(request_with_header_of(12 * 1024).as_bytes())
        .await
        .unwrap();
    let answer = read_until_closed(&mut s).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.200}");

    let mut s = connect(&app).await;
    // A write may fail once the server has answered and closed: the answer is what counts.
    let _ = s
        .write_all(request_with_header_of(20 * 1024).as_bytes())
        .await;
    let answer = read_until_closed(&mut s).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");

    // The same head arriving in several writes is measured as a whole.
    let mut s = connect(&app).await;
    let head = request_with_header_of(20 * 1024);
    for chunk in head.as_bytes().chunks(4 * 1024) {
        if s.write_all(chunk).await.is_err() {
            break;
        }
        s.flush().await.unwrap_or_default();
    }
    let answer = read_until_closed(&mut s).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:.200}");
}

#[tokio::test]
async fn security_a_partial_or_idle_connection_is_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(&[("HEADER_READ_TIMEOUT_SECONDS", "1")]).await;

    // Slowloris: half a request line, then nothing.
    let mut s = connect(&app).await;
    let started = Instant::now();
    s.write_all(b"GET /api/v1/hea").await.unwrap();
    let answer = read_until_closed(&mut s).await;
    let took = started.elapsed();
    let answer = answer.expect("a partial request was never closed");
    assert!(!answer.contains("200 OK"), "{answer}");
    assert!(
        took >= Duration::from_millis(900),
        "closed before the timeout: {took:?}"
    );

    // A connection that never sends a byte.
    let mut s = connect(&app).await;
    assert!(
        read_until_closed(&mut s).await.is_some(),
        "an idle connection was never closed"
    );

    // Whole requests are still served, keep-alive included.
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let r = app
            .call("GET", "/health/live")
            .client(&client)
            .response()
            .await;
        assert_eq!(r.status(), 200);
    }
}
