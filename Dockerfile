# preflight in a container: a static (musl) binary on a small base with a shell (GitLab CI runs
# its scripts through one), as a non-root user.
#   docker build -t preflight .
#   docker run --rm -v "$PWD:/work" preflight run --format text
FROM rust:1.95-alpine3.21 AS build
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
# The image runs on other machines' CPUs: the built-ins' machine code for the baseline CPU.
ENV PREFLIGHT_PRECOMPILE_CPU=baseline
RUN cargo build --locked --profile dist -p preflight \
    && ./target/dist/preflight --version \
    && ./target/dist/preflight run --root examples/seed --facts examples/seed/facts.json --format text

FROM alpine:3.21
RUN adduser -D -H -u 10001 preflight
COPY --from=build /src/target/dist/preflight /usr/local/bin/preflight
USER 10001
ENV PREFLIGHT_HOME=/tmp/preflight
WORKDIR /work
ENTRYPOINT ["preflight"]
CMD ["--help"]
