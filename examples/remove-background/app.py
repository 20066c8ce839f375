"""Removes the background of every image uploaded under uploads/ and writes the cut-out, a PNG
with a transparent background, under processed/ (the seed's background-removal service).

Written for AWS Lambda and S3, unchanged: boto3 with no arguments, `lambda_handler(event,
context)`, the S3 event's URL-encoded keys. Its libraries (OpenCV, NumPy) come from a layer
(build-layer.sh).

The method is OpenCV's GrabCut, seeded with a rectangle a little inside the image's border (the
subject is assumed to be in the middle, the border to be background): a classical
segmentation that needs no model download. The response and each output object's metadata say
which method ran.
"""

import os
import posixpath
import urllib.parse

import boto3
import cv2
import numpy as np

METHOD = "opencv-grabcut"
OUTPUT_PREFIX = os.environ.get("OUTPUT_PREFIX", "processed/")
MARGIN = float(os.environ.get("MARGIN", "0.06"))

s3 = boto3.client("s3")


def remove_background(image):
    """The image as BGRA, alpha 255 on the foreground GrabCut finds and 0 elsewhere."""
    h, w = image.shape[:2]
    mx, my = max(1, int(w * MARGIN)), max(1, int(h * MARGIN))
    rect = (mx, my, w - 2 * mx, h - 2 * my)
    mask = np.zeros((h, w), np.uint8)
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    cv2.grabCut(image, mask, rect, background, foreground, 5, cv2.GC_INIT_WITH_RECT)
    keep = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    out = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    out[:, :, 3] = keep
    return out


def lambda_handler(event, context):
    done = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            print(f"skipped {key}: not an image OpenCV can read")
            continue
        ok, png = cv2.imencode(".png", remove_background(image))
        if not ok:
            raise RuntimeError(f"cannot encode the cut-out of {key} as PNG")
        name = posixpath.splitext(posixpath.basename(key))[0] + ".png"
        out_key = OUTPUT_PREFIX + name
        s3.put_object(
            Bucket=bucket,
            Key=out_key,
            Body=png.tobytes(),
            ContentType="image/png",
            Metadata={"method": METHOD, "source": key},
        )
        print(f"{key} -> {out_key} ({METHOD})")
        done.append({"source": key, "output": out_key})
    return {"method": METHOD, "processed": done}
