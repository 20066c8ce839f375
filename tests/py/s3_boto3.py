"""boto3 against lambdalet's S3 endpoint (argv[1]): every call a program written for S3
makes, with the results as JSON."""
import io
import json
import sys
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig

s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
out = {}
s3.create_bucket(Bucket="boto3-bucket")
s3.put_object(Bucket="boto3-bucket", Key="dir/a.txt", Body=b"alpha", ContentType="text/plain")
got = s3.get_object(Bucket="boto3-bucket", Key="dir/a.txt")
out["get"] = got["Body"].read().decode()
out["content_type"] = got["ContentType"]
out["head_size"] = s3.head_object(Bucket="boto3-bucket", Key="dir/a.txt")["ContentLength"]
s3.copy_object(Bucket="boto3-bucket", Key="dir/b.txt", CopySource={"Bucket": "boto3-bucket", "Key": "dir/a.txt"})
listing = s3.list_objects_v2(Bucket="boto3-bucket", Prefix="dir/")
out["list"] = [o["Key"] for o in listing["Contents"]]
delimited = s3.list_objects_v2(Bucket="boto3-bucket", Delimiter="/")
out["prefixes"] = [p["Prefix"] for p in delimited.get("CommonPrefixes", [])]
# Multipart through the transfer manager (5 MB parts).
data = bytes(range(256)) * (12 * 1024 * 1024 // 256)
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
s3.upload_fileobj(io.BytesIO(data), "boto3-bucket", "big.bin", Config=cfg)
back = io.BytesIO()
s3.download_fileobj("boto3-bucket", "big.bin", back)
out["multipart_same"] = back.getvalue() == data
out["multipart_etag_parts"] = s3.head_object(Bucket="boto3-bucket", Key="big.bin")["ETag"].strip('"').split("-")[-1]
url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto3-bucket", "Key": "dir/a.txt"}, ExpiresIn=60)
out["presigned"] = urllib.request.urlopen(url).read().decode()
s3.delete_objects(Bucket="boto3-bucket", Delete={"Objects": [{"Key": "dir/a.txt"}, {"Key": "dir/b.txt"}]})
out["after_delete"] = [o["Key"] for o in s3.list_objects_v2(Bucket="boto3-bucket").get("Contents", [])]
try:
    s3.get_object(Bucket="boto3-bucket", Key="missing")
except s3.exceptions.NoSuchKey:
    out["missing"] = "NoSuchKey"
print(json.dumps(out))
