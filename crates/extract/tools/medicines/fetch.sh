#!/usr/bin/env bash
# Fetch the two inputs of generate.py into ./cache (git-ignored), pinned by version and SHA-256:
#   1. the PyPI wheel drug-named-entity-recognition 2.0.9 (MIT), which carries the drug names;
#   2. Debian's wamerican and wbritish 2020.12.07-2 (SCOWL licence), the English word lists
#      used as a filter (only read at generation time; nothing of them is committed).
# Needs pip and apt-get (run `apt-get update` once first on a fresh machine). Nothing else
# is downloaded; generate.py itself uses the Python 3.11 standard library only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/cache"
mkdir -p "$cache"
cd "$cache"

wheel=drug_named_entity_recognition-2.0.9-py3-none-any.whl
wheel_sha=dc0c9cb4487b4cd31c123f941cd9d5edfc55facdb280ab65e7b2cd08d3fd391c
debs="wamerican wbritish"
wamerican_sha=c8f8e2b2ad0d37bfdd41f0e40f1e4c8e5f907467d768a1d3698b164e9617f0b4
wbritish_sha=f80571f14aa987ef0d727e2077d4f2abd84adf92492af494e7de04882c53be3f

if [ ! -f "$wheel" ]; then
    pip download --no-deps --only-binary=:all: -d . "drug-named-entity-recognition==2.0.9"
fi
echo "$wheel_sha  $wheel" | sha256sum -c -
for name in $debs; do
    deb="${name}_2020.12.07-2_all.deb"
    sha_var="${name}_sha"
    if [ ! -f "$deb" ]; then
        apt-get download "$name=2020.12.07-2"
    fi
    echo "${!sha_var}  $deb" | sha256sum -c -
    rm -rf "$name"
    dpkg -x "$deb" "$name"
done
ls -l "$cache/$wheel" "$cache"/w*/usr/share/dict/*-english
