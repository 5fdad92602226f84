//! What several command tests need: a free loopback port and the legacy vector key pair.

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The RS256 key pair of the legacy vectors (private PEM, public PEM).
pub fn vector_keys() -> (String, String) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/legacy-vectors.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        v["jwt"]["private_key_pem"].as_str().unwrap().to_owned(),
        v["jwt"]["public_key_pem"].as_str().unwrap().to_owned(),
    )
}
