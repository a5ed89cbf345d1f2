#!/usr/bin/env bash
# What each candidate crate for the chat channels' wire protocols adds to a cold dev build
# (issue 17): a baseline crate with the workspace's own HTTP stack (reqwest on rustls/ring,
# tokio, serde, backon) is built once; each candidate is then added to a copy of it, and the
# CPU time of building the difference is measured. One job at a time, as on a 2-core CI.
#
#   bench/channel-crates.sh [WORKDIR]      (default /tmp/channel-crates; takes ~20 min)
set -euo pipefail
work="${1:-/tmp/channel-crates}"
rm -rf "$work" && mkdir -p "$work/base/src"
cd "$work"
cat >base/Cargo.toml <<'EOF'
[package]
name = "probe"
version = "0.1.0"
edition = "2024"

[dependencies]
reqwest = { version = "0.13.5", default-features = false, features = ["json", "stream", "http2", "rustls-no-provider"] }
rustls = { version = "0.23", default-features = false, features = ["ring", "std", "tls12"] }
tokio = { version = "1.54", features = ["rt-multi-thread", "macros", "net", "signal", "sync", "time", "fs", "io-util", "io-std", "process"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
futures-util = { version = "0.3", default-features = false, features = ["std"] }
backon = { version = "1.6", default-features = false, features = ["std", "tokio-sleep"] }

[profile.dev]
debug = "line-tables-only"

[profile.dev.package."*"]
debug = false
EOF
echo 'fn main() { let _ = reqwest::Client::new(); }' >base/src/main.rs
(cd base && CARGO_TARGET_DIR="$work/t-base" cargo build -j1 --quiet)

variant() {
  local name=$1 deps=$2
  cp -a base "$name" && cp -a t-base "t-$name"
  python3 - "$name/Cargo.toml" "$deps" <<'PY'
import sys
path, deps = sys.argv[1], sys.argv[2]
text = open(path).read().replace("[dependencies]\n", "[dependencies]\n" + deps + "\n", 1)
open(path, "w").write(text)
PY
  /usr/bin/time -f "%U %S %e" -o "$name.time" \
    sh -c "cd $name && CARGO_TARGET_DIR=$work/t-$name cargo build -j1 2>$work/$name.log" \
    || { echo "$name: build failed (see $work/$name.log)"; return; }
  local crates
  crates=$(grep -c '^ *Compiling' "$name.log" || true)
  awk -v n="$name" -v c="$crates" '{printf "%-20s %4d crates  %6.1f s CPU  %6.1f s wall\n", n, c, $1 + $2, $3}' "$name.time"
}

variant tokio-tungstenite 'tokio-tungstenite = { version = "0.28", default-features = false, features = ["connect", "handshake", "__rustls-tls"] }'
variant teloxide-core 'teloxide-core = { version = "0.13", default-features = false, features = ["rustls"] }'
variant twilight 'twilight-gateway = { version = "0.18", default-features = false, features = ["rustls-webpki-roots", "twilight-http"] }
twilight-http = { version = "0.18", default-features = false, features = ["rustls-webpki-roots"] }
twilight-model = "0.18"'
variant serenity 'serenity = { version = "0.12.5", default-features = false, features = ["client", "gateway", "model", "http", "rustls_backend"] }'
