#!/bin/sh
# Packages the same function (app.py, unchanged) as a container image, the way AWS documents an
# image on a base that is not AWS's: a Python 3 interpreter, the runtime interface client
# (awslambdaric) and the function's libraries (OpenCV, NumPy, and boto3, which only AWS's own
# base images bring), app.py in /var/task, WORKDIR /var/task,
#   ENTRYPOINT ["/usr/bin/python3.11", "-m", "awslambdaric"]   CMD ["app.lambda_handler"]
# Writes build/image.tar, an OCI image layout tarball named remove-background:latest, for
#   lambdalet deploy --image build/image.tar --name remove-background-image
#
# Without Docker, from the package registries only:
# - The base is Debian 12 (bookworm)'s own python3.11 and the libraries it and the wheels need
#   (libc6, libstdc++6, zlib1g, libssl3, ...): the Depends/Pre-Depends closure computed by
#   apt_closure.py from `apt-cache depends --recurse`, fetched with `apt-get download` and
#   unpacked with `dpkg-deb -x` (no maintainer scripts, no chroot, no root install), less the
#   packaging tools that only maintainer scripts use (dpkg, perl, debconf, install-info, tar).
#   Chosen because it is the distribution's supported, security-patched interpreter from a
#   registry every machine of ours reaches, and small: 33 packages, 14 MB of .debs, 53 MB
#   unpacked with the stdlib's bytecode. The other ways fail a requirement: PyPI has no
#   CPython to install into a root (only wheels for an existing one), and copying the host's
#   interpreter (pyenv here, Debian's elsewhere) makes the image depend on how the host was set
#   up and drags in its libraries by hand.
# - The Python libraries are wheels from PyPI pinned with hashes (image-requirements.txt),
#   installed with `pip install --target` for CPython 3.11 on manylinux x86-64 with glibc 2.36
#   (bookworm's): --platform/--python-version choose the wheels, not the Python running pip.
#   They go to /usr/local/lib/python3.11/dist-packages, on Debian's sys.path (AWS's example
#   puts them in the function directory instead; either is found).
# - Trimmed of what a function never loads: docs, man pages, lintian/bug files, glibc's iconv
#   modules (gconv, 8 MB), test suites, type stubs, C headers and Cython sources, console
#   scripts (their #! names the build host's Python) and their RECORD lines.
# - Bytecode (.pyc) is kept, not trimmed: compiled by the image's own interpreter (under
#   chroot, as root) with --invalidation-mode unchecked-hash, so it is reproducible (no
#   timestamps; the layer's files are all dated 0). The image's root is read-only, so Python
#   cannot write a cache at run time: importing awslambdaric, cv2, numpy and boto3 and making
#   the S3 client takes 0.35 s with it and 1.1 s without, on every cold start, for 26 MB.
# - Files are world-readable and directories world-searchable (oci_layout.py normalizes
#   modes, owners 0:0), as Lambda runs an image as a uid that is not in its /etc/passwd.
# - Two layers, as a Dockerfile with `COPY app.py` last makes: the base (320 MB unpacked, 119
#   MB gzip; OpenCV is 172 MB of it) and app.py in /var/task. oci_layout.py keeps compressed
#   layers by content in build/image-cache/, so an unchanged base is not compressed again.
# The same inputs give the same image id (checked: this machine and a fresh debootstrapped
# Debian 12 with its own pip 23.0.1 built byte-identical images).
#
# Caching: a rerun with unchanged inputs (this script, its helpers, image-requirements.txt,
# app.py) does nothing; when only app.py changed it rewrites the tarball around the cached base
# (4 s). Debian's versions are bookworm's current ones when the base is built (security
# updates flow in; build/image-packages.txt lists what went in); to take newer ones:
#   rm -rf build/image*
# Needs root (chroot for the bytecode) on Debian 12 with apt; installs python3 and python3-pip
# if missing. From scratch it takes 35 s here (17 s with pip's cache warm; on a fresh Debian 12,
# 9 s more to install python3-pip), mostly downloads and gzip.
set -eu
cd "$(dirname "$0")"
started=$(date +%s)
say() { printf '[build-image %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

NAME=remove-background:latest
PY=python3.11
SITE=usr/local/lib/$PY/dist-packages
# Debian packages: the interpreter (its -minimal, stdlib and their libraries follow) and what
# the wheels' compiled modules link against but do not bundle (libstdc++, libgcc_s, zlib;
# numpy and OpenCV bundle their own OpenBLAS/gfortran/... in *.libs), CA certificates.
DEB_ROOTS="$PY libstdc++6 libgcc-s1 zlib1g ca-certificates"
DEB_EXCLUDE="dpkg install-info tar perl perl-base perl-modules-5.36 libperl5.36 mailcap mime-support debconf cdebconf openssl"
ROOT=build/image-root
APP=build/image-app
CACHE=build/image-cache
OUT=build/image.tar

inputs_hash() { cat build-image.sh apt_closure.py oci_layout.py image-requirements.txt "$@" | sha256sum | cut -c1-64; }
base_key=$(inputs_hash)
image_key=$(inputs_hash app.py)
if [ -f "$OUT" ] && [ "$(cat build/image.key 2>/dev/null)" = "$image_key" ]; then
  say "$OUT is up to date ($(( ($(stat -c %s "$OUT") + 500000) / 1000000 )) MB); rm -rf build/image* to rebuild"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "build-image.sh: run as root (the image's bytecode is compiled under chroot)" >&2
  exit 1
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  say "installing python3 and python3-pip (the host's pip installs the wheels)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-pip >/dev/null
fi
if ! apt-cache show "$PY-minimal" >/dev/null 2>&1; then
  say "apt-get update (no package lists yet)"
  apt-get update -qq
fi
mkdir -p build "$CACHE"

if [ -d "$ROOT" ] && [ "$(cat build/image-root.key 2>/dev/null)" = "$base_key" ]; then
  say "base root $ROOT is up to date"
else
  rm -rf "$ROOT" build/image-root.key "$CACHE/debs"
  mkdir -p "$ROOT" "$CACHE/debs"

  # shellcheck disable=SC2086
  debs=$(python3 apt_closure.py --exclude "$DEB_EXCLUDE" $DEB_ROOTS)
  say "downloading $(echo "$debs" | wc -l) Debian packages: $(echo $debs)"
  # shellcheck disable=SC2086
  (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root $debs >/dev/null)
  say "downloaded $(du -sh "$CACHE/debs" | cut -f1) of .debs"
  : > build/image-packages.txt
  for deb in "$CACHE"/debs/*.deb; do
    dpkg-deb -x "$deb" "$ROOT"
    dpkg-deb --show --showformat='deb ${Package}=${Version}\n' "$deb" >> build/image-packages.txt
  done
  say "unpacked Debian packages: $(du -sh "$ROOT" | cut -f1)"

  # Wheels for CPython 3.11 on x86-64 with glibc <= 2.36 (bookworm's), whatever runs pip here.
  wheel_tags="--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311"
  for g in $(seq 36 -1 17); do wheel_tags="$wheel_tags --platform manylinux_2_${g}_x86_64"; done
  pip_q="--quiet --disable-pip-version-check"
  say "downloading the wheels in image-requirements.txt (pinned, hashes checked)"
  rm -rf "$CACHE/wheels"
  # shellcheck disable=SC2086
  python3 -m pip download $pip_q $wheel_tags --no-deps --require-hashes \
    -d "$CACHE/wheels" -r image-requirements.txt
  for whl in "$CACHE"/wheels/*.whl; do
    say "  $(basename "$whl") $(du -h "$whl" | cut -f1)"
  done
  # shellcheck disable=SC2086
  python3 -m pip install $pip_q --no-warn-conflicts --root-user-action=ignore $wheel_tags \
    --no-deps --require-hashes --no-compile --no-index --find-links "$CACHE/wheels" \
    --target "$ROOT/$SITE" -r image-requirements.txt
  rm -rf "$CACHE/wheels"
  python3 -m pip list --path "$ROOT/$SITE" --format freeze 2>/dev/null | sed 's/^/pypi /' >> build/image-packages.txt
  say "installed the wheels: $(du -sh "$ROOT/$SITE" | cut -f1) in /$SITE"

  # What a function never loads.
  before=$(du -sm "$ROOT" | cut -f1)
  rm -rf "$ROOT"/usr/share/doc "$ROOT"/usr/share/man "$ROOT"/usr/share/info \
    "$ROOT"/usr/share/lintian "$ROOT"/usr/share/bug "$ROOT"/usr/share/gdb \
    "$ROOT"/usr/share/applications "$ROOT"/usr/share/pixmaps "$ROOT"/usr/share/binfmts \
    "$ROOT"/usr/share/locale "$ROOT"/usr/lib/x86_64-linux-gnu/gconv \
    "$ROOT/$SITE/bin" "$ROOT/$SITE"/numpy/_core/include
  find "$ROOT" \( -name tests -o -name test -o -name __pycache__ \) -type d -prune -exec rm -rf {} +
  find "$ROOT" -type f \( -name '*.pyi' -o -name '*.pxd' -o -name '*.pyx' \) -delete
  # The console scripts' lines in RECORD hash a #! that names the build host's Python.
  find "$ROOT/$SITE" -path '*.dist-info/RECORD' -exec sed -i '\#^\.\./\.\./bin/#d' {} +
  say "trimmed docs, man pages, gconv, tests, stubs, headers, caches: ${before} -> $(du -sm "$ROOT" | cut -f1) MB"

  # What a Debian root has that the packages' maintainer scripts or the installer would make.
  mkdir -p "$ROOT"/dev "$ROOT"/proc "$ROOT"/sys "$ROOT"/run "$ROOT"/tmp "$ROOT"/var/task \
    "$ROOT"/etc/ssl/certs "$ROOT"/usr/lib/ssl "$ROOT"/usr/local/bin
  chmod 1777 "$ROOT"/tmp
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' > "$ROOT"/etc/passwd
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$ROOT"/etc/group
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$ROOT"/etc/nsswitch.conf
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT"/etc/hosts
  # update-ca-certificates' bundle, and the links that package openssl makes for libssl.
  find "$ROOT"/usr/share/ca-certificates -name '*.crt' | LC_ALL=C sort | xargs cat > "$ROOT"/etc/ssl/certs/ca-certificates.crt
  ln -sfn /etc/ssl/certs "$ROOT"/usr/lib/ssl/certs
  ln -sfn /etc/ssl/certs/ca-certificates.crt "$ROOT"/usr/lib/ssl/cert.pem
  ln -sfn $PY "$ROOT"/usr/bin/python3
  ln -sfn /usr/bin/$PY "$ROOT"/usr/local/bin/python3

  say "compiling bytecode with the image's $PY (unchecked-hash)"
  # -f and no bytecode of its own: the modules compileall itself imports would otherwise keep
  # the timestamp-checked .pyc that importing them wrote (and the layer's times are all 0).
  env -i PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8 "$(command -v chroot)" "$ROOT" \
    /usr/bin/$PY -m compileall -q -f --invalidation-mode unchecked-hash /usr/lib/$PY "/$SITE" >/dev/null
  chmod -R a+rX "$ROOT"
  echo "$base_key" > build/image-root.key
  say "base root ready: $(du -sh "$ROOT" | cut -f1)"
fi

rm -rf "$APP"
mkdir -p "$APP"/var/task
cp app.py "$APP"/var/task/app.py

say "writing $OUT (layers: base, app.py)"
python3 oci_layout.py "$OUT" --name "$NAME" --layer "$ROOT" --layer "$APP" --cache "$CACHE/layers" \
  --entrypoint "[\"/usr/bin/$PY\", \"-m\", \"awslambdaric\"]" --cmd '["app.lambda_handler"]' \
  --workdir /var/task --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 > build/image.json
# Layers no image refers to any more.
python3 - "$CACHE/layers" build/image.json <<'EOF'
import json, os, sys
keep = {l["diff_id"].split(":")[1] for l in json.load(open(sys.argv[2]))["layers"]}
for f in os.listdir(sys.argv[1]):
    if f.split(".")[0] not in keep:
        os.remove(os.path.join(sys.argv[1], f))
EOF
echo "$image_key" > build/image.key
say "wrote $(python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print("%s: %.0f MB, %s, id %s, %.0f MB unpacked" % (sys.argv[2], j["size"] / 1e6, j["name"], j["id"][:19], sum(l["unpacked"] for l in j["layers"]) / 1e6))' build/image.json "$OUT")"
