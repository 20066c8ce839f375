"""Writes a one-layer OCI image layout tarball to argv[1] (as `docker save` of Docker 25 or
`skopeo copy oci-archive:` would) and prints {"id": <config sha256>}: the image lambdalet
should report."""
import gzip
import hashlib
import io
import json
import sys
import tarfile


def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data, mode in files:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = mode
                t.addfile(info)
            else:
                info.size = len(data)
                info.mode = mode
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


layer = tar_bytes([
    ("var", None, 0o755),
    ("var/task", None, 0o755),
    ("var/task/app.txt", b"hello from an image\n", 0o644),
])
layer_gz = gzip.compress(layer, mtime=0)
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/lambda-entrypoint.sh"], "Cmd": ["app.handler"],
               "WorkingDir": "/var/task", "Env": ["LAMBDA_TASK_ROOT=/var/task"]},
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
                   "annotations": {"org.opencontainers.image.ref.name": "latest", "io.containerd.image.name": "docker.io/library/hello-image:latest"}}],
}).encode()
entries = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', 0o644), ("index.json", index, 0o644), ("blobs", None, 0o755), ("blobs/sha256", None, 0o755)]
for blob in (layer_gz, config, manifest):
    entries.append(("blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob, 0o644))
with open(sys.argv[1], "wb") as f:
    f.write(tar_bytes(entries))
print(json.dumps({"id": hashlib.sha256(config).hexdigest()}))
