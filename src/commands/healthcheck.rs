//! `sole healthcheck`: the container HEALTHCHECK, without curl or a shell in the image.
//!
//! One HTTP/1.1 GET with `Connection: close` over plain TCP; exit 0 on status 200, 1 otherwise
//! (connection refused, timeout, other status), with one line saying why.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use crate::cli::HealthcheckArgs;
use crate::commands::Reported;
use crate::config::describe_io;

/// `http://127.0.0.1:$PORT/api/v1/health/live`, PORT from the environment (default 8000, the
/// `sole serve` default; the image sets PORT=8080).
pub fn default_url() -> String {
    let port = std::env::var("PORT")
        .ok()
        .filter(|p| p.trim().parse::<u16>().is_ok())
        .unwrap_or_else(|| "8000".to_owned());
    format!("http://127.0.0.1:{}/api/v1/health/live", port.trim())
}

pub fn run(args: &HealthcheckArgs) -> anyhow::Result<()> {
    let url = args.url.clone().unwrap_or_else(default_url);
    let timeout = Duration::from_secs(args.timeout.max(1));
    match probe(&url, timeout) {
        Ok(200) => {
            println!("healthy: {url} answered 200");
            Ok(())
        }
        Ok(status) => Err(Reported::new(1, format!("unhealthy: {url} answered {status}")).into()),
        Err(reason) => Err(Reported::new(1, format!("unhealthy: {url}: {reason}")).into()),
    }
}

/// The status code of a GET to `url` (http only).
pub fn probe(url: &str, timeout: Duration) -> Result<u16, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    if parsed.scheme() != "http" {
        return Err("only http:// URLs are supported (the probe runs inside the container)".into());
    }
    let host = parsed.host_str().ok_or("URL has no host")?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addr = (host.trim_start_matches('[').trim_end_matches(']'), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {}", describe_io(&e)))?
        .next()
        .ok_or_else(|| format!("cannot resolve {host}"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
        format!(
            "cannot connect to {addr}: {} (is sole serving on that port?)",
            describe_io(&e)
        )
    })?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("cannot set timeouts: {}", describe_io(&e)))?;
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let host_header = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: sole-healthcheck\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send the request to {addr}: {}", describe_io(&e)))?;
    // The status line fits in the first bytes; read until it is complete.
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = stream.read(&mut buf).map_err(|e| {
            format!(
                "no answer from {addr} within {:.0}s: {}",
                timeout.as_secs_f64(),
                describe_io(&e)
            )
        })?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status_line(&head).ok_or_else(|| "the answer is not HTTP".to_owned())
}

fn parse_status_line(head: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(head).ok()?;
    let line = text.lines().next()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            parse_status_line(b"HTTP/1.1 503 Service Unavailable\r\nx"),
            Some(503)
        );
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
    }

    #[test]
    fn https_is_refused_with_a_reason() {
        let err = probe("https://127.0.0.1:1/x", Duration::from_secs(1)).unwrap_err();
        assert!(err.contains("only http://"), "{err}");
    }
}
