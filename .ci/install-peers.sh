#!/usr/bin/env bash
# Debian packages for peer-tool comparisons. Idempotent; quiet unless it fails.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs="python3-astropy python3-numpy python3-sep python3-healpy libcfitsio-bin source-extractor psfex scamp wcslib-tools python3-reproject swarp"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  apt-get update -qq
  apt-get install -y -qq $missing >/dev/null
fi
