"""Writes a one-layer OCI image layout tarball to argv[1] (as `docker save` of Docker 25 or
`skopeo copy oci-archive:` would) holding /var/task/app.txt, and prints {"id": <config sha256>}:
the image lambdalet should report."""
import os
import sys
import tempfile

from oci_from_dir import main

with tempfile.TemporaryDirectory() as root:
    os.makedirs(os.path.join(root, "var/task"), mode=0o755)
    app = os.path.join(root, "var/task/app.txt")
    with open(app, "w") as f:
        f.write("hello from an image\n")
    os.chmod(app, 0o644)
    main(sys.argv[1], root, {"Entrypoint": ["/lambda-entrypoint.sh"], "Cmd": ["app.handler"],
                             "WorkingDir": "/var/task", "Env": ["LAMBDA_TASK_ROOT=/var/task"]},
         "docker.io/library/hello-image:latest")
