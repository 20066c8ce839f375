"""Writes an OCI image layout tarball of one directory, as `docker save` of a `FROM scratch`
image would: argv[1] is the archive to write, argv[2] the root directory (its files become one
gzip layer, owned by root, modes and symbolic links kept), argv[3] the image config's `config`
object as JSON (Entrypoint, Cmd, WorkingDir, Env), argv[4] the image's name. Prints
{"id": <config sha256>}."""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def layer_of(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                path = os.path.join(dirpath, name)
                info = t.gettarinfo(path, arcname=os.path.relpath(path, root))
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 0
                if info.isfile():
                    with open(path, "rb") as f:
                        t.addfile(info, f)
                else:
                    t.addfile(info)
    return buf.getvalue()


def write_blobs(entries, blobs):
    for blob in blobs:
        entries.append(("blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob))


def main(out, root, run, name):
    layer = layer_of(root)
    layer_gz = gzip.compress(layer, mtime=0)
    config = json.dumps({
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine),
        "os": "linux",
        "config": run,
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(layer_gz), "size": len(layer_gz)}],
    }).encode()
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest), "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1], "io.containerd.image.name": name}}],
    }).encode()
    entries = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
    write_blobs(entries, (layer_gz, config, manifest))
    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for arcname, data in entries:
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    print(json.dumps({"id": hashlib.sha256(config).hexdigest()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4])
