"""Writes an OCI image layout tarball from root directories, one layer each, without Docker.

    python3 oci_layout.py OUT.tar --layer ROOTDIR [--layer ROOTDIR ...] --name NAME:TAG
        [--entrypoint JSON] [--cmd JSON] [--workdir DIR] [--env K=V ...]
        [--compress gzip|none] [--cache DIR]

or `write_image(...)` from Python. The tarball holds `oci-layout`, `index.json` (the name as
`io.containerd.image.name` and the tag as `org.opencontainers.image.ref.name`, as containerd
and Docker >= 25 write them) and `blobs/sha256/` (each layer, the config, the manifest): the
layout `lambdalet image load` reads, as do OCI tools such as skopeo (`oci-archive:`).

The result is reproducible: entries are sorted, owned by 0:0 with no owner names, dated
SOURCE_DATE_EPOCH (default 0), and their modes normalized so that an arbitrary uid can use
the image (directories 0755, files 0644 or 0755 if any execute bit was set, sticky bit kept,
setuid/setgid dropped); gzip headers carry no name or time. The same trees give the same
image id. With --cache, a compressed layer is kept under its uncompressed digest (diff_id),
so an unchanged tree is only re-read and hashed, not compressed again.

Standard library only. Prints {"id", "layers", "size"} as JSON.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import stat
import sys
import tarfile
import tempfile
import time

CHUNK = 1 << 20


class _HashingWriter(io.RawIOBase):
    """A write-only stream that hashes (and optionally forwards) what it is given."""

    def __init__(self, sink=None):
        self.sha = hashlib.sha256()
        self.size = 0
        self.sink = sink

    def writable(self):
        return True

    def write(self, b):
        self.sha.update(b)
        self.size += len(b)
        if self.sink is not None:
            self.sink.write(b)
        return len(b)


def _normalize(info, epoch):
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = epoch
    if info.isdir():
        info.mode = 0o755 | (info.mode & stat.S_ISVTX)
    elif info.issym():
        info.mode = 0o777
    else:
        info.mode = 0o755 if info.mode & 0o111 else 0o644
    return info


def write_layer_tar(root, fileobj, epoch=0):
    """Writes the tree under `root` as a tar to `fileobj` (names relative, no leading ./),
    deterministically. Hard links within the tree stay hard links; device nodes, FIFOs and
    sockets are refused (an image does not need them)."""
    root = os.path.abspath(root)
    with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, root)
            # os.walk lists symlinks to directories among the directories and does not
            # follow them: they are entries of this directory, like files.
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            dirnames[:] = [d for d in dirnames if d not in links]
            entries = sorted(filenames + links)
            if rel_dir != ".":
                info = tar.gettarinfo(dirpath, rel_dir)
                tar.addfile(_normalize(info, epoch))
            for name in entries:
                path = os.path.join(dirpath, name)
                arcname = name if rel_dir == "." else rel_dir + "/" + name
                info = tar.gettarinfo(path, arcname)
                if not (info.isreg() or info.issym() or info.islnk()):
                    raise ValueError(f"{path}: not a file, directory or link")
                _normalize(info, epoch)
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)


def _digest_of_file(path):
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest(), os.path.getsize(path)


def build_layer(root, workdir, compress="gzip", cache=None, epoch=0, level=6, log=print):
    """The layer blob for `root`: (path of the blob, its digest, its size, the diff_id,
    the uncompressed size)."""
    started = time.monotonic()
    suffix = ".tar.gz" if compress == "gzip" else ".tar"
    if cache:
        # First pass: only the uncompressed digest, to look the blob up.
        hasher = _HashingWriter()
        write_layer_tar(root, hasher, epoch)
        diff_id = "sha256:" + hasher.sha.hexdigest()
        raw_size = hasher.size
        cached = os.path.join(cache, diff_id.split(":")[1] + suffix)
        if os.path.exists(cached):
            digest, size = _digest_of_file(cached)
            log(f"layer {root}: {raw_size / 1e6:.1f} MB, unchanged ({diff_id[:19]}), "
                f"cached {size / 1e6:.1f} MB blob [{time.monotonic() - started:.1f}s]")
            return cached, digest, size, diff_id, raw_size
    fd, tmp = tempfile.mkstemp(suffix=suffix, dir=cache or workdir)
    os.close(fd)
    with open(tmp, "wb") as out:
        blob = _HashingWriter(out)
        if compress == "gzip":
            with gzip.GzipFile(filename="", mode="wb", fileobj=blob, mtime=0, compresslevel=level) as gz:
                raw = _HashingWriter(gz)
                write_layer_tar(root, raw, epoch)
        else:
            raw = _HashingWriter(blob)
            write_layer_tar(root, raw, epoch)
    diff_id = "sha256:" + raw.sha.hexdigest()
    digest = "sha256:" + blob.sha.hexdigest()
    path = tmp
    if cache:
        path = os.path.join(cache, diff_id.split(":")[1] + suffix)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    log(f"layer {root}: {raw.size / 1e6:.1f} MB, {compress} {blob.size / 1e6:.1f} MB "
        f"[{time.monotonic() - started:.1f}s]")
    return path, digest, blob.size, diff_id, raw.size


def write_image(out, layers, name, entrypoint=None, cmd=None, workdir=None, env=None,
                compress="gzip", cache=None, epoch=None, level=6, log=print):
    """Writes the OCI layout tarball `out` with one layer per directory in `layers` (the
    first is the bottom one). Returns a summary dict with the image id (the config digest)."""
    if epoch is None:
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    if cache:
        os.makedirs(cache, exist_ok=True)
    out_dir = os.path.dirname(os.path.abspath(out))
    media = ("application/vnd.oci.image.layer.v1.tar+gzip" if compress == "gzip"
             else "application/vnd.oci.image.layer.v1.tar")
    with tempfile.TemporaryDirectory(dir=out_dir) as work:
        built = [build_layer(root, work, compress, cache, epoch, level, log) for root in layers]
        container = {}
        if entrypoint is not None:
            container["Entrypoint"] = entrypoint
        if cmd is not None:
            container["Cmd"] = cmd
        if workdir:
            container["WorkingDir"] = workdir
        if env:
            container["Env"] = list(env)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
        config = json.dumps({
            "created": created,
            "architecture": "amd64",
            "os": "linux",
            "config": container,
            "rootfs": {"type": "layers", "diff_ids": [b[3] for b in built]},
            "history": [{"created": created, "created_by": f"oci_layout.py --layer {os.path.basename(os.path.normpath(r))}"}
                        for r in layers],
        }, sort_keys=True, separators=(",", ":")).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": media, "digest": b[1], "size": b[2]} for b in built],
        }, sort_keys=True, separators=(",", ":")).encode()
        manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
        full = repo if "/" in repo else "docker.io/library/" + repo
        index = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": len(manifest),
                "annotations": {"io.containerd.image.name": f"{full}:{tag}",
                                "org.opencontainers.image.ref.name": tag},
            }],
        }, sort_keys=True, separators=(",", ":")).encode()

        tmp_out = os.path.join(work, "image.tar")
        with tarfile.open(tmp_out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            def add_bytes(arcname, data, mode=0o644):
                info = _normalize(tarfile.TarInfo(arcname), epoch)
                info.mode = mode
                if data is None:
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
                else:
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))

            add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            add_bytes("index.json", index)
            add_bytes("blobs", None)
            add_bytes("blobs/sha256", None)
            seen = set()
            for path, digest, size, _, _ in built:
                if digest in seen:
                    continue
                seen.add(digest)
                info = _normalize(tarfile.TarInfo("blobs/sha256/" + digest.split(":")[1]), epoch)
                info.size = size
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            add_bytes("blobs/sha256/" + config_digest.split(":")[1], config)
            add_bytes("blobs/sha256/" + manifest_digest.split(":")[1], manifest)
        os.replace(tmp_out, out)
    return {
        "id": config_digest,
        "name": f"{full}:{tag}",
        "layers": [{"digest": b[1], "size": b[2], "diff_id": b[3], "unpacked": b[4]} for b in built],
        "size": os.path.getsize(out),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--layer", action="append", required=True, help="a root directory (repeat, bottom first)")
    p.add_argument("--name", required=True, help="NAME[:TAG]")
    p.add_argument("--entrypoint", type=json.loads, help='a JSON array, e.g. ["/usr/bin/python3", "-m", "awslambdaric"]')
    p.add_argument("--cmd", type=json.loads, help="a JSON array")
    p.add_argument("--workdir")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeat)")
    p.add_argument("--compress", choices=["gzip", "none"], default="gzip")
    p.add_argument("--level", type=int, default=6, help="gzip level")
    p.add_argument("--cache", help="a directory to keep compressed layers in, by diff_id")
    a = p.parse_args(argv)
    summary = write_image(a.out, a.layer, a.name, a.entrypoint, a.cmd, a.workdir, a.env,
                          a.compress, a.cache, level=a.level,
                          log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
