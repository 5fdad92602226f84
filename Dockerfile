# syntax=docker/dockerfile:1
#
# One image for the Cloud Run service (`sole serve`) and both jobs (`sole migrate`, `sole seed`).
# Migrations are embedded in the binary, so the runtime stage holds the binary and nothing else.

FROM rust:1.94-bookworm AS builder
WORKDIR /src

# 1. Dependencies only: this layer is rebuilt when Cargo.toml or Cargo.lock change, not on every
#    source edit, so a release recompiles sole's own crate and nothing else. Stub targets stand
#    in for src/ (build.rs runs for real: it only tracks migrations/). sole's own fingerprints
#    are removed afterwards, so the real sources are always compiled whatever their mtimes.
COPY Cargo.toml Cargo.lock build.rs ./
RUN mkdir -p src migrations \
    && echo 'fn main() {}' > src/main.rs \
    && : > src/lib.rs \
    && cargo build --release --locked --bin sole \
    && rm -rf src target/release/.fingerprint/sole-* target/release/deps/sole-* \
        target/release/deps/libsole-* target/release/sole*

# 2. The crate itself. .dockerignore keeps target/, tests, secrets and .env files out of the
#    context.
COPY . .
RUN cargo build --release --locked --bin sole \
    && install -D -m 0755 target/release/sole /out/sole

# Distroless: glibc, CA certificates, tzdata, a nonroot user (65532), no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/sole /usr/local/bin/sole
USER nonroot:nonroot
ENV PORT=8080 \
    HOST=0.0.0.0 \
    LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["sole", "healthcheck"]
ENTRYPOINT ["sole"]
CMD ["serve"]
