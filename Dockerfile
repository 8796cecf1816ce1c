# Builds the loanwatch binary (SQLite and libpq are bundled; OpenSSL is vendored) and runs it.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p loanwatch-api --bin loanwatch

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/loanwatch loanwatch && mkdir -p /var/lib/loanwatch && chown loanwatch /var/lib/loanwatch
COPY --from=build /src/target/release/loanwatch /usr/local/bin/loanwatch
USER loanwatch
WORKDIR /var/lib/loanwatch
ENV DATA_DIR=/var/lib/loanwatch BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["loanwatch"]
CMD ["serve"]
