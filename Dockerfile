# The costlake job image (server mode: a ClickHouse server as warehouse, so no embedded engine inside).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Stripped: the release profile keeps line tables for local profiling (187 MB); the image needs none (28 MB).
RUN cargo build --release --locked --bin costlake && strip target/release/costlake

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/costlake /usr/local/bin/costlake
USER 65534:65534
# Anything relative (a demo's --dir, the default config path) lands somewhere writable for that user.
WORKDIR /tmp
ENV HOME=/tmp
ENTRYPOINT ["costlake"]
CMD ["run"]
