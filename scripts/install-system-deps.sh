#!/usr/bin/env bash
# System packages the tests and demo need: graphviz (plot_model), prometheus
# (promtool and a real Prometheus server for the scrape test), wrk (the REST load
# generator of `make bench` and its smoke test), nghttp2-client (h2load: its gRPC load
# generator, and its smoke test), chromium and chromium-driver (the
# headless browser of tests/browser/, driven by selenium through /usr/bin/chromedriver),
# wordnet-base (WordNet 3.0's database files in /usr/share/wordnet: the similarity
# model's default training data, training/data/wordnet_pairs.py). kubectl is expected
# on PATH for the Kubernetes tests (it ships on these machines).
set -euo pipefail
need=()
command -v dot >/dev/null || need+=(graphviz)
command -v promtool >/dev/null || need+=(prometheus)
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
[ -f /usr/share/wordnet/data.noun ] || need+=(wordnet-base)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: ${need[*]} — install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts the packaged prometheus service; the tests start their own on loopback.
(command -v systemctl >/dev/null && systemctl stop prometheus 2>/dev/null) || true
pkill -x prometheus 2>/dev/null || true
