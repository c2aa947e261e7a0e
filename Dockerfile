# syntax=docker/dockerfile:1
#
# wsdoctor as a container image: `wsdoctor proxy`, configured from WSDOCTOR_* variables.
#
#   docker build -t wsdoctor .
#   docker run --rm -p 8080:8080 -p 9090:9090 -e WSDOCTOR_UPSTREAM=ws://app:9000 wsdoctor
#
# With no arguments the image runs `wsdoctor proxy`, which reads WSDOCTOR_LISTEN,
# WSDOCTOR_UPSTREAM, WSDOCTOR_ADMIN, WSDOCTOR_FORMAT, WSDOCTOR_RULES, ... (one variable per
# proxy flag). Any arguments replace that: `docker run --rm -v "$PWD:/data" wsdoctor replay
# /data/capture.pcap`. Passive capture from another container's network needs NET_RAW and
# uid 0: `docker run --rm --network container:app --user 0 --cap-drop ALL --cap-add NET_RAW
# wsdoctor sniff -i eth0 --filter 'tcp port 8080'`. deploy/README.md shows both as
# Kubernetes sidecars.

# ---- build ---------------------------------------------------------------------------
# The official Swift image of the same Debian release as the runtime stage (bookworm), so
# the libpcap and zlib the binary links against are the ones the runtime installs.
FROM swift:6.3-bookworm AS build

# Versions are deliberately not pinned (DL3008): Debian replaces a package's version in
# bookworm and bookworm-security when it ships a fix and drops the old one from the
# mirrors, so a pinned version stops installing at the next point release or security
# update. Reproducibility comes from the release (bookworm) and the base image digest.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpcap-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The build folder lives in a BuildKit cache mount (fetched packages and objects survive
# between builds), so the binary is copied out of it in the same step. BoringSSL (through
# swift-nio-ssl) is compiled from source and linked statically; libpcap and zlib stay
# dynamic; --static-swift-stdlib links the Swift runtime and Foundation in, so the runtime
# stage needs no Swift toolchain. --strip-debug drops the DWARF (most of the size) and
# keeps the symbol table, so a crash's backtrace still names functions.
RUN --mount=type=cache,target=/src/.build \
    swift build -c release --product wsdoctor --static-swift-stdlib \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/wsdoctor" /out/wsdoctor \
    && strip --strip-debug /out/wsdoctor

# ---- runtime -------------------------------------------------------------------------
FROM debian:bookworm-slim

# Only what the binary loads at run time (libpcap for replay, sniff and --record, zlib for
# permessage-deflate) and the CA store for wss:// upstreams. Unpinned for the reason
# given in the build stage: security updates to these must install.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpcap0.8 zlib1g ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 wsdoctor \
    && useradd --system --uid 10001 --gid wsdoctor --create-home --home-dir /home/wsdoctor \
        --shell /usr/sbin/nologin wsdoctor

COPY --from=build /out/wsdoctor /usr/local/bin/wsdoctor

# A numeric user, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /home/wsdoctor

# Defaults for `wsdoctor proxy` with no flags; WSDOCTOR_UPSTREAM has no sensible default
# and must be given. The admin endpoint (/metrics, /healthz, /readyz) is on by default
# so the HEALTHCHECK below and Prometheus have something to ask.
ENV WSDOCTOR_LISTEN=0.0.0.0:8080 \
    WSDOCTOR_ADMIN=0.0.0.0:9090 \
    WSDOCTOR_FORMAT=json

EXPOSE 8080 9090

# No curl in bookworm-slim: bash's /dev/tcp sends `GET /healthz` to the admin port taken
# from WSDOCTOR_ADMIN (a wildcard address is asked on 127.0.0.1) and the status line must
# contain " 200 ". Only bash builtins, so nothing extra is installed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "trap '' PIPE; a=${WSDOCTOR_ADMIN:-127.0.0.1:9090}; p=${a##*:}; h=${a%:*}; h=${h#[}; h=${h%]}; case $h in ''|0.0.0.0|::) h=127.0.0.1 ;; esac; exec 3<>/dev/tcp/$h/$p || exit 1; printf 'GET /healthz HTTP/1.0\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n' \"$a\" >&3 || exit 1; IFS= read -r -t 4 line <&3 || exit 1; [[ $line == *' 200 '* ]]"]

STOPSIGNAL SIGTERM
ENTRYPOINT ["wsdoctor"]
CMD ["proxy"]
